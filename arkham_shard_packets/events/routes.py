"""GET /events: every packet change, in order, from the outbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from ..core.numbers import INT64_SAFE, clamp
from ..deps import ScopeDep, ServicesDep
from ..records.examples import Answer
from ..routing import PacketsRoute

router = APIRouter(route_class=PacketsRoute, tags=["events"])

FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX = 100, 1000


class FeedEventOut(Answer):
    # The wire's name for the event's position in the feed (FeedEvent.position), which
    # consumers read: not the outbox's `sequence` column.
    sequence: int = Field(
        description="The event's position in the feed, which `after` and `next_after` count in"
    )
    event_type: str
    payload: dict[str, Any]
    source: str
    created_at: str


class FeedOut(Answer):
    events: list[FeedEventOut]
    count: int
    next_after: int


@router.get("/events", response_model=FeedOut, summary="Follow every change, in order")
async def event_feed(
    services: ServicesDep,
    scope: ScopeDep,
    after: Annotated[
        int, Query(description="Return events past this position in the feed (the last next_after)")
    ] = 0,
    limit: Annotated[
        int,
        Query(description=f"At most this many events (clamped to 1..{FEED_LIMIT_MAX})"),
    ] = FEED_LIMIT_DEFAULT,
) -> FeedOut:
    """The durable event feed: every event of the caller's packets, oldest first, from the
    outbox each change writes in its own transaction. Keep `next_after` and ask again to
    follow without gaps, from any process."""
    after = clamp(after, 0, INT64_SAFE)
    events = await services.feed.after(scope, after, clamp(limit, 1, FEED_LIMIT_MAX))
    return FeedOut(
        events=[
            FeedEventOut(
                sequence=event.position,
                event_type=event.event_type,
                payload=event.payload,
                source=event.source,
                created_at=event.created_at,
            )
            for event in events
        ],
        count=len(events),
        next_after=events[-1].position if events else after,
    )
