"""Unpacking an untrusted zip: its central directory walked record by record before `zipfile`
reads it; links, devices, encrypted entries and compression other than stored or deflated
refused; every entry checked (bundles/format/entries.py) before anything is written."""

from __future__ import annotations

import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ...errors import InvalidBundle
from .budget import Budget, check_free
from .entries import Ledger
from .extraction import Extracted, corrupt_is_invalid, extract_one, in_bag, is_bag_info
from .limits import ImportLimits
from .progress import Progress

ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
ZIP_DIRECTORY_RECORD = struct.Struct("<4s6H3L5H2L")  # 46 bytes, APPNOTE 4.3.12
ZIP_NAME_MAX = 1024
ZIP_EXTRA_MAX = 1024  # extra field and comment together
ZIP_RECORD_MAX = ZIP_DIRECTORY_RECORD.size + ZIP_NAME_MAX + ZIP_EXTRA_MAX


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
    with corrupt_is_invalid("zip"):
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
            members.sort(key=lambda member: not is_bag_info(member[1].name))  # its Oxum first
            digests = {}
            for info, entry in members:
                digests[entry.name] = extract_one(archive.open(info), dest, entry, budget, progress)
    return Extracted(dest / root, in_bag(root, digests))
