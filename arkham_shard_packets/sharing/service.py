"""Shares as their owner manages them: create, list, revoke, and what recipients left behind.

    finalized --first share--> shared --last active share revoked--> finalized
A draft can be shared for collaboration and stays a draft; an archived packet can't be shared.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func

from ..bundles.disclosure import read_disclosed
from ..core.clock import as_utc, to_text
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody import log as custody
from ..db.row_inserts import RowLock
from ..db.scope import Scope
from ..db.tables import packet_shares, packets, share_access_log
from ..errors import Conflict, InvalidInput, ShareNotFound
from ..models import (
    Packet,
    PacketComment,
    PacketShare,
    PacketStatus,
    ShareAccessEntry,
    SharePermission,
    utcnow,
)
from ..records import lifecycle
from ..records.locks import lock_at_commit, lock_packet, locked_row
from ..records.packets import load_packet
from .records import (
    Slice,
    access_entry_from_row,
    count_active_shares,
    load_comments,
    share_from_row,
)
from .tokens import hash_password, new_token, token_digest
from .uses import UseLog

FIRST_SHARE = (PacketStatus.FINALIZED, PacketStatus.SHARED)  # a sealed packet's first share


@dataclass
class ShareDraft:
    shared_with: str
    permissions: SharePermission = SharePermission.VIEW
    expires_at: datetime | None = None
    password: str | None = None
    item_ids: list[str] | None = None  # a link limited to these items of the sealed version


class ShareService:
    def __init__(self, transactions: Transactions, uses: UseLog) -> None:
        self.tx = transactions
        self.uses = uses  # written before counts and logs are read: they show every use so far

    async def create(self, scope: Scope, packet_id: str, draft: ShareDraft) -> PacketShare:
        """The answer carries the raw token; it exists nowhere else afterwards."""
        now = utcnow()
        expires_at = None if draft.expires_at is None else as_utc(draft.expires_at)
        token = new_token()
        password_hash = None if draft.password is None else await hash_password(draft.password)
        values = dict(
            id=str(uuid.uuid4()),
            packet_id=packet_id,
            shared_with=draft.shared_with,
            permissions=draft.permissions.value,
            shared_at=to_text(now),
            expires_at=None if expires_at is None else to_text(expires_at),
            access_token=token_digest(token),
            shared_by=scope.actor,
            shared_by_email=scope.actor_email,
            password_hash=password_hash,
            access_count=0,
            last_accessed_at=None,
            revoked_at=None,
            item_ids=None,
            items_version=None,
        )
        async with self.tx.write(scope) as work:
            lock, limit = await self._take(work, packet_id, draft, expires_at, now)
            values.update(limit)
            row = work.scope.row(**values)  # its tenant
            # nothing reads it back: written with the work's other rows (UnitOfWork.insert)
            await work.insert(packet_shares, row, at_commit=True)
            await custody.append(
                work,
                packet_id,
                "shared",
                share_id=row["id"],
                shared_with=draft.shared_with,
                permissions=draft.permissions.value,
                expires_at=row["expires_at"],
                password_protected=password_hash is not None,
                **(_limit_entry(limit)),
            )
            work.emit(
                "packets.packet.shared",
                packet_id=packet_id,
                shared_with=draft.shared_with,
                permissions=draft.permissions.value,
                share_id=row["id"],
                expires_at=row["expires_at"],
            )
        if lock:  # sent at commit: nothing was written if it took no row
            await locked_row(self.tx, scope, lock, lifecycle.SHARE)
        share = share_from_row(row, now)
        share.access_token = token
        return share

    async def of_packet(self, scope: Scope, packet_id: str) -> list[PacketShare]:
        """Every share not revoked, each with its state as of now."""
        await self.uses.flush()
        statement = (
            scope.select(packet_shares)
            .where(packet_shares.c.packet_id == packet_id, packet_shares.c.revoked_at.is_(None))
            .order_by(packet_shares.c.shared_at, packet_shares.c.id)
        )
        async with self.tx.read(scope) as work:
            await load_packet(work, packet_id)
            rows = (await work.conn.execute(statement)).mappings().all()
        now = utcnow()
        return [share_from_row(row, now) for row in rows]

    async def revoke(self, scope: Scope, packet_id: str, share_id: str) -> None:
        async with self.tx.write(scope) as work:
            # The packet first, then the share: the order every writer of a packet takes its
            # locks in (a link's use too), so that a revocation and a use never wait in a ring.
            packet = await lock_packet(work, packet_id, lifecycle.REVOKE_SHARE)
            found = (
                await work.conn.execute(
                    scope.select(packet_shares, packet_shares.c.id)
                    .where(
                        packet_shares.c.id == share_id,
                        packet_shares.c.packet_id == packet_id,
                        packet_shares.c.revoked_at.is_(None),
                    )
                    .with_for_update()
                )
            ).first()
            if found is None:
                raise ShareNotFound(f"share {share_id} not found in packet {packet_id}")
            now = to_text(utcnow())
            await work.conn.execute(
                scope.update(packet_shares)
                .where(packet_shares.c.id == share_id)
                .values(revoked_at=now)
            )
            await custody.append(work, packet_id, "link_revoked", share_id=share_id)
            if (
                packet.status is PacketStatus.SHARED
                and await count_active_shares(work, packet_id, now) == 0
            ):
                await self._set_status(work, packet_id, PacketStatus.FINALIZED)
                work.emit(
                    "packets.packet.updated",
                    packet_id=packet_id,
                    status=PacketStatus.FINALIZED.value,
                    previous_status=PacketStatus.SHARED.value,
                )

    async def comments(
        self, scope: Scope, packet_id: str, part: Slice
    ) -> tuple[list[PacketComment], int]:
        """A slice of every link's comments, oldest first, and how many there are."""
        async with self.tx.read(scope) as work:
            await load_packet(work, packet_id)
            comments, total, _ = await load_comments(work, packet_id, None, part)
        return comments, total

    async def access_log(
        self, scope: Scope, packet_id: str, share_id: str, limit: int, offset: int
    ) -> tuple[list[ShareAccessEntry], int]:
        """A slice of the share's access log, oldest first, and how many rows it has. Revoked
        shares keep their log, so it can still be read."""
        await self.uses.flush()
        async with self.tx.read(scope) as work:
            await load_packet(work, packet_id)
            found = (
                await work.conn.execute(
                    scope.select(packet_shares, packet_shares.c.id).where(
                        packet_shares.c.id == share_id, packet_shares.c.packet_id == packet_id
                    )
                )
            ).first()
            if found is None:
                raise ShareNotFound(f"share {share_id} not found in packet {packet_id}")
            logged = scope.select(share_access_log).where(share_access_log.c.share_id == share_id)
            total = (await work.conn.execute(logged.with_only_columns(func.count()))).scalar_one()
            rows = (
                (
                    await work.conn.execute(
                        logged.order_by(share_access_log.c.accessed_at, share_access_log.c.id)
                        .limit(limit)
                        .offset(offset)
                    )
                )
                .mappings()
                .all()
            )
        return [access_entry_from_row(row) for row in rows], int(total)

    async def _take(
        self,
        work: UnitOfWork,
        packet_id: str,
        draft: ShareDraft,
        expires_at: datetime | None,
        now: datetime,
    ) -> tuple[RowLock | None, dict[str, Any]]:
        """The packet's lock for a new link, with the link's limit to items. On PostgreSQL the
        lock is sent at commit (`lock_at_commit`), unless the packet must be read first: for a
        link limited to items of its seal, or one refused for an expiry in the past."""
        past = expires_at is not None and expires_at <= now
        if draft.item_ids is None and not past:
            lock = lock_at_commit(work, packet_id, lifecycle.SHARE, promote=FIRST_SHARE)
            if lock is not None:
                return lock, {}
        packet = await lock_packet(work, packet_id, lifecycle.SHARE)
        if expires_at is not None and past:
            raise InvalidInput(f"expires_at {to_text(expires_at)} is not in the future")
        limit = await _limited_to_items(work, packet, draft)
        if packet.status is FIRST_SHARE[0]:
            await self._set_status(work, packet_id, FIRST_SHARE[1])
        return None, limit

    @staticmethod
    async def _set_status(work: UnitOfWork, packet_id: str, status: PacketStatus) -> None:
        await work.conn.execute(
            work.scope.update(packets).where(packets.c.id == packet_id).values(status=status.value)
        )


