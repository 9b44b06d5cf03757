"""The store of finished bytes: attached files and export bundles, each under a key.

Keys are relative, `/`-separated and the same on every backend: `files/<aa>/<sha256>` for an
attached file (content-addressed: its key is its digest) and `exports/<name>` for an export's
bundle. The local backend keeps a key at that place in the data directory (the layout the shard
has always had); the S3 backend under the bucket's prefix. Scratch (spooled uploads, an export
being assembled, an import being extracted) never enters the store: it stays on the machine
that does the work (core/spool.py). The backends are in `stores/`; the services see only this.

An object enters the store whole or not at all, from a file on this machine (`put`); a reader
gets its bytes as a stream of chunks (`open`), all of them or a range, never the whole object in
memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ..errors import RangeNotSatisfiable
from .byte_ranges import Span, Wanted
from .file_modes import PRIVATE, FileModes

CHUNK = 256 * 1024  # what a reader yields at a time
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
BLOBS = "files/"
EXPORTS = "exports/"


class ObjectMissing(Exception):
    """No object under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key}")
        self.key = key


class StoreUnusable(Exception):
    """The store can't be used (checked at start): one line saying where and why."""


def blob_key(sha256: str) -> str:
    """An attached file's key: its SHA-256, under a folder of its first two hex digits."""
    if not SHA256_HEX.match(sha256):
        raise ValueError(f"not a SHA-256 digest: {sha256!r}")
    return f"{BLOBS}{sha256[:2]}/{sha256}"


def blob_digest(key: str) -> str | None:
    """The digest a key names when it is an attached file's key (`files/<aa>/<sha256>`)."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != BLOBS or not SHA256_HEX.match(parts[2]):
        return None
    return parts[2] if parts[1] == parts[2][:2] else None


def export_key(name: str) -> str:
    """An export bundle's key: its file name under `exports/`."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"not an export's file name: {name!r}")
    return f"{EXPORTS}{name}"


@dataclass(frozen=True)
class StoredObject:
    """What listing a prefix tells of each object."""

    key: str
    size: int
    modified: float  # when it was stored, in seconds since the epoch


class Reader(Protocol):
    """An object opened for reading: `size` is the whole object's; `chunks()` yields the bytes
    asked for (all, or the range given to `open`) once, and closes the object after the last or
    when the iteration stops. `aclose()` closes it when the chunks are never read."""

    size: int

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...

    def close(self) -> None:
        """As `aclose`, where no await is possible (a ByteSource's `close`)."""
        ...


class Store(Protocol):
    backend: str  # "local" or "s3"
    modes: FileModes  # who may read the files it (and the scratch beside it) makes here

    @property
    def location(self) -> str:
        """Where the objects are, as the banner and errors show it."""
        ...

    @property
    def staging(self) -> Path:
        """Where uploads are spooled on this machine before they are put."""
        ...

    async def check(self) -> None:
        """At start: the store can be written, read and deleted from, or StoreUnusable."""
        ...

    async def reachable(self) -> bool:
        """For a health check: quick, and never raises."""
        ...

    async def put(self, key: str, source: Path) -> None:
        """Store the file at `source` (on this machine, written and synced) under `key`,
        replacing what was there; the file stays where it is, for the caller to remove. Large
        files are sent in parts, with memory flat."""
        ...

    async def open(self, key: str, start: int = 0, end: int | None = None) -> Reader:
        """The object's bytes from `start` up to `end` (exclusive; None: its end), or
        ObjectMissing."""
        ...

    async def size(self, key: str) -> int | None:
        """The object's size, None when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Gone, if it was there."""
        ...

    def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        """Every object whose key starts with `prefix`."""
        ...

    async def abort_incomplete(self, prefix: str, cutoff: float) -> int:
        """Abort the multipart uploads to keys under `prefix` that nothing added to since
        `cutoff` (seconds since the epoch): those a killed process left. How many; 0 on a
        store without them."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object's own file when this machine holds it (read in place), else None."""
        ...

    async def sha256(self, key: str) -> str | None:
        """The SHA-256 of the stored bytes, None when there is no object."""
        ...

    async def close(self) -> None: ...


