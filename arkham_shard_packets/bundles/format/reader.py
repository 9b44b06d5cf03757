"""Unpacking an untrusted archive into a private staging folder, refusing anything that could
escape it or exhaust the server: every entry is checked before a byte is extracted.

Refused: absolute paths, `..`, backslashes and drive letters, links, devices and other
special files, duplicate names (also by case), more entries, more uncompressed bytes or a
higher compression ratio than the limits allow, and truncated or corrupt archives.
"""

from __future__ import annotations

import gzip
import hashlib
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from ...errors import InvalidBundle
from .limits import ImportLimits

CHUNK = 1024 * 1024
RATIO_FLOOR = 1024 * 1024  # below this many bytes, a high ratio is no threat
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"
CORRUPT = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError, ValueError)
TAR_BLOCK = 512
TAR_META_TYPES = (b"L", b"K", b"x", b"g")  # long names and pax headers, read into memory
TAR_META_LIMIT = 64 * 1024


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


@dataclass
class Entry:
    name: str  # checked, relative, "/"-separated
    size: int
    is_dir: bool


class Ledger:
    """Running checks over the entries of one archive."""

    def __init__(self, limits: ImportLimits, archive_size: int) -> None:
        self.limits = limits
        self.archive_size = max(archive_size, 1)
        self.count = 0
        self.total = 0
        self.seen: dict[str, Entry] = {}

    def admit(self, raw_name: str, size: int, is_dir: bool) -> Entry:
        self.count += 1
        if self.count > self.limits.max_entries:
            raise InvalidBundle([f"more than {self.limits.max_entries} entries in the archive"])
        name = checked_name(raw_name)
        key = unicodedata.normalize("NFC", name).casefold()
        earlier = self.seen.get(key)
        if earlier is not None and not (earlier.is_dir and is_dir):
            raise InvalidBundle([f"duplicate entry in the archive: {name}"])
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise InvalidBundle(
                [f"more than {self.limits.max_total_bytes} uncompressed bytes in the archive"]
            )
        if self.total > RATIO_FLOOR and self.total / self.archive_size > self.limits.max_ratio:
            raise InvalidBundle(
                [f"compression ratio above {self.limits.max_ratio:g} (a decompression bomb?)"]
            )
        entry = Entry(name, size, is_dir)
        self.seen[key] = entry
        return entry

    def check_tree(self) -> str:
        """No file may also be a folder; everything sits under one top-level folder."""
        names = {entry.name for entry in self.seen.values()}
        files = {entry.name for entry in self.seen.values() if not entry.is_dir}
        for name in names:
            for parent in PurePosixPath(name).parents:
                if str(parent) in files:
                    raise InvalidBundle([f"{parent} is both a file and a folder in the archive"])
        roots = {PurePosixPath(name).parts[0] for name in names}
        if len(roots) != 1 or not files:
            raise InvalidBundle(["the archive must hold one bag folder at its top level"])
        return roots.pop()


def checked_name(raw: str) -> str:
    if not raw or "\x00" in raw:
        raise InvalidBundle(["an archive entry has an empty or NUL-containing name"])
    if "\\" in raw:
        raise InvalidBundle([f"archive entry with a backslash in its path: {raw!r}"])
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise InvalidBundle([f"archive entry with an absolute path: {raw!r}"])
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidBundle([f"archive entry escaping the bag with '..': {raw!r}"])
    if not parts:
        raise InvalidBundle([f"archive entry with no usable name: {raw!r}"])
    return "/".join(parts)


def _create(dest: Path, name: str) -> BinaryIO:
    target = dest.joinpath(*name.split("/"))
    if not target.resolve().is_relative_to(dest.resolve()):
        raise InvalidBundle([f"archive entry escaping the bag: {name!r}"])
    target.parent.mkdir(parents=True, exist_ok=True)
    return open(target, "xb")


Digests = tuple[int, str, str]  # size, SHA-256, SHA-512 of an extracted file
Progress = Callable[[int], object]


@dataclass
class Extracted:
    root: Path  # the bag's folder
    digests: dict[str, Digests]  # of every file written, by its path inside the bag


def _copy(
    source: IO[bytes], target: BinaryIO, name: str, size: int, progress: Progress | None
) -> Digests:
    """Copy one entry, hashing what is written (so the bag check need not read it again)."""
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    written = 0
    while chunk := source.read(CHUNK):
        written += len(chunk)
        if written > size:
            raise InvalidBundle([f"{name} holds more bytes than its header declares"])
        target.write(chunk)
        sha256.update(chunk)
        sha512.update(chunk)
        if progress is not None:
            progress(len(chunk))
    if written != size:
        raise InvalidBundle([f"{name} is truncated"])
    return written, sha256.hexdigest(), sha512.hexdigest()


def _inside(root: str, digests: dict[str, Digests]) -> dict[str, Digests]:
    prefix = root + "/"
    return {name.removeprefix(prefix): found for name, found in digests.items()}


@contextmanager
def _corrupt_is_invalid(kind: str) -> Iterator[None]:
    try:
        yield
    except InvalidBundle:
        raise
    except CORRUPT as error:
        raise InvalidBundle([f"truncated or corrupt {kind} archive ({error})"]) from None


