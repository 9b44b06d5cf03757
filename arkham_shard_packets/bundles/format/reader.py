"""Unpacking an untrusted archive into a private staging folder, refusing anything that could
escape it or exhaust the server.

Refused: absolute paths, `..`, backslashes and drive letters, links, devices and other
special files, duplicate names (also by case), more entries than the limit, zip entries
compressed other than stored or deflated, and truncated or corrupt archives. A zip's central
directory is walked record by record before `zipfile` reads it. The bytes written are counted
as they are written, against the limit of expanded bytes and, once bag-info.txt has been
read, against the bag's own Payload-Oxum; the disk's free space is watched as they go.
A tar.gz is decompressed once, extracted in the same pass as its headers are checked.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import shutil
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
from typing import IO, Any, BinaryIO

from ...errors import InsufficientStorage, InvalidBundle
from .bag import parse_bag_info
from .limits import TAG_BYTES, ImportLimits
from .progress import Progress

CHUNK = 1024 * 1024
DISK_CHECK = 64 * 1024 * 1024  # free space is looked at again after this many bytes
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"
CORRUPT = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    ValueError,
    NotImplementedError,
)
TAR_BLOCK = 512
TAR_META_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
TAR_META_LIMIT = 64 * 1024
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
ZIP_DIRECTORY_RECORD = struct.Struct("<4s6H3L5H2L")  # 46 bytes, APPNOTE 4.3.12
ZIP_NAME_MAX = 1024
ZIP_EXTRA_MAX = 1024  # extra field and comment together
ZIP_RECORD_MAX = ZIP_DIRECTORY_RECORD.size + ZIP_NAME_MAX + ZIP_EXTRA_MAX


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


def insufficient_storage() -> InsufficientStorage:
    return InsufficientStorage("not enough free disk space to import this bundle")


def check_free(folder: Path, needed: int, limits: ImportLimits) -> None:
    if shutil.disk_usage(folder).free - needed < limits.min_free_bytes:
        raise insufficient_storage()


@dataclass
class Entry:
    name: str  # checked, relative, "/"-separated
    size: int
    is_dir: bool


class Ledger:
    """Running checks over the entries of one archive, as they come."""

    def __init__(self, limits: ImportLimits) -> None:
        self.limits = limits
        self.count = 0
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


class Budget:
    """The bytes an extraction writes, counted as they are written: all of them against the
    limit of expanded bytes, the payload (under data/) also against the bag's Payload-Oxum
    once bag-info.txt has been read, the rest against a fixed allowance for tag files; and
    the disk's free space, looked at every DISK_CHECK bytes."""

    def __init__(self, limits: ImportLimits, folder: Path) -> None:
        self.limits = limits
        self.folder = folder
        self.total = 0
        self.payload = 0
        self.payload_files = 0
        self.tags = 0
        self.oxum: tuple[int, int] | None = None
        self.unchecked = 0

    def start_file(self, payload: bool) -> None:
        if payload:
            self.payload_files += 1
            self._check_oxum()

    def spend(self, size: int, payload: bool) -> None:
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise InvalidBundle(
                [f"more than {self.limits.max_total_bytes} expanded bytes in the archive"]
            )
        if payload:
            self.payload += size
            self._check_oxum()
        else:
            self.tags += size
            if self.tags > TAG_BYTES:
                raise InvalidBundle([f"more than {TAG_BYTES} bytes of tag files in the bag"])
        self.unchecked += size
        if self.unchecked >= DISK_CHECK:
            self.unchecked = 0
            check_free(self.folder, 0, self.limits)

    def read_bag_info(self, path: Path) -> None:
        """The bag's own Payload-Oxum (octets.streams) bounds the rest of its payload."""
        try:
            text = path.read_text(encoding="utf-8")
            octets, _, streams = parse_bag_info(text).get("Payload-Oxum", [""])[0].partition(".")
            self.oxum = (int(octets), int(streams))
        except (UnicodeDecodeError, ValueError):
            return  # the bag check reports a missing or malformed Payload-Oxum
        self._check_oxum()

    def _check_oxum(self) -> None:
        if self.oxum is None:
            return
        octets, streams = self.oxum
        if self.payload > octets or self.payload_files > streams:
            raise InvalidBundle(
                [f"the payload is larger than the bag's Payload-Oxum {octets}.{streams}"]
            )


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


