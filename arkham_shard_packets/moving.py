"""Moving an installation's attached files and exports from its data directory into the bucket
(`arkham-packets store migrate --to s3`), while its servers serve on.

Every object of the local store goes into the bucket and is read back: an attached file must
hash to the digest its key names, an export to the digest its row recorded (a bundle no row
names: to its local file's). An object the bucket holds already at the same size is read back
the same way and sent again only when it differs, so a run after an interruption sends only
what is missing or damaged, and a run over a finished move sends nothing. A copy that does not
read back right is deleted from the bucket and named. Nothing leaves the data directory.

Rows of exports made before exports were stored name their file by its path, which no other
machine has: once that file is in the bucket, verified, the row is given its key as an export
made now is. Several objects go at once (`jobs`); the bucket failing stops the run once the
copies under way end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from sqlalchemy import select, update

from .core.store import BLOBS, EXPORTS, ObjectMissing, Store, blob_digest
from .core.unit_of_work import Transactions
from .db.scope import Scope
from .db.tables import packet_exports
from .errors import StoreUnavailable

Progress = Callable[[int, int], None]  # bytes, objects: what one more object done adds


@dataclass(frozen=True)
class Move:
    key: str
    size: int  # the local object's
    sha256: str | None  # what its bytes must hash to; None: what the local file's do


@dataclass
class Plan:
    moves: list[Move]
    # an export's key -> (row id, recorded sha256) of the rows that name its file by path only
    unkeyed: dict[str, list[tuple[str, str]]]
    outside: int  # export rows naming a file that is not in the data directory's exports

    @property
    def size(self) -> int:
        return sum(move.size for move in self.moves)


@dataclass
class Moved:
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0  # in the bucket already, and read back right
    present_bytes: int = 0
    gone: int = 0  # removed from the data directory (released) while the move ran
    failed: list[tuple[str, str]] = field(default_factory=list)  # key, why
    keyed: int = 0  # export rows given their key
    outside: int = 0
    stopped: str | None = None  # why the run stopped before the end

    @property
    def complete(self) -> bool:
        return not self.failed and self.stopped is None


@dataclass(frozen=True)
class Copy:
    outcome: str  # "copied", "present", "gone" or "failed"
    said: str = ""  # the digest verified, or why it failed


class StoreMove:
    def __init__(
        self, transactions: Transactions, source: Store, target: Store, jobs: int = 4
    ) -> None:
        self.tx = transactions
        self.source = source
        self.target = target
        self.jobs = jobs

    async def plan(self) -> Plan:
        """Every attached file and export bundle in the source, with the digest it must have."""
        # Across tenants: the installation's own housekeeping, not a tenant's request.
        async with self.tx.read(Scope()) as work:
            rows = (
                await work.conn.execute(
                    select(
                        packet_exports.c.id,
                        packet_exports.c.file_path,
                        packet_exports.c.store_key,
                        packet_exports.c.sha256,
                    )
                )
            ).all()
        recorded = {key: sha256 for _, _, key, sha256 in rows if key is not None}
        unkeyed: dict[str, list[tuple[str, str]]] = {}
        for export_id, path, key, sha256 in rows:
            if key is None:
                named = f"{EXPORTS}{PurePath(path).name}"
                unkeyed.setdefault(named, []).append((export_id, sha256))
        moves = [
            Move(found.key, found.size, digest)
            async for found in self.source.list(BLOBS)
            if (digest := blob_digest(found.key)) is not None
        ]
        async for found in self.source.list(EXPORTS):
            name = found.key.removeprefix(EXPORTS)
            if "/" in name or name.startswith("."):  # a folder, or a bundle being written
                continue
            wanted = recorded.get(found.key)
            if wanted is None and found.key in unkeyed:
                wanted = unkeyed[found.key][0][1]
            moves.append(Move(found.key, found.size, wanted))
        here = {move.key for move in moves}
        outside = sum(len(named) for key, named in unkeyed.items() if key not in here)
        unkeyed = {key: rows for key, rows in unkeyed.items() if key in here}
        return Plan(sorted(moves, key=lambda move: move.key), unkeyed, outside)

    async def run(self, plan: Plan, progress: Progress | None = None) -> Moved:
        moved = Moved(outside=plan.outside)
        verified: dict[str, str] = {}
        pending = iter(plan.moves)
        workers = [self._work(pending, moved, verified, progress) for _ in range(self.jobs)]
        await asyncio.gather(*workers)
        moved.keyed = await self._give_keys(plan.unkeyed, verified)
        return moved

    async def _work(
        self,
        pending: Iterator[Move],
        moved: Moved,
        verified: dict[str, str],
        progress: Progress | None,
    ) -> None:
        """Copy the next object not taken yet, until none is left or the bucket fails."""
        for move in pending:
            if moved.stopped is not None:
                return
            try:
                copy = await self.copy(move)
            except StoreUnavailable as error:
                moved.stopped = error.detail
                return
            if copy.outcome == "copied":
                moved.copied += 1
                moved.copied_bytes += move.size
            elif copy.outcome == "present":
                moved.present += 1
                moved.present_bytes += move.size
            elif copy.outcome == "gone":
                moved.gone += 1
            else:
                moved.failed.append((move.key, copy.said))
            if copy.outcome in ("copied", "present"):
                verified[move.key] = copy.said
            if progress is not None:
                progress(move.size, 1)

    async def copy(self, move: Move) -> Copy:
        """One object in the target, read back right; sent only when the target's differs."""
        path = self.source.local_path(move.key)
        if path is None:
            raise ValueError("a move copies from a store that keeps its objects on this machine")
        try:
            wanted = move.sha256 or await self.source.sha256(move.key)
            if wanted is None:
                return Copy("gone")
            if await self._there(move, wanted):
                return Copy("present", wanted)
            await self.target.put(move.key, path)
        except (ObjectMissing, FileNotFoundError):
            return Copy("gone")
        except OSError as error:
            return Copy("failed", f"can't read {path}: {error.strerror or error}")
        read = await self.target.sha256(move.key)
        if read == wanted:
            return Copy("copied", wanted)
        return await self._refuse(move, wanted, read)

    async def _there(self, move: Move, wanted: str) -> bool:
        """The target holds the object already: the same size, and it reads back right."""
        if await self.target.size(move.key) != move.size:
            return False
        return await self.target.sha256(move.key) == wanted

    async def _refuse(self, move: Move, wanted: str, read: str | None) -> Copy:
        """A copy that did not read back right leaves the bucket; why, from the local file."""
        await self.target.delete(move.key)
        try:
            local = await self.source.sha256(move.key)
        except OSError as error:
            return Copy("failed", f"can't read it: {error.strerror or error}")
        if local is None:
            return Copy("gone")
        if local != wanted:
            return Copy(
                "failed",
                f"damaged in the data directory: its SHA-256 is {local}, not {wanted}; "
                "left out of the bucket",
            )
        return Copy(
            "failed",
            f"read back from the bucket its SHA-256 was {read or 'nothing'}, not {wanted}; "
            "removed from the bucket: run again",
        )

    async def _give_keys(
        self, unkeyed: dict[str, list[tuple[str, str]]], verified: dict[str, str]
    ) -> int:
        """Rows of exports made before the store, whose file is in the bucket now, verified
        against the digest they recorded, get its key (and name it by it, as rows do now)."""
        given = 0
        async with self.tx.write(Scope()) as work:
            for key, rows in sorted(unkeyed.items()):
                ids = [row_id for row_id, sha256 in rows if verified.get(key) == sha256]
                if not ids:
                    continue
                done = await work.conn.execute(
                    update(packet_exports)
                    .where(packet_exports.c.id.in_(ids), packet_exports.c.store_key.is_(None))
                    .values(store_key=key, file_path=key)
                )
                given += done.rowcount
        return given
