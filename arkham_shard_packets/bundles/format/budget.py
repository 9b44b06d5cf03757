"""What unpacking a bundle may write: the expanded bytes, the bag's own Payload-Oxum, the tag
files' allowance, and the disk's free space."""

from __future__ import annotations

import shutil
from pathlib import Path

from ...errors import InsufficientStorage, InvalidBundle
from .bag import parse_bag_info
from .limits import TAG_BYTES, ImportLimits

DISK_CHECK = 64 * 1024 * 1024  # free space is looked at again after this many bytes


def insufficient_storage() -> InsufficientStorage:
    return InsufficientStorage("not enough free disk space to import this bundle")


def check_free(folder: Path, needed: int, limits: ImportLimits) -> None:
    if shutil.disk_usage(folder).free - needed < limits.min_free_bytes:
        raise insufficient_storage()


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
