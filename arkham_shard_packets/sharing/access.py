"""What a share link opens. The token is the only credential: it names the share, the packet
and the tenant. Every use checks, in one transaction and in this order: the link exists and is
not revoked (404), it has not expired (410), the password lockout (429), the password (401),
the permission (403), then the packet's own rules (409); a use that passes is logged and counted.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import insert, select

from ..core.clock import to_text
from ..core.records import RowLike, load_contents, load_packet
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody import log as custody
from ..db.scope import Scope
from ..db.tables import packet_comments, packet_shares, share_access_log
from ..errors import (
    Forbidden,
    PacketLocked,
    PacketsError,
    PasswordRequired,
    ShareExpired,
    ShareNotFound,
    TooManyAttempts,
)
from ..keys.trust import TrustedKeys
from ..models import (
    Packet,
    PacketComment,
    PacketContent,
    PacketShare,
    PacketStatus,
    ShareAction,
    ShareState,
    utcnow,
)
from ..packets.contents import ContentDraft, add_content, remove_content
from ..versions.integrity import SealView, seal_view
from .records import comment_from_row, load_comments, log_access, share_from_row
from .tokens import token_digest, verify_password

T = TypeVar("T")

MAX_PASSWORD_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=1)
SHARE_ACTOR_PREFIX = "share:"


@dataclass(frozen=True)
class ShareLink:
    """How a request presents a share link."""

    token: str
    password: str | None = None
    client_address: str | None = None


@dataclass
class CommentDraft:
    author: str
    body: str


@dataclass
class SharedPacket:
    """Everything a share link shows: the packet, its ordered contents, comments, the grant."""

    share: PacketShare
    packet: Packet
    contents: list[PacketContent]
    comments: list[PacketComment]
    seal: SealView | None = None  # on the viewer page


@dataclass
class OpenShare:
    share: PacketShare
    password_hash: str | None


class ShareAccessService:
    def __init__(
        self, transactions: Transactions, lockout: timedelta, trust: TrustedKeys | None = None
    ) -> None:
        self.tx = transactions
        self.lockout = lockout
        self.trust = trust or TrustedKeys()

    async def read(self, link: ShareLink) -> SharedPacket:
        return await self._use(link, ShareAction.READ, self._snapshot)

    async def view(
        self, link: ShareLink, comment: Callable[[], CommentDraft] | None = None
    ) -> SharedPacket:
        """The viewer page; from its form, first post the comment the person wrote (read from
        the form only once the link has been checked, so a bad link is never a bad form)."""
        if comment is not None:
            await self.comment(link, comment)
        return await self._use(link, ShareAction.VIEW, self._page)

    async def comment(
        self, link: ShareLink, comment: CommentDraft | Callable[[], CommentDraft]
    ) -> PacketComment:
        async def post(work: UnitOfWork, share: PacketShare) -> PacketComment:
            draft = comment() if callable(comment) else comment
            packet = await load_packet(work, share.packet_id)
            if packet.status is PacketStatus.ARCHIVED:
                raise PacketLocked(f"packet {packet.id} is archived; it takes no more comments")
            values = work.scope.row(
                id=str(uuid.uuid4()),
                packet_id=packet.id,
                share_id=share.id,
                author=draft.author,
                body=draft.body,
                created_at=to_text(utcnow()),
            )
            row = (
                (
                    await work.conn.execute(
                        insert(packet_comments).values(values).returning(*packet_comments.c)
                    )
                )
                .mappings()
                .one()
            )
            return comment_from_row(row)

        return await self._use(link, ShareAction.COMMENT, post)

    async def add_content(self, link: ShareLink, draft: ContentDraft) -> PacketContent:
        async def add(work: UnitOfWork, share: PacketShare) -> PacketContent:
            return await add_content(work, share.packet_id, draft)

        return await self._use(link, ShareAction.EDIT, add)

    async def remove_content(self, link: ShareLink, content_entry_id: str) -> None:
        async def remove(work: UnitOfWork, share: PacketShare) -> None:
            await remove_content(work, share.packet_id, content_entry_id)

        await self._use(link, ShareAction.EDIT, remove)

    async def _use(
        self,
        link: ShareLink,
        action: ShareAction,
        perform: Callable[[UnitOfWork, PacketShare], Awaitable[T]],
    ) -> T:
        refusal: PacketsError | None = None
        async with self.tx.write(Scope()) as work:
            opened = await self._open(work, link.token)
            share = opened.share
            if opened.password_hash is not None:
                refusal = await self._check_password(work, share, opened.password_hash, link)
            if refusal is None:
                if not share.permissions.allows(action):
                    raise Forbidden(
                        f"this share link allows {share.permissions.value} only; "
                        f"it does not allow {action.value}"
                    )
                result = await perform(work, share)
                await log_access(work, share, action, link.client_address, to_text(utcnow()))
                await custody.append(
                    work, share.packet_id, "link_used", share_id=share.id, action=action.value
                )
                return result
        # A wrong password is committed to the access log before it is refused.
        assert refusal is not None
        raise refusal

    async def _open(self, work: UnitOfWork, token: str) -> OpenShare:
        # The one statement of a request not built through a Scope: the caller has no tenant;
        # the token is the credential, and the share it names decides the tenant from now on.
        statement = (
            select(packet_shares)
            .where(packet_shares.c.access_token == token_digest(token))
            .with_for_update()
        )
        row: RowLike | None = (await work.conn.execute(statement)).mappings().first()
        if row is None or row["revoked_at"] is not None:
            raise ShareNotFound("this share link does not exist or has been revoked")
        work.scope = Scope(tenant_id=row["tenant_id"], actor=SHARE_ACTOR_PREFIX + row["id"])
        share = share_from_row(row, utcnow())
        if share.state is ShareState.EXPIRED:
            assert share.expires_at is not None
            raise ShareExpired(f"this share link expired at {to_text(share.expires_at)}")
        return OpenShare(share, row["password_hash"])

    async def _check_password(
        self, work: UnitOfWork, share: PacketShare, password_hash: str, link: ShareLink
    ) -> PacketsError | None:
        now = utcnow()
        wait = await self._lockout_remaining(work, share.id, now)
        if wait > 0:
            raise TooManyAttempts(
                f"too many wrong passwords for this share link; try again in {wait} seconds",
                headers={"Retry-After": str(wait)},
            )
        if not link.password:
            raise PasswordRequired(
                "this share link needs a password (header X-Share-Password or the page's form)"
            )
        if await verify_password(link.password, password_hash):
            return None
        await log_access(
            work, share, ShareAction.PASSWORD_FAILURE, link.client_address, to_text(now)
        )
        return PasswordRequired("wrong password for this share link")

    async def _lockout_remaining(self, work: UnitOfWork, share_id: str, now: datetime) -> int:
        """Seconds left in the lockout that follows MAX_PASSWORD_FAILURES wrong passwords
        within FAILURE_WINDOW; failures live in the access log, so every process agrees."""
        statement = (
            work.scope.select(share_access_log, share_access_log.c.accessed_at)
            .where(
                share_access_log.c.share_id == share_id,
                share_access_log.c.action == ShareAction.PASSWORD_FAILURE.value,
            )
            .order_by(share_access_log.c.accessed_at.desc())
            .limit(MAX_PASSWORD_FAILURES)
        )
        times = [datetime.fromisoformat(t) for t in (await work.conn.scalars(statement)).all()]
        if len(times) < MAX_PASSWORD_FAILURES or times[0] - times[-1] > FAILURE_WINDOW:
            return 0
        remaining = (times[0] + self.lockout - now).total_seconds()
        return max(0, math.ceil(remaining))

    async def _page(self, work: UnitOfWork, share: PacketShare) -> SharedPacket:
        """What the viewer page shows: the packet, and who sealed it and whether that holds."""
        shown = await self._snapshot(work, share)
        shown.seal = await seal_view(work, share.packet_id, await self.trust.fingerprints(work))
        return shown

    @staticmethod
    async def _snapshot(work: UnitOfWork, share: PacketShare) -> SharedPacket:
        return SharedPacket(
            share=share,
            packet=await load_packet(work, share.packet_id),
            contents=await load_contents(work, share.packet_id),
            comments=await load_comments(work, share.packet_id),
        )
