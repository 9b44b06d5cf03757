"""Writing a checked archive entry into the private staging folder: created new, never over
anything or outside the bag, its bytes counted against the budget and hashed as they are
written; a truncated or corrupt archive, whatever the library says of it, is a 400 (a full
disk a 507)."""

from __future__ import annotations

import errno
import hashlib
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from ...errors import InsufficientStorage, InvalidBundle
from .budget import Budget, insufficient_storage
from .entries import Entry

CHUNK = 1024 * 1024
CORRUPT = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    ValueError,
    NotImplementedError,
)

Digests = tuple[int, str, str]  # size, SHA-256, SHA-512 of an extracted file
Step = Callable[[int], object]


@dataclass
class Extracted:
    root: Path  # the bag's folder
    digests: dict[str, Digests]  # of every file written, by its path inside the bag


def _in_payload(name: str) -> bool:
    parts = name.split("/")
    return len(parts) > 2 and parts[1] == "data"


def is_bag_info(name: str) -> bool:
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


def extract_one(
    source: IO[bytes],
    dest: Path,
    entry: Entry,
    budget: Budget,
    progress: Step | None,
) -> Digests:
    with source, _create(dest, entry.name) as target:
        found = _copy(source, target, entry.name, entry.size, budget, progress)
    if is_bag_info(entry.name):
        budget.read_bag_info(dest / entry.name)
    return found


def in_bag(root: str, digests: dict[str, Digests]) -> dict[str, Digests]:
    """The digests by each file's path inside the bag folder `root`."""
    prefix = root + "/"
    return {name.removeprefix(prefix): found for name, found in digests.items()}


@contextmanager
def corrupt_is_invalid(kind: str) -> Iterator[None]:
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
