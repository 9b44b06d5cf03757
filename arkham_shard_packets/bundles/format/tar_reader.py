"""Unpacking an untrusted tar.gz: decompressed once, extracted in the same pass as its headers
are checked; links, devices, other special files and sparse files refused, and no part of
the stream (long-name and pax headers, padding) expands without bound."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path
from typing import Any, BinaryIO

from ...errors import InvalidBundle
from .budget import Budget, check_free
from .entries import Ledger
from .extraction import Extracted, corrupt_is_invalid, extract_one, in_bag
from .limits import ImportLimits
from .progress import Progress

TAR_BLOCK = 512
TAR_META_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
TAR_META_LIMIT = 64 * 1024


def _tar_entry(member: tarfile.TarInfo) -> tuple[str, int, bool]:
    if member.issym() or member.islnk():
        raise InvalidBundle([f"link in the archive: {member.name!r} -> {member.linkname!r}"])
    if member.ischr() or member.isblk() or member.isfifo():
        raise InvalidBundle([f"device or special file in the archive: {member.name!r}"])
    if not (member.isreg() or member.isdir()):
        raise InvalidBundle([f"unsupported entry type in the archive: {member.name!r}"])
    return member.name, member.size, member.isdir()


class BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads a long-name or pax header's body whole into memory, at the size its
    header states: that size is bounded before it is read. Sparse files are refused."""

    def _proc_member(self, archive: Any) -> Any:
        if self.type in TAR_META_TYPES and self.size > TAR_META_LIMIT:
            raise InvalidBundle(["a tar long-name or pax header is larger than 64 KiB"])
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise InvalidBundle([f"sparse file in the archive: {self.name!r}"])
        return super()._proc_member(archive)  # type: ignore[misc]


class CountedStream:
    """The decompressed stream tarfile reads from: every byte it asks for is counted against
    the archive's budget of headers, padding and contents, so no part of it (pax headers and
    padding included) expands without bound."""

    def __init__(self, stream: gzip.GzipFile, budget: int, limit: int) -> None:
        self.stream = stream
        self.budget = budget
        self.limit = limit
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.read_bytes += len(data)
        if self.read_bytes > self.budget:
            raise InvalidBundle([f"more than {self.limit} expanded bytes in the archive"])
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0 and offset > self.stream.tell():
            self.read_bytes += offset - self.stream.tell()
            if self.read_bytes > self.budget:
                raise InvalidBundle([f"more than {self.limit} expanded bytes in the archive"])
        return self.stream.seek(offset, whence)

    def tell(self) -> int:
        return self.stream.tell()


class _ReadSoFar:
    """Progress through a compressed file, whose expanded size is known only at its end:
    how far into the file the decompressor has read."""

    def __init__(self, raw: BinaryIO, total: int, progress: Progress | None) -> None:
        self.raw = raw
        self.total = total
        self.progress = progress
        self.reported = 0
        if progress is not None:
            progress.expect(total)

    def __call__(self, done: int) -> None:
        self.report(self.raw.tell())

    def report(self, position: int) -> None:
        if self.progress is not None and position > self.reported:
            self.progress(position - self.reported)
            self.reported = position


def extract_tar_gz(
    path: Path, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> Extracted:
    """One pass: each header is checked, then its entry written to `dest` (the caller's
    private folder, removed whole on any refusal); the tree is checked at the end."""
    budget = Budget(limits, dest)
    ledger = Ledger(limits)
    digests = {}
    check_free(dest, 0, limits)
    allowance = limits.max_total_bytes + (limits.max_entries + 2) * 3 * TAR_BLOCK
    with (
        corrupt_is_invalid("tar.gz"),
        open(path, "rb") as raw,
        gzip.GzipFile(fileobj=raw, mode="rb") as stream,
        tarfile.TarFile(
            fileobj=CountedStream(stream, allowance, limits.max_total_bytes),  # type: ignore[arg-type]
            tarinfo=BoundedTarInfo,
        ) as archive,
    ):
        read = _ReadSoFar(raw, path.stat().st_size, progress)
        while (member := archive.next()) is not None:
            entry = ledger.admit(*_tar_entry(member))
            if entry.is_dir:
                continue
            source = archive.extractfile(member)
            if source is None:
                raise InvalidBundle([f"unreadable entry in the archive: {entry.name!r}"])
            digests[entry.name] = extract_one(source, dest, entry, budget, read)
        read.report(read.total)
    root = ledger.check_tree()
    return Extracted(dest / root, in_bag(root, digests))
