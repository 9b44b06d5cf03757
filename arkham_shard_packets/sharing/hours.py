"""A link's uses in its packet's custody log: at most one `link_used` entry a link an hour.

The access log keeps every use of a link, one row each; the custody log keeps an account of
them that no amount of use grows by more than an entry an hour for each link. The first use of
a link in an hour (UTC, by the time its answer was given) writes the entry, in the transaction
that logs the use and under the packet's row lock, like every writer of the log:

    "details": {"share_id", "action", "hour",
                "previous": {"hour", "uses": {"read": 498, "view": 2}}}

`action` is what that first use was (a bundle's also names the bundle it handed over:
`format`, `version`, `sha256`, `size`), `hour` the hour it opens, and `previous` the link's
latest earlier hour with uses and how many uses of each kind the access log held for that hour
when the entry was written (absent from a link's first entry). So an entry counts the hour
before it: the uses of a link's latest hour are counted by the link's next entry, and until
then in its access log only. A use written after a later hour of its link was opened (one a
process queued in the last moments of an hour, written after another process's first use of
the next) is in the access log and not in any entry's count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func

from ..core.clock import to_text
from ..core.unit_of_work import UnitOfWork
from ..custody import log as custody
from ..db.tables import share_access_log
from ..models import PacketShare, ShareAction

HOUR = timedelta(hours=1)
USES = tuple(action.value for action in ShareAction if action is not ShareAction.PASSWORD_FAILURE)


@dataclass(frozen=True)
class LinkUse:
    at: str  # when it was answered, as the access log has it
    action: ShareAction
    details: Mapping[str, Any] = field(default_factory=dict)  # what its entry names besides


@dataclass(frozen=True)
class Opening:
    """A use that opens an hour of its link, and the link's hour with uses before it."""

    use: LinkUse
    hour: datetime
    previous: datetime | None


def hour_of(moment: str | datetime) -> datetime:
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def openings(last_use: str | datetime | None, uses: Iterable[LinkUse]) -> list[Opening]:
    """Of one link's uses, those that open an hour, given the link's latest use before them."""
    opened = None if last_use is None else hour_of(last_use)
    found = []
    for use in sorted(uses, key=lambda use: use.at):
        hour = hour_of(use.at)
        if opened is None or hour > opened:
            found.append(Opening(use, hour, opened))
            opened = hour
    return found


async def uses_in(work: UnitOfWork, share_id: str, hour: datetime) -> dict[str, int]:
    """The link's uses of each kind the access log holds for the hour (the work's own too)."""
    action = share_access_log.c.action
    statement = (
        work.scope.select(share_access_log, action, func.count())
        .where(
            share_access_log.c.share_id == share_id,
            action.in_(USES),
            share_access_log.c.accessed_at >= to_text(hour),
            share_access_log.c.accessed_at < to_text(hour + HOUR),
        )
        .group_by(action)
        .order_by(action)
    )
    return {kind: int(count) for kind, count in await work.conn.execute(statement)}


async def enter(work: UnitOfWork, share: PacketShare, opening: Opening) -> None:
    """The opening's entry, once the work has logged the link's uses up to it."""
    use = opening.use
    details: dict[str, Any] = {
        "share_id": share.id,
        "action": use.action.value,
        **use.details,
        "hour": to_text(opening.hour),
    }
    if opening.previous is not None:
        uses = await uses_in(work, share.id, opening.previous)
        details["previous"] = {"hour": to_text(opening.previous), "uses": uses}
    await custody.append(work, share.packet_id, "link_used", **details)


async def account(
    work: UnitOfWork, share: PacketShare, last_use: str | datetime | None, uses: Sequence[LinkUse]
) -> None:
    """The entries one link's uses call for, logged by the work already; `last_use`: the
    link's latest use before them (its `last_accessed_at`, read under the packet's lock)."""
    for opening in openings(last_use, uses):
        await enter(work, share, opening)
