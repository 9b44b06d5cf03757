"""Response bodies of the custody route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class SupersededOut(BaseModel):
    chain: int
    head: str | None
    entries: int
    intact: bool


class CustodyOut(BaseModel):
    """`entries`: a slice of the log in order, `limit` entries from `offset` (`length`: how
    many it has); `head` the hash of its last entry; `intact` whether the whole chain checks,
    `problems` what does not."""

    packet_id: str
    entries: list[Any]
    length: int
    limit: int
    offset: int
    head: str | None
    intact: bool
    from_creation: bool
    problems: list[str]
    superseded: list[SupersededOut]
