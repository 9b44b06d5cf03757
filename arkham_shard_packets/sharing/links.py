"""A share link as a request presents it, and the share it opens: found by its token's digest,
refused when revoked (404) or expired (410)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..core.clock import to_text, utc_text
from ..core.unit_of_work import UnitOfWork
from ..db.scope import Scope
from ..db.tables import packet_shares
from ..errors import ShareExpired, ShareNotFound
from ..models import PacketShare, ShareState, utcnow
from ..records.locks import hold_packet
from ..records.packets import RowLike
from .records import share_from_row
from .tokens import token_digest

SHARE_ACTOR_PREFIX = "share:"


@dataclass(frozen=True)
class ShareLink:
    """How a request presents a share link: its token, the password it sends, if any, and
    the viewer page's session for it (sharing/sessions.py), if any."""

    token: str
    password: str | None = None
    client_address: str | None = None
    session: str | None = None


@dataclass
class OpenShare:
    share: PacketShare
    password_hash: str | None
    scope: Scope  # the share's tenant, and the link as the actor


async def open_link(work: UnitOfWork, token: str, lock: bool = True) -> OpenShare:
    """The share the token names, its row locked unless `lock` is False; `work` enters its
    tenant, with the link as the actor."""
    # Not built through a Scope (db/scope.py names the places that aren't): the caller has
    # no tenant; the token is the credential, and the share it names decides the tenant.
    statement = select(packet_shares).where(packet_shares.c.access_token == token_digest(token))
    if lock:
        statement = statement.with_for_update()
    row: RowLike | None = (await work.conn.execute(statement)).mappings().first()
    if row is None or row["revoked_at"] is not None:
        raise ShareNotFound("this share link does not exist or has been revoked")
    work.scope = Scope(tenant_id=row["tenant_id"], actor=SHARE_ACTOR_PREFIX + row["id"])
    share = share_from_row(row, utcnow())
    if share.state is ShareState.EXPIRED:
        assert share.expires_at is not None
        raise ShareExpired(
            f"this share link expired at {to_text(share.expires_at)}",
            for_page=f"this share link expired at {utc_text(share.expires_at)}",
        )
    return OpenShare(share, row["password_hash"], work.scope)


async def lock_link(work: UnitOfWork, token: str) -> PacketShare:
    """The link's share, its packet's row locked first and then its own: every writer of a
    packet (the owner revoking this link, too) locks the packet before anything of it, so
    a link's use and the owner's changes never wait on each other in a cycle."""
    await hold_packet(work, (await open_link(work, token, lock=False)).share.packet_id)
    return (await open_link(work, token)).share
