"""The content-addressed file store: one file per SHA-256 under `<data-dir>/files/<aa>/<sha256>`.

Bytes arrive as a stream and are spooled to a temporary file while they are hashed and
counted (never held whole in memory); a spooled file enters the store by fsync and an atomic
rename, so a reader sees either no file or the whole file. Opening, fsync, renaming and
deleting run in a thread; `spool` writes each chunk from the event loop as it arrives (one
buffered write of at most a chunk). `adopt` is for callers already in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .file_modes import PRIVATE, FileModes, create_file

CHUNK = 1024 * 1024
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class SpoolTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass
class SpooledFile:
    """A temporary file with the size and SHA-256 of what was written to it."""

    path: Path
    size: int
    sha256: str

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class _Spool:
    def __init__(self, directory: Path, limit: int) -> None:
        PRIVATE.make_folder(directory)
        self.path = directory / f".spool-{uuid.uuid4().hex}"
        self.handle: BinaryIO = create_file(self.path)
        self.digest = hashlib.sha256()
        self.size = 0
        self.limit = limit

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise SpoolTooLarge(self.limit)
        self.digest.update(chunk)
        self.handle.write(chunk)

    def finish(self) -> SpooledFile:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        return SpooledFile(self.path, self.size, self.digest.hexdigest())

    def abort(self) -> None:
        self.handle.close()
        self.path.unlink(missing_ok=True)


async def spool(
    chunks: AsyncIterable[bytes],
    directory: Path,
    limit: int,
    progress: Callable[[int], object] | None = None,
) -> SpooledFile:
    """Write a stream to a new temporary file in `directory`; nothing is left on any error."""
    sink = await asyncio.to_thread(_Spool, directory, limit)
    try:
        async for chunk in chunks:
            sink.write(chunk)
            if progress is not None:
                progress(len(chunk))
        return await asyncio.to_thread(sink.finish)
    except BaseException:
        sink.abort()
        raise


def spool_file(source: Path, directory: Path, limit: int) -> SpooledFile:
    """The synchronous twin of `spool`, for a file already on disk."""
    sink = _Spool(directory, limit)
    try:
        with open(source, "rb") as handle:
            while chunk := handle.read(CHUNK):
                sink.write(chunk)
        return sink.finish()
    except BaseException:
        sink.abort()
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


class FileStore:
    def __init__(self, root: Path, modes: FileModes = PRIVATE) -> None:
        self.root = root
        self.modes = modes

    @property
    def staging(self) -> Path:
        """Spool here: the same filesystem as the store, so entering it is a rename."""
        return self.root / ".staging"

    def staging_folder(self) -> Path:
        """The staging folder, made (with the store's folders) when missing: at start, so a
        spool (which makes a missing folder private) finds it."""
        return self.modes.make_folder(self.staging)

    def path_of(self, sha256: str) -> Path:
        if not SHA256_HEX.match(sha256):
            raise ValueError(f"not a SHA-256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    async def spool(
        self,
        chunks: AsyncIterable[bytes],
        limit: int,
        progress: Callable[[int], object] | None = None,
    ) -> SpooledFile:
        return await spool(chunks, self.staging, limit, progress)

    def adopt(self, source: Path, sha256: str) -> SpooledFile:
        """Move a file the caller wrote and hashed itself (in a private folder) into staging
        instead of copying it; a copy, hashed anew, when it is on another filesystem."""
        target = self.staging_folder() / f".spool-{uuid.uuid4().hex}"
        try:
            os.replace(source, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            return spool_file(source, self.staging, source.stat().st_size)
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())
            size = os.fstat(handle.fileno()).st_size
        return SpooledFile(target, size, sha256)

    async def place(self, spooled: SpooledFile) -> None:
        """Move a spooled file into the store under its digest (replacing an equal copy)."""
        await asyncio.to_thread(self._place, spooled)

    def _place(self, spooled: SpooledFile) -> None:
        target = self.path_of(spooled.sha256)
        self.modes.make_folder(target.parent)
        self.modes.seal(spooled.path)
        os.replace(spooled.path, target)
        _fsync_dir(target.parent)

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_of(sha256), "rb")

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self._delete, sha256)

    def _delete(self, sha256: str) -> None:
        target = self.path_of(sha256)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            _fsync_dir(target.parent)

    async def intact(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their name."""
        try:
            _, digest = await asyncio.to_thread(hash_file, self.path_of(sha256))
        except FileNotFoundError:
            return False
        return digest == sha256
