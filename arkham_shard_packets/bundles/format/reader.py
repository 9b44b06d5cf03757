"""Unpacking an untrusted archive into a private staging folder, refusing anything that could
escape it or exhaust the server.

Refused: absolute paths, `..`, backslashes and drive letters, links, devices and other
special files, duplicate names (also by case), more entries than the limit, zip entries
compressed other than stored or deflated, and truncated or corrupt archives. A zip's central
directory is walked record by record before `zipfile` reads it. The bytes written are counted
as they are written, against the limit of expanded bytes and, once bag-info.txt has been
read, against the bag's own Payload-Oxum; the disk's free space is watched as they go.
A tar.gz is decompressed once, extracted in the same pass as its headers are checked.

The parts: `entries` checks each entry's name and the tree, `budget` counts what is written,
`extraction` writes one entry, `zip_reader` and `tar_reader` walk their archives.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InvalidBundle
from .extraction import Extracted
from .limits import ImportLimits
from .progress import Progress
from .tar_reader import extract_tar_gz
from .zip_reader import extract_zip

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"


def detect_format(path: Path) -> str:
    """zip, tar.gz or json, from the first bytes, never from the name."""
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(GZIP_MAGIC):
        return "tar.gz"
    if head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"{"):
        return "json"
    if not head:
        raise InvalidBundle(["the file is empty"])
    raise InvalidBundle(["not a zip, tar.gz or json bundle (unrecognized content)"])


def extract(
    path: Path, kind: str, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> Extracted:
    """Unpack into `dest` (an empty private folder): the bag's root folder and the digests of
    every file written into it."""
    if kind == "zip":
        return extract_zip(path, dest, limits, progress)
    return extract_tar_gz(path, dest, limits, progress)