def _in_payload(name: str) -> bool:
    parts = name.split("/")
    return len(parts) > 2 and parts[1] == "data"


def _is_bag_info(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[1] == "bag-info.txt"


def _create(dest: Path, name: str) -> BinaryIO:
    target = dest.joinpath(*name.split("/"))
    if not target.resolve().is_relative_to(dest.resolve()):
        raise InvalidBundle([f"archive entry escaping the bag: {name!r}"])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return open(target, "xb")
    except (FileExistsError, IsADirectoryError, NotADirectoryError):
        raise InvalidBundle([f"{name} is both a file and a folder in the archive"]) from None


Digests = tuple[int, str, str]  # size, SHA-256, SHA-512 of an extracted file


@dataclass
class Extracted:
    root: Path  # the bag's folder
    digests: dict[str, Digests]  # of every file written, by its path inside the bag


Step = Callable[[int], object]


def _copy(
    source: IO[bytes],
    target: BinaryIO,
    name: str,
    size: int,
    budget: Budget,
    progress: Step | None,
) -> Digests:
    """Copy one entry, hashing what is written (so the bag check need not read it again)."""
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    payload = _in_payload(name)
    budget.start_file(payload)
    written = 0
    while chunk := source.read(CHUNK):
        written += len(chunk)
        if written > size:
            raise InvalidBundle([f"{name} holds more bytes than its header declares"])
        budget.spend(len(chunk), payload)
        target.write(chunk)
        sha256.update(chunk)
        sha512.update(chunk)
        if progress is not None:
            progress(len(chunk))
    if written != size:
        raise InvalidBundle([f"{name} is truncated"])
    return written, sha256.hexdigest(), sha512.hexdigest()


def _extract_one(
    source: IO[bytes],
    dest: Path,
    entry: Entry,
    budget: Budget,
    progress: Step | None,
) -> Digests:
    with source, _create(dest, entry.name) as target:
        found = _copy(source, target, entry.name, entry.size, budget, progress)
    if _is_bag_info(entry.name):
        budget.read_bag_info(dest / entry.name)
    return found


def _inside(root: str, digests: dict[str, Digests]) -> dict[str, Digests]:
    prefix = root + "/"
    return {name.removeprefix(prefix): found for name, found in digests.items()}


@contextmanager
def _corrupt_is_invalid(kind: str) -> Iterator[None]:
    try:
        yield
    except (InvalidBundle, InsufficientStorage):
        raise
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise insufficient_storage() from None
        raise InvalidBundle([f"truncated or corrupt {kind} archive ({error})"]) from None
    except CORRUPT as error:
        raise InvalidBundle([f"truncated or corrupt {kind} archive ({error})"]) from None


@dataclass(frozen=True)
class ZipDirectory:
    offset: int
    size: int
    count: int


def _zip_end(handle: BinaryIO) -> ZipDirectory:
    """Where the central directory is and how many entries the end record declares, found as
    zipfile finds them (the zip64 end record sits just before its locator)."""
    handle.seek(0, 2)
    file_size = handle.tell()
    handle.seek(max(0, file_size - 65_557))
    tail_start = handle.tell()
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise InvalidBundle(["truncated or corrupt zip archive (no central directory)"])
    count, size = struct.unpack("<HL", tail[at + 10 : at + 16])
    end = tail_start + at
    if end >= 76:
        handle.seek(end - 76)
        record = handle.read(76)
        if record[56:60] == b"PK\x06\x07":
            if record[:4] != b"PK\x06\x06":
                raise InvalidBundle(["truncated or corrupt zip archive (bad zip64 record)"])
            count, size = struct.unpack("<QQ", record[32:48])
            end -= 76
    if end < size:
        raise InvalidBundle(["truncated or corrupt zip archive (bad central directory size)"])
    # as zipfile does: data prepended to the archive shifts every offset by the same amount
    return ZipDirectory(end - size, size, count)


def scan_zip_directory(path: Path, limits: ImportLimits) -> None:
    """Walk the central directory before `zipfile` reads it (whole, into memory) and builds an
    object per entry: its size, its count of entries, each name's length and each entry's
    compression method are checked record by record, whatever the end record declares."""
    with open(path, "rb") as handle:
        directory = _zip_end(handle)
        if directory.count > limits.max_entries:
            raise InvalidBundle([f"more than {limits.max_entries} entries in the archive"])
        if directory.size > limits.max_entries * ZIP_RECORD_MAX:
            raise InvalidBundle(
                [f"the zip's central directory is larger than {limits.max_entries} entries need"]
            )
        handle.seek(directory.offset)
        remaining = directory.size
        count = 0
        while remaining > 0:
            raw = handle.read(ZIP_DIRECTORY_RECORD.size)
            if len(raw) < ZIP_DIRECTORY_RECORD.size:
                raise InvalidBundle(["truncated or corrupt zip archive (short central directory)"])
            fields = ZIP_DIRECTORY_RECORD.unpack(raw)
            signature, flags, method = fields[0], fields[3], fields[4]
            name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
            if signature != b"PK\x01\x02":
                raise InvalidBundle(["truncated or corrupt zip archive (bad central directory)"])
            count += 1
            if count > limits.max_entries:
                raise InvalidBundle([f"more than {limits.max_entries} entries in the archive"])
            if name_length > ZIP_NAME_MAX or extra_length + comment_length > ZIP_EXTRA_MAX:
                raise InvalidBundle([f"a zip entry's name or extra fields exceed {ZIP_NAME_MAX}"])
            name = handle.read(name_length).decode("utf-8" if flags & 0x800 else "cp437")
            if method not in ZIP_METHODS:
                raise InvalidBundle(
                    [
                        f"{name!r} uses compression method {method}: only stored (0) and "
                        "deflated (8) entries are accepted"
                    ]
                )
            handle.seek(extra_length + comment_length, 1)
            remaining -= ZIP_DIRECTORY_RECORD.size + name_length + extra_length + comment_length


def extract_zip(
    path: Path, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> Extracted:
    with _corrupt_is_invalid("zip"):
        scan_zip_directory(path, limits)
        with zipfile.ZipFile(path) as archive:
            ledger = Ledger(limits)
            members = []
            declared = 0
            for info in archive.infolist():
                kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no unix type recorded
                if kind == stat.S_IFLNK:
                    raise InvalidBundle([f"link in the archive: {info.filename!r}"])
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise InvalidBundle(
                        [f"device or special file in the archive: {info.filename!r}"]
                    )
                if info.flag_bits & 0x1:
                    raise InvalidBundle([f"encrypted entry in the archive: {info.filename!r}"])
                entry = ledger.admit(info.filename, info.file_size, info.is_dir())
                if not entry.is_dir:
                    members.append((info, entry))
                    declared += info.file_size
            root = ledger.check_tree()
            if declared > limits.max_total_bytes:
                raise InvalidBundle(
                    [f"more than {limits.max_total_bytes} expanded bytes in the archive"]
                )
            check_free(dest, declared, limits)
            if progress is not None:
                progress.expect(declared)
            budget = Budget(limits, dest)
            members.sort(key=lambda member: not _is_bag_info(member[1].name))  # its Oxum first
            digests = {}
            for info, entry in members:
                digests[entry.name] = _extract_one(
                    archive.open(info), dest, entry, budget, progress
                )
    return Extracted(dest / root, _inside(root, digests))


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
        _corrupt_is_invalid("tar.gz"),
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
            digests[entry.name] = _extract_one(source, dest, entry, budget, read)
        read.report(read.total)
    root = ledger.check_tree()
    return Extracted(dest / root, _inside(root, digests))


def extract(
    path: Path, kind: str, dest: Path, limits: ImportLimits, progress: Progress | None = None
) -> Extracted:
    """Unpack into `dest` (an empty private folder): the bag's root folder and the digests of
    every file written into it."""
    if kind == "zip":
        return extract_zip(path, dest, limits, progress)
    return extract_tar_gz(path, dest, limits, progress)
