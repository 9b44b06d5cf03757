"""What a share link opens. The token is the only credential: it names the share, the packet
and the tenant. Every use checks, in this order: the link exists and is not revoked (404), it
has not expired (410), it was not used too often within the last minute (429, sharing/pace.py),
the password lockout (429), the password (401), the permission (403), then the packet's own
rules (409); a use that passes is logged and counted (a read after the answer,
sharing/uses.py), and entered in custody when it opens an hour for its link (sharing/hours.py).
An unknown, expired, busy, locked or forbidden link writes nothing on the request path. The
viewer page's session stands in for the password, never for the other checks; a password is
checked as sharing/passwords.py says.

Wrong passwords lock a link twice over: 5 within a minute for `lockout` (a few minutes), and
`daily_failures` within a day for good, until its owner revokes it and shares the packet again
(sharing/lockout.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import insert

from ..attachments.service import OpenedFile, open_attached
from ..bundles.export import SealedBundle
from ..core.byte_ranges import WHOLE, Wanted
from ..core.clock import to_text
from ..core.store import Store
from ..core.unit_of_work import Transactions, UnitOfWork
from ..custody.imports import last_import
from ..db.scope import Scope
from ..db.tables import packet_comments
from ..errors import Forbidden
from ..keys.trust import TrustedKeys
from ..models import (
    ExportFormat,
    HandedFile,
    Packet,
    PacketComment,
    PacketContent,
    PacketShare,
    ShareAction,
    utcnow,
)
from ..packets.contents import ContentDraft, add_content, remove_content
from ..records import lifecycle
from ..records.packets import load_contents, load_packet
from ..sealing.custody_coverage import Coverage
from ..versions.integrity import SealView, log_coverage, seal_view
from . import hours
from .hours import LinkUse
from .item_limits import LinkBundles, refuse_unshown, shown_items
from .links import OpenShare, ShareLink, lock_link, open_link
from .lockout import PasswordLockout
from .pace import USES_PER_MINUTE, UsePace
from .passwords import LinkPasswords
from .records import Slice, comment_from_row, load_comments, log_access
from .sessions import LinkSessions
from .uses import Use, UseLog

T = TypeVar("T")

READS = frozenset({ShareAction.READ, ShareAction.VIEW})
COMMENTS_SHOWN = 50
LATEST_COMMENTS = Slice(COMMENTS_SHOWN, None)  # what a link shows unless asked for others


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
    comments: list[PacketComment]  # a slice of them, oldest first
    comments_total: int
    comments_limit: int
    comments_offset: int
    seal: SealView | None = None  # on the viewer page
    origin: dict[str, Any] | None = None  # the custody entry of its latest import, if any
    custody: Coverage | None = None  # on the viewer page: what a signature covers of its log


class ShareAccessService:
    def __init__(
        self,
        transactions: Transactions,
        files: Store,
        uses: UseLog,
        lockout: timedelta,
        daily_failures: int = 20,
        trust: TrustedKeys | None = None,
        *,
        bundles: LinkBundles,
        uses_per_minute: int = USES_PER_MINUTE,
        session_lifetime: timedelta = timedelta(minutes=30),
    ) -> None:
        self.tx = transactions
        self.files = files
        self.uses = uses
        self.pace = UsePace(uses_per_minute, uses)
        self.lockout = PasswordLockout(lockout, daily_failures)
        self.passwords = LinkPasswords(transactions, self.lockout, LinkSessions(session_lifetime))
        self.trust = trust or TrustedKeys()
        self.bundles = bundles

    async def check(self, token: str) -> OpenShare:
        """The refusals a link earns before anyone reads what the request carries: it does
        not exist or was revoked (404), it expired (410), it was used too often within the last
        minute or is locked (429). Writes nothing."""
        async with self.tx.read(Scope()) as work:
            opened = await open_link(work, token, lock=False)
            await self.pace.refuse_if_busy(work, opened.share.id, utcnow())
            if opened.password_hash is not None:
                await self.lockout.refuse_if_locked(work, opened.share.id, utcnow())
        return opened

    async def sign_in(self, link: ShareLink) -> str | None:
        """The viewer page's session for a link with a password, once the password the link
        sends proves right (a wrong one counted by the lockout); None for a link without one.
        Not a use of the link: what the page then opens is."""
        return await self.passwords.sign_in(await self.check(link.token), link)

    async def read(self, link: ShareLink, comments: Slice = LATEST_COMMENTS) -> SharedPacket:
        return await self._use(link, ShareAction.READ, partial(self._snapshot, comments=comments))

    async def view(self, link: ShareLink, comments: Slice = LATEST_COMMENTS) -> SharedPacket:
        """The viewer page."""
        return await self._use(link, ShareAction.VIEW, partial(self._page, comments=comments))

    async def comment(
        self, link: ShareLink, comment: CommentDraft | Callable[[], CommentDraft]
    ) -> PacketComment:
        """Posts a comment through the link; a callable `comment` (the viewer page's form) is
        read only once the link has been checked, so a bad link is never a bad form. Emits
        `packets.comment.added`."""

        async def post(work: UnitOfWork, share: PacketShare) -> PacketComment:
            draft = comment() if callable(comment) else comment
            packet = await load_packet(work, share.packet_id)
            lifecycle.COMMENT.check(packet)
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
            work.emit(
                "packets.comment.added",
                packet_id=packet.id,
                comment_id=row["id"],
                share_id=share.id,
                author=draft.author,
            )
            return comment_from_row(row)

        return await self._use(link, ShareAction.COMMENT, post)

    async def open_file(
        self, link: ShareLink, content_entry_id: str, wanted: Wanted = WHOLE
    ) -> OpenedFile:
        """An item's attached file, or the range `wanted` asks for, for any link (view and
        up): every answer with bytes is a download, logged and counted as the link's other
        uses are; a range of none of the file's bytes (416) hands nothing over and is not."""

        opened: list[OpenedFile] = []

        async def open_it(work: UnitOfWork, share: PacketShare) -> OpenedFile:
            await load_packet(work, share.packet_id)
            refuse_unshown(share, content_entry_id)
            file = await open_attached(work, self.files, share.packet_id, content_entry_id, wanted)
            opened.append(file)
            return file

        def handed(opened: OpenedFile) -> HandedFile:
            return HandedFile(opened.file.name, opened.file.sha256, content_entry_id)

        try:
            return await self._use(link, ShareAction.DOWNLOAD, open_it, handed)
        except BaseException:  # opened, but its use could not be logged: nothing is handed over
            for file in opened:
                file.source.close()
            raise

    async def add_content(self, link: ShareLink, draft: ContentDraft) -> PacketContent:
        async def add(work: UnitOfWork, share: PacketShare) -> PacketContent:
            return await add_content(work, share.packet_id, draft)

        return await self._use(link, ShareAction.EDIT, add)

    async def remove_content(self, link: ShareLink, content_entry_id: str) -> None:
        async def remove(work: UnitOfWork, share: PacketShare) -> None:
            await remove_content(work, share.packet_id, content_entry_id)

        await self._use(link, ShareAction.EDIT, remove)

    async def bundle(self, link: ShareLink, export_format: ExportFormat) -> SealedBundle:
        """The sealed version's bundle, for any link (view and up); 409 for a draft. It is made
        once the link has passed its checks, outside any transaction, and handed over only
        if the link still holds when its use is recorded (access log, and custody with the
        bundle's SHA-256 when it opens an hour for the link) under the share's lock: a link
        revoked while it was being made gets nothing."""
        opened = await self.check(link.token)
        await self._admit(opened, link, ShareAction.BUNDLE)
        made = await self.bundles.made(opened.scope, opened.share, export_format)
        try:
            async with self.tx.write(Scope()) as work:
                share = await lock_link(work, link.token)
                await self._record(
                    work,
                    share,
                    ShareAction.BUNDLE,
                    link,
                    HandedFile(made.name, made.sha256),
                    format=export_format.value,
                    version=made.version,
                    sha256=made.sha256,
                    size=made.source.size,
                )
        except BaseException:
            made.source.close()
            raise
        return made

    async def _use(
        self,
        link: ShareLink,
        action: ShareAction,
        perform: Callable[[UnitOfWork, PacketShare], Awaitable[T]],
        handed: Callable[[T], HandedFile] | None = None,
    ) -> T:
        # The checks read. A password is hashed outside any transaction, and only once its
        # guess has taken a place among the failures the lockout counts (sharing/passwords.py),
        # so no more guesses are checked than the lockout allows, however many arrive at once.
        # Only a change (a comment, an edit, a download: the file `handed` names) takes the
        # write lock on the request path: a read is recorded after the answer, and through a
        # link without a password it is one read transaction.
        reading = action in READS
        async with self.tx.read(Scope()) as work:
            opened = await open_link(work, link.token, lock=False)
            await self.pace.refuse_if_busy(work, opened.share.id, utcnow())
            if opened.password_hash is not None:
                await self.lockout.refuse_if_locked(work, opened.share.id, utcnow())
            elif reading and opened.share.permissions.allows(action):
                return await self._read(work, opened.share, link, action, perform)
        await self._admit(opened, link, action)
        if reading:
            async with self.tx.read(Scope()) as work:
                share = (await open_link(work, link.token, lock=False)).share
                return await self._read(work, share, link, action, perform)
        async with self.tx.write(Scope()) as work:
            share = await lock_link(work, link.token)
            result = await perform(work, share)
            file = None if handed is None else handed(result)
            await self._record(work, share, action, link, file)
        return result

    async def _admit(self, opened: OpenShare, link: ShareLink, action: ShareAction) -> None:
        """The password or the page's session (a wrong password is logged), then whether the
        link allows the action."""
        await self.passwords.admit(opened, link)
        if not opened.share.permissions.allows(action):
            raise Forbidden(
                f"this share link allows {opened.share.permissions.value} only; "
                f"it does not allow {action.value}"
            )

    @staticmethod
    async def _record(
        work: UnitOfWork,
        share: PacketShare,
        action: ShareAction,
        link: ShareLink,
        file: HandedFile | None = None,
        **details: Any,
    ) -> None:
        """A use that changes something or hands a `file` over, logged before the answer, and
        entered in custody if it opens an hour for its link (`share` read under the lock)."""
        now = to_text(utcnow())
        await log_access(work, share, action, link.client_address, now, file)
        await hours.account(work, share, share.last_accessed_at, [LinkUse(now, action, details)])

    async def _read(
        self,
        work: UnitOfWork,
        share: PacketShare,
        link: ShareLink,
        action: ShareAction,
        perform: Callable[[UnitOfWork, PacketShare], Awaitable[T]],
    ) -> T:
        """What a checked link shows, its use queued to be recorded (sharing/uses.py)."""
        shown = await perform(work, share)
        at = to_text(utcnow())
        use = Use(share, work.scope, action, link.client_address, at)
        await self.uses.record(use)
        return shown

    async def _page(self, work: UnitOfWork, share: PacketShare, comments: Slice) -> SharedPacket:
        """What the viewer page shows: the packet, and who sealed it and whether that holds."""
        shown = await self._snapshot(work, share, comments)
        trust = await self.trust.load(work)
        shown.seal = await seal_view(work, share.packet_id, trust)
        shown.origin = await last_import(work, share.packet_id)
        shown.custody = (
            await log_coverage(work, share.packet_id, trust)
            if shown.seal is None or shown.seal.coverage is None
            else shown.seal.coverage
        )
        return shown

    @staticmethod
    async def _snapshot(work: UnitOfWork, share: PacketShare, comments: Slice) -> SharedPacket:
        packet = await load_packet(work, share.packet_id)
        contents = shown_items(share, await load_contents(work, share.packet_id))
        # A link's recipients see the comments left through that link, never another's (a
        # public link's visitors don't read what a named reviewer wrote); the owner reads
        # them all (GET /{packet_id}/comments).
        shown, total, offset = await load_comments(work, share.packet_id, share.id, comments)
        return SharedPacket(share, packet, contents, shown, total, comments.limit, offset)
