"""How often a link may be used: at most `per_minute` uses within any minute, counted in the
access log (so every process agrees, as on the lockout) with the uses this process answered
and has not written yet, each counted once by its log row's id; another process's unwritten
uses (one pass of its writer) are not seen. A use past the limit is refused (429 with
Retry-After) before anything else is checked or written: it is not logged, so it neither
counts nor locks the link."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ..core.clock import to_text
from ..core.unit_of_work import UnitOfWork
from ..db.tables import share_access_log
from ..errors import TooManyAttempts
from .hours import USES
from .uses import UseLog

MINUTE = timedelta(minutes=1)
USES_PER_MINUTE = 120  # two a second for a minute: more than a person clicking ever sends


class UsePace:
    def __init__(self, per_minute: int, uses: UseLog) -> None:
        self.per_minute = per_minute
        self.uses = uses

    async def refuse_if_busy(self, work: UnitOfWork, share_id: str, now: datetime) -> None:
        """Reads at most `per_minute` rows of the log, however busy the link (0: no limit)."""
        if not self.per_minute:
            return
        waiting = self.uses.waiting(share_id)  # before the read: a use written since is in it
        log = share_access_log.c
        recent = (
            work.scope.select(share_access_log, log.id, log.accessed_at)
            .where(
                log.share_id == share_id,
                log.action.in_(USES),
                log.accessed_at > to_text(now - MINUTE),
            )
            .order_by(log.accessed_at)
            .limit(self.per_minute)
        )
        logged = (await work.conn.execute(recent)).all()
        if len(waiting.union(row.id for row in logged)) < self.per_minute:
            return
        # when the oldest use counted leaves the minute (uses not written yet are this moment's)
        oldest = logged[0].accessed_at if logged else None
        free = MINUTE if oldest is None else datetime.fromisoformat(oldest) + MINUTE - now
        wait = max(1, math.ceil(free.total_seconds()))
        raise TooManyAttempts(
            f"this share link was used {self.per_minute} times within a minute, as often as a "
            f"link may be; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
            for_page=f"this link was opened too often within a minute; try again in {wait} seconds",
        )
