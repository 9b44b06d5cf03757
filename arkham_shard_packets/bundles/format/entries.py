"""The entries of an untrusted archive, checked as they come: each name relative and inside the
bag (no absolute path, `..`, backslash or drive letter), no more entries than the limit, no
duplicate (also by case), no file that is also a folder, and one bag folder at the top."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from ...errors import InvalidBundle
from .limits import ImportLimits


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
