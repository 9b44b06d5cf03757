"""Spooling: bytes that arrive as a stream are written to a temporary file on this machine while
they are hashed and counted (never held whole in memory), before they enter the store
(core/store.py) or are read as a bundle. `spool` writes each chunk from the event loop as it
arrives (one buffered write of at most a chunk); opening, fsync and closing run in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .file_modes import PRIVATE, create_file

CHUNK = 1024 * 1024


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


def hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()
