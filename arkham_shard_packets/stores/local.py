"""The local store: each key at its place in the data directory, as the shard has always kept
its files (`files/<aa>/<sha256>`, `exports/<name>`); the default, and what needs no service.

An object enters by a hard link (a copy where the file system has none) to a temporary name
beside its place, fsync and an atomic rename, so a reader sees either no file or the whole
file; attached files are made read-only (0400, or what ARKHAM_PACKETS_DATA_DIR_MODE allows).
Every call that touches the disk runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from ..core.file_modes import PRIVATE, FileModes
from ..core.spool import hash_file
from ..core.store import BLOBS, FileReader, ObjectMissing, StoredObject, StoreUnusable, blob_key


class LocalStore:
    backend = "local"

    def __init__(self, base: Path, modes: FileModes = PRIVATE) -> None:
        self.base = base
        self.modes = modes

    @property
    def location(self) -> str:
        return str(self.base)

    @property
    def root(self) -> Path:
        """The attached files' folder."""
        return self.base / BLOBS.rstrip("/")

    @property
    def staging(self) -> Path:
        """Spool here: the same file system as the store, so entering it is a link."""
        return self.root / ".staging"

    def staging_folder(self) -> Path:
        """The staging folder, made (with the store's folders) when missing."""
        return self.modes.make_folder(self.staging)

    def path_of(self, sha256: str) -> Path:
        return self.base / blob_key(sha256)

    def local_path(self, key: str) -> Path:
        return self.base / key

    async def check(self) -> None:
        try:
            await asyncio.to_thread(self._check)
        except OSError as error:
            raise StoreUnusable(
                f"can't use the store in {self.base}: {error.strerror or error}"
            ) from None

    def _check(self) -> None:
        probe = self.staging_folder() / f".check-{uuid.uuid4().hex}"
        self.modes.create(probe).close()
        probe.unlink()

    async def reachable(self) -> bool:
        return await asyncio.to_thread(self.root.is_dir)

    async def put(self, key: str, source: Path) -> None:
        await asyncio.to_thread(self._put, key, source)

    def _put(self, key: str, source: Path) -> None:
        target = self.local_path(key)
        self.modes.make_folder(target.parent)
        # Where the recovery sweep finds it if the process dies before the rename: in staging
        # for an attached file (a stray beside the blobs would stay for ever), else beside it.
        blob = key.startswith(BLOBS)
        beside = self.staging_folder() if blob else target.parent
        temporary = beside / f".{target.name}.{uuid.uuid4().hex}.part"
        try:
            try:
                os.link(source, temporary)
            except OSError:  # another file system, or one without hard links
                _copy(source, temporary, self.modes)
            if blob:
                self.modes.seal(temporary)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        _fsync_folder(target.parent)

    async def open(self, key: str, start: int = 0, end: int | None = None) -> FileReader:
        try:
            return await FileReader.open(self.local_path(key), start, end)
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.local_path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> None:
        target = self.local_path(key)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            _fsync_folder(target.parent)

    async def list(self, prefix: str) -> AsyncIterator[StoredObject]:
        for found in await asyncio.to_thread(self._list, prefix):
            yield found

    def _list(self, prefix: str) -> Sequence[StoredObject]:
        folder = self.base / prefix.rpartition("/")[0]
        found: list[StoredObject] = []
        for parent, _, names in os.walk(folder):
            for name in names:
                path = Path(parent) / name
                key = path.relative_to(self.base).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    status = path.lstat()
                except FileNotFoundError:
                    continue
                found.append(StoredObject(key, status.st_size, status.st_mtime))
        return found

    async def abort_incomplete(self, prefix: str, cutoff: float) -> int:
        """None here: an object being put is a `.part` file, in staging or beside its place,
        which the sweep finds as a file."""
        return 0

    async def sha256(self, key: str) -> str | None:
        try:
            _, digest = await asyncio.to_thread(hash_file, self.local_path(key))
        except FileNotFoundError:
            return None
        return digest

    async def close(self) -> None:
        return None


def _copy(source: Path, target: Path, modes: FileModes) -> None:
    with open(source, "rb") as reading, modes.create(target) as writing:
        shutil.copyfileobj(reading, writing, 1024 * 1024)
        writing.flush()
        os.fsync(writing.fileno())


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
