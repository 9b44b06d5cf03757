"""Recovery: sweeping away the files a killed process left behind, at start and periodically.

Rows need no repair: every change is one transaction, so a crash leaves none half-written.
Files are written before the rows that name them (spooled, then put in the store), so a crash
can leave files that nothing names: temporary files under `tmp/`, spools in the store's
staging folder, a half-written or unrecorded export under `exports/` in the store, and a blob
under `files/` in the store whose transaction never committed. `Recovery.sweep` removes them
when a process starts, and `start` runs it again every `interval_seconds` while the process
lives. Only what is older than a grace period goes, so a file that another process sharing the
data directory or the store is writing at this moment is never taken from under it; a blob is
removed under its registry lock and only while no item and no snapshot names it
(attachments/service). In a bucket, a killed process can also leave a multipart upload it never
completed (parts that hold space, unseen by a listing of objects): the sweep aborts those that
nothing added to within the grace period.

Each server sweeps its own machine's scratch (`tmp/`, staging); the store, which servers share,
is swept by one server at a time: the one holding the sweep's lease (db/lease.py), named for
the store's location. The others skip the store that round. The lease spares work and
duplicate log lines; every removal is checked where it is made, so two sweeps at once would
still take nothing in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from .attachments.service import claim_blob, is_referenced
from .core.places import place_in
from .core.store import BLOBS, EXPORTS, Store, blob_digest, blob_key
from .core.unit_of_work import Transactions
from .db.lease import Lease
from .db.scope import Scope
from .db.tables import packet_contents, packet_exports, packet_files, snapshot_files

logger = logging.getLogger(__name__)
STORED = (BLOBS, EXPORTS)  # where the shard puts objects, and so may leave an upload


@dataclass
class Swept:
    temporary: int = 0
    exports: int = 0
    blobs: int = 0
    uploads: int = 0  # incomplete multipart uploads aborted
    store_swept: bool = False  # False: another server held the lease, and swept the store

    @property
    def total(self) -> int:
        return self.temporary + self.exports + self.blobs + self.uploads


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


def _legacy_keys(paths: list[str], exports_dir: Path) -> set[str]:
    """The keys, in the local store, of export files rows name by their path (made before the
    store, or where a command was told)."""
    folder = exports_dir.resolve()
    keys = set()
    for path in paths:
        place = place_in(folder, Path(path).resolve())
        if place is not None:
            keys.add(f"{EXPORTS}{place}")
    return keys


class Recovery:
    def __init__(
        self,
        transactions: Transactions,
        store: Store,
        lease: Lease,
        *,
        tmp_dir: Path,
        exports_dir: Path,
        grace_seconds: float,
        interval_seconds: float = 300.0,
    ) -> None:
        self.tx = transactions
        self.store = store
        self.lease = lease
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
        async with self.lease.held() as mine:
            if mine:
                await self._sweep_store(swept, cutoff)
            else:
                logger.debug("packets: another server is sweeping the store; skipped this round")
        if swept.total:
            logger.warning(
                "packets: removed what an interrupted process left: %d temporary, "
                "%d unrecorded export, %d unreferenced blob file(s), "
                "%d incomplete upload(s)",
                swept.temporary,
                swept.exports,
                swept.blobs,
                swept.uploads,
            )
        return swept

    async def _sweep_store(self, swept: Swept, cutoff: float) -> None:
        swept.exports = await self._sweep_exports(cutoff)
        swept.blobs = await self._sweep_blobs(cutoff)
        for prefix in STORED:
            swept.uploads += await self.store.abort_incomplete(prefix, cutoff)
        swept.store_swept = True

    async def _sweep_exports(self, cutoff: float) -> int:
        """Stored exports no `arkham_packet_exports` row names: half-written (`.part`) or put
        in the store by a process killed before it recorded them."""
        # Across tenants: this is the shard's own housekeeping, not a tenant's request.
        async with self.tx.read(Scope()) as work:
            rows = (
                await work.conn.execute(
                    select(packet_exports.c.file_path, packet_exports.c.store_key)
                )
            ).all()
        recorded = {key for _, key in rows if key is not None}
        legacy = [path for path, key in rows if key is None]
        recorded |= await asyncio.to_thread(_legacy_keys, legacy, self.exports_dir)
        strays = [
            found.key
            async for found in self.store.list(EXPORTS)
            if found.key not in recorded and found.modified <= cutoff
        ]
        for key in strays:
            await self.store.delete(key)
        return len(strays)

    async def _sweep_blobs(self, cutoff: float) -> int:
        """Blobs in the store, and registry rows, that no content item and no snapshot names."""
        stored: dict[str, int] = {}
        fresh: set[str] = set()
        async for found in self.store.list(BLOBS):
            sha256 = blob_digest(found.key)
            if sha256 is None:
                continue
            if found.modified <= cutoff:
                stored[sha256] = found.size
            else:
                fresh.add(sha256)
        async with self.tx.read(Scope()) as work:
            registered = set((await work.conn.scalars(select(packet_files.c.sha256))).all())
            named = set(
                (await work.conn.scalars(select(packet_contents.c.file_sha256).distinct())).all()
            )
            named |= set(
                (await work.conn.scalars(select(snapshot_files.c.file_sha256).distinct())).all()
            )
        removed = 0
        for sha256 in sorted((stored.keys() | registered) - named - fresh):
            if await self._remove_blob(sha256, stored.get(sha256, 0)):
                removed += sha256 in stored
        return removed

    async def _remove_blob(self, sha256: str, size: int) -> bool:
        """Checked again under the blob's registry lock, which every attach and import of
        these bytes takes before it confirms them in the store."""
        async with self.tx.write(Scope()) as work:
            await claim_blob(work.conn, sha256, size)
            if await is_referenced(work, sha256):
                return False
            await work.conn.execute(packet_files.delete().where(packet_files.c.sha256 == sha256))
            await self.store.delete(blob_key(sha256))
        return True
