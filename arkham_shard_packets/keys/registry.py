"""The public record of the installation's signing keys: every key it has signed with, and
which one is active. Installation-wide (no tenant), like the file registry: a fingerprint
and a public key are no tenant's secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from ..core.clock import now_text
from ..core.signing import ALGORITHM
from ..core.unit_of_work import UnitOfWork
from ..db.tables import signing_keys
from ..db.upsert import insert_or_skip


@dataclass(frozen=True)
class KeyRecord:
    fingerprint: str
    algorithm: str
    public_key: str  # base64 of the raw 32 bytes
    created_at: datetime
    active: bool


async def list_keys(work: UnitOfWork) -> list[KeyRecord]:
    statement = select(signing_keys).order_by(signing_keys.c.created_at, signing_keys.c.fingerprint)
    return [
        KeyRecord(
            fingerprint=row["fingerprint"],
            algorithm=row["algorithm"],
            public_key=row["public_key"],
            created_at=datetime.fromisoformat(row["created_at"]),
            active=row["retired_at"] is None,
        )
        for row in (await work.conn.execute(statement)).mappings()
    ]


async def active_fingerprints(work: UnitOfWork) -> set[str]:
    statement = select(signing_keys.c.fingerprint).where(signing_keys.c.retired_at.is_(None))
    return set((await work.conn.scalars(statement)).all())


async def fingerprints(work: UnitOfWork) -> set[str]:
    return set((await work.conn.scalars(select(signing_keys.c.fingerprint))).all())


async def activate(work: UnitOfWork, fingerprint: str, public_key: str) -> None:
    """Record the key if it is new and make it the only active one."""
    now = now_text()
    await work.conn.execute(
        insert_or_skip(signing_keys).values(
            fingerprint=fingerprint, algorithm=ALGORITHM, public_key=public_key, created_at=now
        )
    )
    await work.conn.execute(
        update(signing_keys)
        .where(signing_keys.c.fingerprint != fingerprint, signing_keys.c.retired_at.is_(None))
        .values(retired_at=now)
    )
    await work.conn.execute(
        update(signing_keys)
        .where(signing_keys.c.fingerprint == fingerprint, signing_keys.c.retired_at.is_not(None))
        .values(retired_at=None)
    )
