"""The shard's clock, moved forward by a test instead of the test sleeping.

Every moment the shard decides by (a link's expiry, a lockout's end, a pace's window) is
`models.utcnow()`, which modules take by name (`from ..models import utcnow`) and core/clock.py
turns into text. The `clock` fixture (conftest.py) puts `now` in its place in every module of
the package that holds it, for the test's in-process hosts (a server in another process keeps
the real time).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import pytest

from arkham_shard_packets import models

PACKAGE = "arkham_shard_packets"


class Clock:
    """The real time, plus however far the test has moved it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def past(self, moment: str) -> None:
        """Moves the clock just past `moment` (ISO 8601, as the API answers it)."""
        ahead = datetime.fromisoformat(moment) - now()
        self.offset += max(ahead, timedelta(0)) + timedelta(milliseconds=1)


CLOCK = Clock()


def now() -> datetime:
    return datetime.now(timezone.utc) + CLOCK.offset


def install(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """`now` in place of `models.utcnow` wherever the package's loaded modules hold it. A module
    loaded later takes `now` from `models` and keeps it after the test: the real time again
    once `reset` has moved the clock back."""
    real = models.utcnow
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == PACKAGE and getattr(module, "utcnow", None) is real:
            monkeypatch.setattr(module, "utcnow", now)
    return CLOCK


def reset() -> None:
    CLOCK.offset = timedelta(0)
