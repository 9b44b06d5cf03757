"""Timestamps are stored and served as ISO 8601 text in UTC with an explicit offset.

One fixed width (microseconds, +00:00) keeps text order equal to time order in SQL.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..models import utcnow


def as_utc(moment: datetime) -> datetime:
    """A naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def to_text(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="microseconds")


def now_text() -> str:
    return to_text(utcnow())


def utc_text(moment: datetime) -> str:
    """A moment as people read it: `2026-12-31 18:00:00 UTC`."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")
