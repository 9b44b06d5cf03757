"""Deterministic, streaming archive writers: the same entries at the same time give the same
bytes. Entries are written in the order given, with fixed times, modes and owners; data is
copied in chunks from file objects, never held whole."""

from __future__ import annotations

import hashlib
import stat
import struct
import tarfile
import zipfile
import zlib
from datetime import datetime, timezone
from typing import IO, BinaryIO, Protocol

from . import deflate
from .deflate import ParallelDeflate

CHUNK = 256 * 1024
SAMPLE = 64 * 1024
FILE_MODE = 0o644
COMPRESSLEVEL = 6


class Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self, mode: int = ..., /) -> bytes: ...


class HashingReader:
    """Reads from a file object, counting bytes and hashing them with SHA-256 and SHA-512."""

    def __init__(self, source: Reader) -> None:
        self.source = source
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._sha512 = hashlib.sha512()

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.source.read(CHUNK if size is None or size < 0 else min(size, CHUNK))
        self.size += len(chunk)
        self._sha256.update(chunk)
        self._sha512.update(chunk)
        return chunk

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def sha512(self) -> str:
        return self._sha512.hexdigest()


def compresses(sample: bytes) -> bool:
    """Deflate only what deflates: already-compressed payloads (images, PDFs, zips) are
    stored. Decided from the content, so the choice is the same on every export."""
    if len(sample) < 512:
        return True
    return len(zlib.compress(sample, 1)) < 0.9 * len(sample)


class Archive(Protocol):
    def add(self, name: str, size: int, source: Reader, compress: bool) -> None: ...

    def close(self) -> None: ...


ZLIB_COMPRESSOR = type(zlib.compressobj())


def deflate_on_every_core(entry: IO[bytes], compressor: ParallelDeflate) -> None:
    """zipfile takes no compressor of ours: its entry writer's own (a private attribute) is
    swapped for one that deflates on every core; the bytes form the same kind of stream. If a
    Python release renames or replaces it, exporting stops here rather than run on one core."""
    current = getattr(entry, "_compressor", None)
    if not isinstance(current, ZLIB_COMPRESSOR):
        raise RuntimeError(
            "zipfile's entry writer no longer keeps a zlib compressor in _compressor "
            f"(found {type(current).__name__}); the parallel deflate can't be installed"
        )
    entry._compressor = compressor  # type: ignore[attr-defined]


class ZipArchive:
    def __init__(self, out: BinaryIO, root: str, moment: datetime) -> None:
        self.zip = zipfile.ZipFile(out, "w", allowZip64=True)
        self.threads = deflate.pool()
        self.root = root
        utc = moment.astimezone(timezone.utc)
        self.date_time = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)

    def add(self, name: str, size: int, source: Reader, compress: bool) -> None:
        info = zipfile.ZipInfo(f"{self.root}/{name}", date_time=self.date_time)
        info.create_system = 3  # unix, so the mode below is read
        info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.file_size = size
        with self.zip.open(info, "w") as entry:
            if compress:
                deflate_on_every_core(entry, ParallelDeflate(COMPRESSLEVEL, self.threads))
            while chunk := source.read(CHUNK):
                entry.write(chunk)

    def close(self) -> None:
        self.zip.close()
        self.threads.shutdown()


class GzipMembers:
    """A gzip file written as a series of members, each deflated at COMPRESSLEVEL or, for
    stretches that do not compress, kept in stored blocks (level 0): no time is spent
    deflating what would not shrink. RFC 1952 allows any number of members and gzip, tar and
    Python's gzip module read them as one stream. Each header carries the fixed time and no
    name, so the same calls give the same bytes."""

    def __init__(self, out: BinaryIO, mtime: int) -> None:
        self.out = out
        self.threads = deflate.pool()
        self.header = b"\x1f\x8b\x08\x00" + struct.pack("<I", mtime) + b"\x00\xff"
        self.level: int | None = None
        self.deflate: Compressor = zlib.compressobj(0)
        self.crc = 0
        self.size = 0
        self.position = 0  # of the uncompressed stream, which tarfile asks for

    def deflating(self, compress: bool) -> None:
        """Start a member at the level `compress` calls for, unless the current one is it."""
        level = COMPRESSLEVEL if compress else 0
        if level == self.level:
            return
        self._end_member()
        self.level = level
        if level:
            self.deflate = ParallelDeflate(level, self.threads)
        else:
            self.deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.crc = self.size = 0
        self.out.write(self.header)

    def write(self, data: bytes) -> int:
        if self.level is None:
            self.deflating(True)
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self.position += len(data)
        self.out.write(self.deflate.compress(data))
        return len(data)

    def tell(self) -> int:
        return self.position

    def _end_member(self) -> None:
        if self.level is not None:
            self.out.write(self.deflate.flush())
            self.out.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))
            self.level = None

    def close(self) -> None:
        self._end_member()
        self.threads.shutdown()


class TarGzArchive:
    def __init__(self, out: BinaryIO, root: str, moment: datetime) -> None:
        self.mtime = int(moment.timestamp())
        self.gzip = GzipMembers(out, self.mtime)
        self.tar = tarfile.TarFile(
            fileobj=self.gzip,  # type: ignore[arg-type]
            mode="w",
            format=tarfile.PAX_FORMAT,
            copybufsize=CHUNK,
        )
        self.root = root

    def add(self, name: str, size: int, source: Reader, compress: bool) -> None:
        info = tarfile.TarInfo(f"{self.root}/{name}")
        info.size = size
        info.mtime = self.mtime
        info.mode = FILE_MODE
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.type = tarfile.REGTYPE
        self.gzip.deflating(compress)
        self.tar.addfile(info, source)

    def close(self) -> None:
        self.tar.close()
        self.gzip.close()


def open_archive(kind: str, out: BinaryIO, root: str, moment: datetime) -> Archive:
    if kind == "zip":
        return ZipArchive(out, root, moment)
    if kind == "tar.gz":
        return TarGzArchive(out, root, moment)
    raise ValueError(f"not an archive format: {kind}")