async def exists(store: Store, key: str) -> bool:
    return await store.size(key) is not None


async def read_range(store: Store, key: str, start: int, end: int) -> AsyncIterator[bytes]:
    """The bytes from `start` up to `end` (exclusive), as chunks."""
    reader = await store.open(key, start, end)
    async for chunk in reader.chunks():
        yield chunk


async def sha256_of(reader: Reader) -> str:
    digest = hashlib.sha256()
    async for chunk in reader.chunks():
        digest.update(chunk)
    return digest.hexdigest()


async def download(store: Store, key: str, target: Path, modes: FileModes = PRIVATE) -> int:
    """The object copied into a new file at `target` on this machine (scratch), chunk by
    chunk; its size. ObjectMissing when there is none."""
    reader = await store.open(key)
    try:
        handle = await asyncio.to_thread(modes.create, target)
    except BaseException:
        await reader.aclose()
        raise
    written = 0
    try:
        with handle:
            async for chunk in reader.chunks():
                await asyncio.to_thread(handle.write, chunk)
                written += len(chunk)
    except BaseException:
        await reader.aclose()
        await asyncio.to_thread(target.unlink, True)
        raise
    return written


class FileReader:
    """A file on this machine opened for reading, as a Reader: a stored object of the local
    backend, or a bundle made for one answer (its file already removed)."""

    def __init__(self, handle: BinaryIO, size: int, start: int = 0, end: int | None = None):
        self.handle = handle
        self.size = size
        self.start = min(start, size)
        self.end = size if end is None else max(self.start, min(end, size))

    @classmethod
    async def open(cls, path: Path, start: int = 0, end: int | None = None) -> FileReader:
        def opened() -> FileReader:
            handle = open(path, "rb")  # noqa: SIM115 (the reader closes it)
            return cls(handle, os.fstat(handle.fileno()).st_size, start, end)

        return await asyncio.to_thread(opened)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            left = self.end - self.start
            if left and self.start:
                await asyncio.to_thread(self.handle.seek, self.start)
            while left > 0:
                chunk = await asyncio.to_thread(self.handle.read, min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            self.handle.close()

    @property
    def closed(self) -> bool:
        return self.handle.closed

    async def aclose(self) -> None:
        self.handle.close()

    def close(self) -> None:
        self.handle.close()


class ReaderSource:
    """A Reader opened for the bytes a download answers, as its ByteSource
    (core/byte_ranges.py): `read` streams exactly those bytes, one ranged read of the store."""

    def __init__(self, reader: Reader, start: int, length: int) -> None:
        self.reader = reader
        self.start = start
        self.length = length

    @property
    def size(self) -> int:
        return self.reader.size

    async def read(self, start: int, length: int) -> AsyncIterator[bytes]:
        if (start, length) != (self.start, self.length):
            raise ValueError(f"opened for bytes {self.start}+{self.length}, not {start}+{length}")
        async for chunk in self.reader.chunks():
            yield chunk

    def close(self) -> None:
        self.reader.close()


async def open_part(
    opener: Callable[[int, int | None], Awaitable[Reader]],
    size: int,
    wanted: Wanted,
    etag: str | None,
) -> tuple[ReaderSource, Span | None]:
    """An object of `size` bytes opened (`opener(start, end)`: a Store's `open` for a key) for
    the part `wanted` asks for (None: the whole), so that an object store sends only those
    bytes. A missing object says so (ObjectMissing, FileNotFoundError) before a range of none
    of its bytes is 416."""
    try:
        span = wanted.span(size, etag)
    except RangeNotSatisfiable:
        await (await opener(0, 0)).aclose()  # missing: that is the answer, not the 416
        raise
    start, length = (0, size) if span is None else (span.start, span.length)
    reader = await opener(start, None if span is None else start + length)
    return ReaderSource(reader, start, length if span is not None else reader.size), span
