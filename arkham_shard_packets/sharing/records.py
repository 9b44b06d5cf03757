"""Share, comment and access-log rows: reading them into records, and the statements that
several share services need."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, insert, or_

from ..core.unit_of_work import UnitOfWork
from ..db.tables import packet_comments, packet_shares, share_access_log
from ..models import (
    HandedFile,
    PacketComment,
    PacketShare,
    ShareAccessEntry,
    ShareAction,
    SharePermission,
    ShareState,
)
from ..records.packets import RowLike


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def share_state(expires_at: datetime | None, now: datetime) -> ShareState:
    """Expiry is decided here, against the clock, at every read: no job has to run first."""
    if expires_at is not None and expires_at <= now:
        return ShareState.EXPIRED
    return ShareState.ACTIVE


def share_from_row(row: RowLike, now: datetime) -> PacketShare:
    expires_at = _moment(row["expires_at"])
    return PacketShare(
        id=row["id"],
        packet_id=row["packet_id"],
        shared_with=row["shared_with"] or "",
        permissions=SharePermission(row["permissions"]),
        shared_at=datetime.fromisoformat(row["shared_at"]),
        expires_at=expires_at,
        shared_by=row["shared_by"],
        shared_by_email=row["shared_by_email"],
        password_protected=row["password_hash"] is not None,
        access_count=row["access_count"],
        last_accessed_at=_moment(row["last_accessed_at"]),
        revoked_at=_moment(row["revoked_at"]),
        state=share_state(expires_at, now),
        item_ids=None if row["item_ids"] is None else json.loads(row["item_ids"]),
        items_version=row["items_version"],
    )


def comment_from_row(row: RowLike) -> PacketComment:
    return PacketComment(
        id=row["id"],
        packet_id=row["packet_id"],
        author=row["author"],
        body=row["body"],
        created_at=datetime.fromisoformat(row["created_at"]),
        share_id=row["share_id"],
    )


def access_entry_from_row(row: RowLike) -> ShareAccessEntry:
    return ShareAccessEntry(
        id=row["id"],
        share_id=row["share_id"],
        action=ShareAction(row["action"]),
        accessed_at=datetime.fromisoformat(row["accessed_at"]),
        client_address=row["client_address"],
        file=None
        if row["file_sha256"] is None
        else HandedFile(row["file_name"], row["file_sha256"], row["content_entry_id"]),
    )


async def count_active_shares(work: UnitOfWork, packet_id: str, now: str) -> int:
    """Shares of the packet that are neither revoked nor expired at `now`."""
    expires = packet_shares.c.expires_at
    statement = work.scope.select(packet_shares, func.count()).where(
        packet_shares.c.packet_id == packet_id,
        packet_shares.c.revoked_at.is_(None),
        or_(expires.is_(None), expires > now),
    )
    return int((await work.conn.execute(statement)).scalar_one())


@dataclass(frozen=True)
class Slice:
    """Rows `offset` to `offset + limit` in their order; `offset` None: the last `limit`."""

    limit: int
    offset: int | None = 0


def _comments_of(work: UnitOfWork, packet_id: str, share_id: str | None) -> Select[Any]:
    statement = work.scope.select(packet_comments).where(packet_comments.c.packet_id == packet_id)
    if share_id is not None:
        statement = statement.where(packet_comments.c.share_id == share_id)
    return statement


async def load_comments(
    work: UnitOfWork, packet_id: str, share_id: str | None, part: Slice
) -> tuple[list[PacketComment], int, int]:
    """A slice of the packet's comments, oldest first: of all of them (its owner), or of those
    posted through one share link (that link's recipients); with how many there are in all
    and the offset of the slice. Counted only when the slice does not tell (a full one)."""
    order = (packet_comments.c.created_at, packet_comments.c.id)
    statement = _comments_of(work, packet_id, share_id).limit(part.limit)
    if part.offset is None:  # the latest: read from the end, not past every earlier one
        statement = statement.order_by(*(column.desc() for column in order))
    else:
        statement = statement.order_by(*order).offset(part.offset)
    rows = (await work.conn.execute(statement)).mappings().all()
    comments = [comment_from_row(row) for row in rows]
    start = part.offset or 0
    if len(rows) < part.limit and (rows or not start):
        total = start + len(rows)
    else:
        counted = _comments_of(work, packet_id, share_id).with_only_columns(func.count())
        total = int((await work.conn.execute(counted)).scalar_one())
    if part.offset is None:
        return comments[::-1], total, max(total - part.limit, 0)
    return comments, total, part.offset


def later(moment: str) -> Any:
    """`last_accessed_at` moved to `moment`, never back (processes' clocks may differ a little)."""
    last = packet_shares.c.last_accessed_at
    return case((last.is_(None) | (last < moment), moment), else_=last)


async def log_access(
    work: UnitOfWork,
    share: PacketShare,
    action: ShareAction,
    client_address: str | None,
    now: str,
    file: HandedFile | None = None,
) -> str:
    """Logs a use of a link (and counts it, unless it is a wrong password), with the `file`
    it handed over if any; answers the log row's id."""
    entry_id = str(uuid.uuid4())
    values: dict[str, Any] = work.scope.row(
        id=entry_id,
        share_id=share.id,
        packet_id=share.packet_id,
        accessed_at=now,
        action=action.value,
        client_address=client_address,
        content_entry_id=None if file is None else file.content_entry_id,
        file_name=None if file is None else file.name,
        file_sha256=None if file is None else file.sha256,
    )
    await work.conn.execute(insert(share_access_log).values(values))
    if action is not ShareAction.PASSWORD_FAILURE:
        await work.conn.execute(
            work.scope.update(packet_shares)
            .where(packet_shares.c.id == share.id)
            .values(access_count=packet_shares.c.access_count + 1, last_accessed_at=later(now))
        )
    return entry_id


async def withdraw_access(work: UnitOfWork, entry_id: str) -> None:
    """Removes a log row written ahead of its outcome: a guess that proved right."""
    await work.conn.execute(
        work.scope.delete(share_access_log).where(share_access_log.c.id == entry_id)
    )
