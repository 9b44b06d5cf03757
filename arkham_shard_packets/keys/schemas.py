"""Response bodies of the keys route."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..core.schemas import UtcDatetime


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    fingerprint: str
    algorithm: str
    public_key: str
    created_at: UtcDatetime
    active: bool


class KeysOut(BaseModel):
    keys: list[KeyOut]
