"""The record of the installation's signing keys: every key it has signed with, which one is
active, and which are revoked since when (sealing/key_trust.py). Installation-wide (no tenant),
like the file registry: a fingerprint and a public key are no tenant's secret. The active key
kept in the database has its private key here too, encrypted (keys/key_vault.py); GET /keys
shows none of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text, update

from ..core.clock import now_text, to_text
from ..core.unit_of_work import UnitOfWork
from ..db.tables import signing_keys
from ..db.upsert import insert_or_skip
from ..sealing.signing import ALGORITHM

# Any constant: the PostgreSQL advisory lock under which a key becomes the active one, so
# servers starting at once agree on one key. SQLite's writers take turns anyway.
KEYS_LOCK = 7_361_092_118_457_310_251


class RevokedKey(Exception):
    def __init__(self, fingerprint: str, revoked_at: datetime) -> None:
        super().__init__(f"{fingerprint} was revoked at {to_text(revoked_at)}")
        self.fingerprint = fingerprint
        self.revoked_at = revoked_at


@dataclass(frozen=True)
class KeyRecord:
    fingerprint: str
    algorithm: str
    public_key: str  # base64 of the raw 32 bytes
    created_at: datetime
    active: bool
    revoked_at: datetime | None = None


def _record(row: Any) -> KeyRecord:
    revoked_at = row["revoked_at"]
    return KeyRecord(
        fingerprint=row["fingerprint"],
        algorithm=row["algorithm"],
        public_key=row["public_key"],
        created_at=datetime.fromisoformat(row["created_at"]),
        active=row["retired_at"] is None,
        revoked_at=None if revoked_at is None else datetime.fromisoformat(revoked_at),
    )


@dataclass(frozen=True)
class ActiveKey:
    """The key that signs now, as the registry holds it."""

    fingerprint: str
    public_key: str
    encrypted_private_key: str | None  # kept in the database; None: kept in a key file
    kek_check: str | None
    key_check: str | None

    @property
    def in_database(self) -> bool:
        return self.encrypted_private_key is not None


async def lock(work: UnitOfWork) -> None:
    """Until `work` commits, no other server changes which key is active."""
    if work.conn.dialect.name == "postgresql":
        await work.conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": KEYS_LOCK})


async def active_key(work: UnitOfWork) -> ActiveKey | None:
    c = signing_keys.c
    statement = select(
        c.fingerprint, c.public_key, c.encrypted_private_key, c.kek_check, c.key_check
    ).where(c.retired_at.is_(None))
    row = (await work.conn.execute(statement)).mappings().first()
    return None if row is None else ActiveKey(**row)


async def list_keys(work: UnitOfWork) -> list[KeyRecord]:
    statement = select(signing_keys).order_by(signing_keys.c.created_at, signing_keys.c.fingerprint)
    return [_record(row) for row in (await work.conn.execute(statement)).mappings()]


async def find_key(work: UnitOfWork, fingerprint: str) -> KeyRecord | None:
    statement = select(signing_keys).where(signing_keys.c.fingerprint == fingerprint)
    row = (await work.conn.execute(statement)).mappings().first()
    return None if row is None else _record(row)


async def active_fingerprints(work: UnitOfWork) -> set[str]:
    statement = select(signing_keys.c.fingerprint).where(signing_keys.c.retired_at.is_(None))
    return set((await work.conn.scalars(statement)).all())


async def fingerprints(work: UnitOfWork) -> set[str]:
    return set((await work.conn.scalars(select(signing_keys.c.fingerprint))).all())


async def revocations(work: UnitOfWork) -> dict[str, datetime]:
    statement = select(signing_keys.c.fingerprint, signing_keys.c.revoked_at).where(
        signing_keys.c.revoked_at.is_not(None)
    )
    rows = await work.conn.execute(statement)
    return {fingerprint: datetime.fromisoformat(at) for fingerprint, at in rows}


async def revoke(work: UnitOfWork, fingerprint: str, at: str) -> bool:
    """Revoke a retired key at `at`, or earlier than it was: a revocation only moves back.
    False when nothing changed (no such retired key, or revoked at `at` or before)."""
    statement = (
        update(signing_keys)
        .where(
            signing_keys.c.fingerprint == fingerprint,
            signing_keys.c.retired_at.is_not(None),
            or_(signing_keys.c.revoked_at.is_(None), signing_keys.c.revoked_at > at),
        )
        .values(revoked_at=at)
    )
    return bool((await work.conn.execute(statement)).rowcount)


async def activate(
    work: UnitOfWork,
    fingerprint: str,
    public_key: str,
    *,
    key_check: str | None = None,
    encrypted_private_key: str | None = None,
    kek_check: str | None = None,
) -> None:
    """Record the key if it is new and make it the only active one; a revoked key never
    signs again. A retired key's private key leaves the database with it."""
    key = await find_key(work, fingerprint)
    if key is not None and key.revoked_at is not None:
        raise RevokedKey(fingerprint, key.revoked_at)
    now = now_text()
    held = {
        "key_check": key_check,
        "encrypted_private_key": encrypted_private_key,
        "kek_check": kek_check,
    }
    await work.conn.execute(
        insert_or_skip(signing_keys).values(
            fingerprint=fingerprint,
            algorithm=ALGORITHM,
            public_key=public_key,
            created_at=now,
            **held,
        )
    )
    await work.conn.execute(
        update(signing_keys)
        .where(signing_keys.c.fingerprint != fingerprint, signing_keys.c.retired_at.is_(None))
        .values(retired_at=now, encrypted_private_key=None, kek_check=None)
    )
    await work.conn.execute(
        update(signing_keys)
        .where(
            signing_keys.c.fingerprint == fingerprint,
            signing_keys.c.retired_at.is_not(None),
            signing_keys.c.revoked_at.is_(None),
        )
        .values(retired_at=None)
    )
    if key is not None:
        await hold(work, fingerprint, **held)


async def hold(
    work: UnitOfWork,
    fingerprint: str,
    *,
    key_check: str | None = None,
    encrypted_private_key: str | None = None,
    kek_check: str | None = None,
) -> None:
    """Where the key is kept: in the database (`encrypted_private_key` and `kek_check`) or in
    a file (the file key's `key_check`, None when its file's layout gives none)."""
    await work.conn.execute(
        update(signing_keys)
        .where(signing_keys.c.fingerprint == fingerprint)
        .values(
            key_check=key_check, encrypted_private_key=encrypted_private_key, kek_check=kek_check
        )
    )
