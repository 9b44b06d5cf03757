"""Recovery: sweeping away the files a killed process left behind, at start and periodically.

Rows need no repair: every change is one transaction, so a crash leaves none half-written.
Files are written before the rows that name them (spooled, then renamed into place), so a
crash can leave files that nothing names: temporary files under `tmp/`, spools under
`files/.staging`, a half-written or unrecorded export under `exports/`, and a blob under
`files/` whose transaction never committed. `Recovery.sweep` removes them when a process
starts, and `start` runs it again every `interval_seconds` while the process lives. Only
what is older than a grace period goes, so a file that another process sharing the data
directory is writing at this moment is never taken from under it; a blob is removed under
its registry lock and only while no item and no snapshot names it (attachments/service).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from .attachments.service import claim_blob, is_referenced
from .core.filestore import SHA256_HEX, FileStore
from .core.unit_of_work import Transactions
from .db.scope import Scope
from .db.tables import packet_contents, packet_exports, packet_files, snapshot_files

logger = logging.getLogger(__name__)


@dataclass
class Swept:
    temporary: int = 0
    exports: int = 0
    blobs: int = 0

    @property
    def total(self) -> int:
        return self.temporary + self.exports + self.blobs


def _newest_change(path: Path) -> float:
    """When anything in `path` (a file, or a folder and all it holds) last changed."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                try:
                    newest = max(newest, (Path(folder) / name).lstat().st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def _stale(path: Path, cutoff: float) -> bool:
    try:
        return _newest_change(path) <= cutoff
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _sweep_folder(folder: Path, cutoff: float) -> int:
    """Remove every stale entry directly inside `folder`."""
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in list(folder.iterdir()):
        if _stale(entry, cutoff):
            _remove(entry)
            removed += 1
    return removed


def _stale_exports(folder: Path, recorded: set[Path], cutoff: float) -> list[Path]:
    if not folder.is_dir():
        return []
    return [
        entry
        for entry in folder.iterdir()
        if entry.is_file() and entry.resolve() not in recorded and _stale(entry, cutoff)
    ]


def _resolved(paths: list[str]) -> set[Path]:
    return {Path(path).resolve() for path in paths}


def _stored_blobs(root: Path) -> Iterator[Path]:
    """Files at `<root>/<aa>/<sha256>`, the store's only layout (the staging folder aside)."""
    if not root.is_dir():
        return
    for prefix in root.iterdir():
        if prefix.name.startswith(".") or not prefix.is_dir():
            continue
        for blob in prefix.iterdir():
            if SHA256_HEX.match(blob.name) and blob.name[:2] == prefix.name and blob.is_file():
                yield blob


def _blob_ages(root: Path, cutoff: float) -> tuple[dict[str, int], set[str]]:
    """The blobs older than the cutoff (digest and size), and the digests of the others."""
    stale: dict[str, int] = {}
    fresh: set[str] = set()
    for blob in _stored_blobs(root):
        try:
            status = blob.lstat()
        except FileNotFoundError:
            continue
        if status.st_mtime <= cutoff:
            stale[blob.name] = status.st_size
        else:
            fresh.add(blob.name)
    return stale, fresh


class Recovery:
    def __init__(
        self,
        transactions: Transactions,
        store: FileStore,
        *,
        tmp_dir: Path,
        exports_dir: Path,
        grace_seconds: float,
        interval_seconds: float = 300.0,
    ) -> None:
        self.tx = transactions
        self.store = store
        self.tmp_dir = tmp_dir
        self.exports_dir = exports_dir
        self.grace_seconds = grace_seconds
        self.interval_seconds = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep every `interval_seconds` while the process runs (after the start-up sweep)."""
        self._task = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                await self.sweep()
            except Exception:
                logger.exception("packets: the periodic sweep failed; it runs again later")

    async def sweep(self) -> Swept:
        cutoff = time.time() - self.grace_seconds
        swept = Swept()
        for folder in (self.tmp_dir, self.store.staging):
            swept.temporary += await asyncio.to_thread(_sweep_folder, folder, cutoff)
        swept.exports = await self._sweep_exports(cutoff)
        swept.blobs = await self._sweep_blobs(cutoff)
        if swept.total:
            logger.warning(
                "packets: removed what an interrupted process left: %d temporary, "
                "%d unrecorded export, %d unreferenced blob file(s)",
                swept.temporary,
                swept.exports,
                swept.blobs,
            )
        return swept

    async def _sweep_exports(self, cutoff: float) -> int:
        """Export files no `arkham_packet_exports` row names: half-written (`.part`) or
        renamed into place by a process killed before it recorded them."""
        # Across tenants: this is the shard's own housekeeping, not a tenant's request.
        async with self.tx.read(Scope()) as work:
            paths = list((await work.conn.scalars(select(packet_exports.c.file_path))).all())
        recorded = await asyncio.to_thread(_resolved, paths)
        strays = await asyncio.to_thread(_stale_exports, self.exports_dir, recorded, cutoff)
        for stray in strays:
            await asyncio.to_thread(_remove, stray)
        return len(strays)

    async def _sweep_blobs(self, cutoff: float) -> int:
        """Blob files, and registry rows, that no content item and no snapshot names."""
        on_disk, fresh = await asyncio.to_thread(_blob_ages, self.store.root, cutoff)
        async with self.tx.read(Scope()) as work:
            registered = set((await work.conn.scalars(select(packet_files.c.sha256))).all())
            named = set(
                (await work.conn.scalars(select(packet_contents.c.file_sha256).distinct())).all()
            )
            named |= set(
                (await work.conn.scalars(select(snapshot_files.c.file_sha256).distinct())).all()
            )
        removed = 0
        for sha256 in sorted((on_disk.keys() | registered) - named - fresh):
            if await self._remove_blob(sha256, on_disk.get(sha256, 0)):
                removed += sha256 in on_disk
        return removed

    async def _remove_blob(self, sha256: str, size: int) -> bool:
        """Checked again under the blob's registry lock, which every attach and import of
        these bytes takes before it places them."""
        async with self.tx.write(Scope()) as work:
            await claim_blob(work.conn, sha256, size)
            if await is_referenced(work, sha256):
                return False
            await work.conn.execute(packet_files.delete().where(packet_files.c.sha256 == sha256))
            await self.store.delete(sha256)
        return True
