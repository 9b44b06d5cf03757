"""Response bodies of the keys route."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from ..records.examples import Answer
from ..records.schemas import UtcDatetime


class KeyOut(Answer):
    model_config = ConfigDict(from_attributes=True)

    fingerprint: str
    algorithm: str
    public_key: str
    created_at: UtcDatetime
    active: bool
    revoked_at: UtcDatetime | None = Field(
        description="from when its seals are no longer trusted (`arkham-packets keys "
        "revoke`): a seal it made before stays trusted; null for a key not revoked"
    )


class KeysOut(Answer):
    keys: list[KeyOut]