def zip_entry_count(path: Path) -> int:
    """The entry count the end-of-central-directory record declares, read before zipfile
    builds an object per entry (a tiny record can announce millions)."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65_557))
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise InvalidBundle(["truncated or corrupt zip archive (no central directory)"])
        count = int(struct.unpack("<H", tail[at + 10 : at + 12])[0])
        locator = tail.rfind(b"PK\x06\x07", 0, at)
        if count == 0xFFFF and locator >= 0:
            (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
            handle.seek(offset)
            record = handle.read(56)
            if record[:4] != b"PK\x06\x06" or len(record) < 56:
                raise InvalidBundle(["truncated or corrupt zip archive (bad zip64 record)"])
            count = int(struct.unpack("<Q", record[32:40])[0])
    return count


def extract_zip(
    path: Path, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> Extracted:
    if zip_entry_count(path) > limits.max_entries:
        raise InvalidBundle([f"more than {limits.max_entries} entries in the archive"])
    with _corrupt_is_invalid("zip"), zipfile.ZipFile(path) as archive:
        ledger = Ledger(limits, path.stat().st_size)
        members = []
        for info in archive.infolist():
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no unix type recorded
            if kind == stat.S_IFLNK:
                raise InvalidBundle([f"link in the archive: {info.filename!r}"])
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise InvalidBundle([f"device or special file in the archive: {info.filename!r}"])
            if info.flag_bits & 0x1:
                raise InvalidBundle([f"encrypted entry in the archive: {info.filename!r}"])
            if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(
                info.compress_size, 1
            ):
                raise InvalidBundle(
                    [f"compression ratio above {limits.max_ratio:g} in {info.filename!r}"]
                )
            entry = ledger.admit(info.filename, info.file_size, info.is_dir())
            if not entry.is_dir:
                members.append((info, entry))
        root = ledger.check_tree()
        digests = {}
        for info, entry in members:
            with archive.open(info) as source, _create(dest, entry.name) as target:
                digests[entry.name] = _copy(source, target, entry.name, info.file_size, progress)
    return Extracted(dest / root, _inside(root, digests))


def _tar_entry(member: tarfile.TarInfo) -> tuple[str, int, bool]:
    if member.issym() or member.islnk():
        raise InvalidBundle([f"link in the archive: {member.name!r} -> {member.linkname!r}"])
    if member.ischr() or member.isblk() or member.isfifo():
        raise InvalidBundle([f"device or special file in the archive: {member.name!r}"])
    if not (member.isreg() or member.isdir()):
        raise InvalidBundle([f"unsupported entry type in the archive: {member.name!r}"])
    return member.name, member.size, member.isdir()


def _tar_size(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # base-256
        return int.from_bytes(field[1:], "big")
    digits = field.replace(b"\x00", b" ").strip()
    return int(digits or b"0", 8)


def prescan_tar(path: Path, limits: ImportLimits) -> None:
    """Walk the raw tar headers before tarfile does: tarfile reads long-name and pax headers
    whole into memory, so their sizes are bounded here, and so is the decompressed total."""
    budget = limits.max_total_bytes + limits.max_entries * 3 * TAR_BLOCK
    seen = 0
    with gzip.open(path, "rb") as stream:
        while True:
            header = stream.read(TAR_BLOCK)
            if len(header) < TAR_BLOCK:
                raise InvalidBundle(["truncated or corrupt tar.gz archive (short header)"])
            if header == bytes(TAR_BLOCK):
                return
            size = _tar_size(header[124:136])
            if header[156:157] in TAR_META_TYPES and size > TAR_META_LIMIT:
                raise InvalidBundle(["a tar long-name or pax header is larger than 64 KiB"])
            remaining = -(-size // TAR_BLOCK) * TAR_BLOCK
            seen += TAR_BLOCK + remaining
            if seen > budget:
                raise InvalidBundle(
                    [f"more than {limits.max_total_bytes} uncompressed bytes in the archive"]
                )
            if seen > RATIO_FLOOR and seen / max(path.stat().st_size, 1) > limits.max_ratio:
                raise InvalidBundle(
                    [f"compression ratio above {limits.max_ratio:g} (a decompression bomb?)"]
                )
            while remaining:
                chunk = stream.read(min(remaining, CHUNK))
                if not chunk:
                    raise InvalidBundle(["truncated or corrupt tar.gz archive (short entry)"])
                remaining -= len(chunk)


def extract_tar_gz(
    path: Path, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> Extracted:
    with _corrupt_is_invalid("tar.gz"):
        prescan_tar(path, limits)
        ledger = Ledger(limits, path.stat().st_size)
        with tarfile.open(path, mode="r:gz") as archive:  # first pass: headers only
            while (member := archive.next()) is not None:
                ledger.admit(*_tar_entry(member))
        root = ledger.check_tree()
        digests = {}
        with tarfile.open(path, mode="r:gz") as archive:
            while (member := archive.next()) is not None:
                name, size, is_dir = _tar_entry(member)
                if is_dir:
                    continue
                source = archive.extractfile(member)
                if source is None:
                    raise InvalidBundle([f"unreadable entry in the archive: {name!r}"])
                name = checked_name(name)
                with source, _create(dest, name) as target:
                    digests[name] = _copy(source, target, name, size, progress)
    return Extracted(dest / root, _inside(root, digests))


def extract(
    path: Path, kind: str, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> Extracted:
    """Unpack into `dest` (an empty private folder): the bag's root folder and the digests of
    every file written into it."""
    if kind == "zip":
        return extract_zip(path, dest, limits, progress)
    return extract_tar_gz(path, dest, limits, progress)
