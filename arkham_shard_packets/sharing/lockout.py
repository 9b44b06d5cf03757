"""When wrong passwords lock a link: 5 within a minute for `lockout` (a few minutes), and
`daily_failures` within a day for good, until its owner revokes it and shares the packet
again. Failures live in the access log, so every process agrees on the locks."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ..core.unit_of_work import UnitOfWork
from ..db.tables import share_access_log
from ..errors import TooManyAttempts
from ..models import ShareAction

MAX_PASSWORD_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=1)
DAILY_WINDOW = timedelta(days=1)


class PasswordLockout:
    def __init__(self, lockout: timedelta, daily_failures: int) -> None:
        self.lockout = lockout
        self.daily_failures = max(daily_failures, MAX_PASSWORD_FAILURES)

    async def refuse_if_locked(self, work: UnitOfWork, share_id: str, now: datetime) -> None:
        """A link with `daily_failures` failures within a day is locked for good: once locked,
        no guess is checked or logged any more, so its newest failures stay the ones that
        locked it."""
        statement = (
            work.scope.select(share_access_log, share_access_log.c.accessed_at)
            .where(
                share_access_log.c.share_id == share_id,
                share_access_log.c.action == ShareAction.PASSWORD_FAILURE.value,
            )
            .order_by(share_access_log.c.accessed_at.desc())
            .limit(self.daily_failures)
        )
        times = [datetime.fromisoformat(t) for t in (await work.conn.scalars(statement)).all()]
        if len(times) == self.daily_failures and times[0] - times[-1] <= DAILY_WINDOW:
            raise TooManyAttempts(
                f"this share link is locked after {self.daily_failures} wrong passwords within "
                "a day; ask its owner for a new link"
            )
        recent = times[:MAX_PASSWORD_FAILURES]
        if len(recent) < MAX_PASSWORD_FAILURES or recent[0] - recent[-1] > FAILURE_WINDOW:
            return
        wait = math.ceil((recent[0] + self.lockout - now).total_seconds())
        if wait > 0:
            raise TooManyAttempts(
                f"too many wrong passwords for this share link; try again in {wait} seconds",
                headers={"Retry-After": str(wait)},
            )
