"""A link's password at each use: the viewer page's session stands in for it, else it is
checked, and only once its guess is logged as a failure under the share's row lock (withdrawn
when it proves right), so guesses arriving together get no more tries than the lockout allows.
A session is never a way around the lockout: the link's use checks the lockout first.
"""

from __future__ import annotations

from ..core.clock import to_text
from ..core.unit_of_work import Transactions
from ..db.scope import Scope
from ..errors import PasswordRequired
from ..models import ShareAction, utcnow
from .links import OpenShare, ShareLink, lock_link
from .lockout import PasswordLockout
from .records import log_access, withdraw_access
from .sessions import LinkSessions
from .tokens import verify_password


class LinkPasswords:
    def __init__(
        self, transactions: Transactions, lockout: PasswordLockout, sessions: LinkSessions
    ) -> None:
        self.tx = transactions
        self.lockout = lockout
        self.sessions = sessions

    async def admit(self, opened: OpenShare, link: ShareLink) -> None:
        """The link's password, unless it has none: a password the request sends is checked
        (a wrong one is logged), else its session must be one of this link's with its
        present password."""
        stored = opened.password_hash
        if stored is None:
            return
        if link.password is None and self.sessions.admits(
            link.session, opened.share.id, stored, utcnow()
        ):
            return
        await self.check(stored, link)

    async def sign_in(self, opened: OpenShare, link: ShareLink) -> str | None:
        """The session the password the request sends opens (checked as at any use), for a
        link with a password; None for one without."""
        if opened.password_hash is None:
            return None
        await self.check(opened.password_hash, link)
        return self.sessions.issue(opened.share.id, opened.password_hash, utcnow())

    async def check(self, password_hash: str, link: ShareLink) -> None:
        if not link.password:
            raise PasswordRequired(
                "this share link needs a password: send it in the X-Share-Password header",
                for_page="this link is protected by a password: type it below to open the packet",
            )
        scope, guess = await self._claim_guess(link)
        if not await verify_password(link.password, password_hash):
            raise PasswordRequired(
                "wrong password for this share link",
                for_page="that password is not right; try again",
            )
        async with self.tx.write(scope) as work:
            await withdraw_access(work, guess)

    async def _claim_guess(self, link: ShareLink) -> tuple[Scope, str]:
        """A guess counts as a wrong password until it proves right: under the share's row
        lock, refused if the link is locked, else logged as a failure (and so counted by every
        guess after it) before its password is checked. Answers the share's scope and the log
        row's id."""
        async with self.tx.write(Scope()) as work:
            share = await lock_link(work, link.token)
            await self.lockout.refuse_if_locked(work, share.id, utcnow())
            now = to_text(utcnow())
            entry = await log_access(
                work, share, ShareAction.PASSWORD_FAILURE, link.client_address, now
            )
            return work.scope, entry
