"""A folder as `push` sends it: its files in order, each item's content id and title from the
file's path, a file's SHA-256 read in chunks, and the reader an upload sends from."""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .http import Failed

CHUNK = 1 << 20
CONTENT_ID_MAX = 255  # as the server bounds an item's content_id and title
TITLE_MAX = 500
DIGEST_SHOWN = 16  # hex digits of the path's digest that end a shortened content id


@dataclass(frozen=True)
class LocalFile:
    path: Path
    relative: str  # its path under the folder, `/`-separated
    size: int

    @property
    def content_id(self) -> str:
        """The path itself; a path too long for a content id keeps its start and ends with a
        digest of the whole path, so each file still has an id of its own."""
        text = self.relative.strip()
        if len(text) <= CONTENT_ID_MAX:
            return text
        digest = hashlib.sha256(text.encode()).hexdigest()[:DIGEST_SHOWN]
        return f"{text[: CONTENT_ID_MAX - DIGEST_SHOWN - 1]}~{digest}"

    @property
    def title(self) -> str:
        return self.relative.strip()[:TITLE_MAX]

    @property
    def media_type(self) -> str:
        guessed, _ = mimetypes.guess_type(self.path.name)
        return guessed or "application/octet-stream"


def readable(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def folder_files(folder: Path) -> tuple[list[LocalFile], list[str]]:
    """Every regular file under `folder`, by path; and what was left out, with why (symbolic
    links are not followed, and only regular files are sent). An unreadable folder raises
    OSError."""
    found: list[LocalFile] = []
    left_out: list[str] = []
    pending = [(folder, "")]
    while pending:
        where, prefix = pending.pop()
        with os.scandir(where) as entries:
            for entry in entries:
                relative = prefix + readable(entry.name)
                if entry.is_symlink():
                    left_out.append(f"{relative}: a symbolic link, not followed")
                elif entry.is_dir(follow_symlinks=False):
                    pending.append((Path(entry.path), relative + "/"))
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    found.append(LocalFile(Path(entry.path), relative, size))
                else:
                    left_out.append(f"{relative}: not a regular file")
    return sorted(found, key=lambda file: file.relative), sorted(left_out)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Changed(Failed):
    """A file changed while it was sent."""


class Sending:
    """A file as an upload reads it: at most the size it had when opened (what the request
    declared), hashed and counted as it goes."""

    def __init__(self, path: Path, progress: Callable[[int], None]) -> None:
        self.file = open(path, "rb")  # noqa: SIM115 - closed by close(), after the upload
        self.size = os.fstat(self.file.fileno()).st_size
        self.progress = progress
        self.digest = hashlib.sha256()
        self.sent = 0

    def tell(self) -> int:
        return self.sent

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Only as httpx asks: the end (the size the request declares), then the start."""
        if (offset, whence) == (0, os.SEEK_END):
            return self.size
        if (offset, whence) != (0, os.SEEK_SET):
            raise OSError("an upload is read from its start only")
        self.file.seek(0)
        self.digest = hashlib.sha256()
        self.sent = 0
        return 0

    def read(self, size: int = -1) -> bytes:
        left = self.size - self.sent
        chunk = self.file.read(left if size < 0 else min(size, left))
        self.digest.update(chunk)
        self.sent += len(chunk)
        self.progress(len(chunk))
        return chunk

    def check_whole(self, relative: str) -> None:
        """Raises Changed unless exactly the file's bytes were sent."""
        now = os.fstat(self.file.fileno()).st_size
        if self.sent != self.size or now != self.size or self.file.read(1):
            raise Changed(f"{relative} changed while it was sent: push again to send it whole")

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Sending:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