async def _limited_to_items(work: UnitOfWork, packet: Packet, draft: ShareDraft) -> dict[str, Any]:
    """A link limited to items shows them of the latest sealed version, whose seal must prove
    them one by one: checked as a disclosure of them is (409 without such a seal, 422 for an
    id that is not one of its items, or for an edit link). The ids are kept in the recipe's
    order."""
    item_ids = draft.item_ids
    if item_ids is None:
        return {}
    if draft.permissions is SharePermission.EDIT:
        raise InvalidInput(
            "a link limited to items (item_ids) can view or comment, not edit: it shows "
            "items of a sealed version, which takes no edits"
        )
    if packet.status is PacketStatus.DRAFT:
        raise Conflict(
            f"packet {packet.id} is a draft: a link limited to items (item_ids) shows items "
            "of a sealed version"
        )
    disclosed = await read_disclosed(work, packet.id, item_ids, None)
    return dict(
        item_ids=json.dumps([record["id"] for record in disclosed.records]),
        items_version=disclosed.document["version"],
    )


def _limit_entry(limit: dict[str, Any]) -> dict[str, Any]:
    """The custody entry's account of a link limited to items (nothing for a whole packet)."""
    if not limit:
        return {}
    return {"items": json.loads(limit["item_ids"]), "items_version": limit["items_version"]}
