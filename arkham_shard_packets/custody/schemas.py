"""Response bodies of the custody route."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..records.examples import Answer
from ..records.schemas import EntriesOut


class SupersededOut(Answer):
    chain: int
    head: str | None
    entries: int
    intact: bool


class CustodyOut(Answer):
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
    covered_entries: int = Field(
        description="entries 1 to this number are covered by the packet's seal's signature "
        "(covered_by), which checks; 0 when no signature covers any (a draft, a packet sealed "
        "before signed seals, a seal that does not check)"
    )
    covered_by: str | None = Field(description="the key whose signature covers them")
    unproven_entries: EntriesOut | None = Field(
        description="entries an import carried in beyond what the bundle's seal covered: the "
        "bundle's own account, which no signature covers (not proven); null when there are "
        "none. The entries after these and the covered ones were recorded here."
    )
