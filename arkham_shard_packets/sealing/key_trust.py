"""Which signing keys a verifier trusts, and which of them are revoked, since when.

A revoked key (its private key leaked, or may have) still verifies the seals it made, but only
a seal made before its revocation is trusted. When a seal was made is, by what proves it best:
this installation's own record, when it signed the seal itself (finalize or attest: the seal
row's time, which no bundle can change), else the time the statement gives (`finalized_at`,
or `attested_at` for an attestation), which whoever holds the leaked key can backdate. A seal
by a revoked key for a packet this installation sealed itself with another seal is not
trusted whatever it claims: the installation's record says which seal that packet has.

Revocations come from the installation's key registry (`arkham-packets keys revoke`) and from
`ARKHAM_PACKETS_REVOKED_KEYS` or `verify --revoked`, as `sha256:<hex>@<ISO 8601 time>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..core.clock import as_utc, to_text
from .signing import FINGERPRINT

RECORD = "record"  # this installation signed the seal, and its row says when
STATEMENT = "statement"  # nothing here records the seal: its statement's own time
ANOTHER_SEAL = "another seal"  # this installation sealed the packet itself, with another seal


@dataclass(frozen=True)
class OwnSeal:
    """A seal this installation signed itself, as its own row records it."""

    signature: str
    made_at: str


@dataclass(frozen=True)
class KeyTrust:
    keys: frozenset[str] = frozenset()
    revoked: Mapping[str, datetime] = field(default_factory=dict)


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 time as UTC (a time without an offset is taken to be UTC), else None."""
    if not isinstance(text, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00:00+01:00 in UTC
        return None


def parse_revocation(entry: str) -> tuple[str, datetime]:
    """`sha256:<hex>@<ISO 8601 time>`; raises ValueError saying what is wrong."""
    fingerprint, at, time = entry.strip().partition("@")
    fingerprint = fingerprint.strip().lower()
    if not at or not FINGERPRINT.match(fingerprint):
        raise ValueError(f"{entry.strip()!r} is not sha256:<64 hex digits>@<ISO 8601 time>")
    moment = parse_time(time)
    if moment is None:
        raise ValueError(f"{entry.strip()!r}: {time.strip()!r} is not an ISO 8601 time")
    return fingerprint, moment


def parse_revocations(entries: Iterable[str]) -> dict[str, datetime]:
    revoked: dict[str, datetime] = {}
    for entry in entries:
        if entry.strip():
            fingerprint, moment = parse_revocation(entry)
            revoked[fingerprint] = min(moment, revoked.get(fingerprint, moment))
    return revoked


def merged(*sources: Mapping[str, datetime]) -> dict[str, datetime]:
    """Every revocation of each source; a key revoked in several, at the earliest time."""
    revoked: dict[str, datetime] = {}
    for source in sources:
        for fingerprint, moment in source.items():
            revoked[fingerprint] = min(moment, revoked.get(fingerprint, moment))
    return revoked


@dataclass(frozen=True)
class Revocation:
    """A seal signed by a revoked key: whether it was made before the revocation, and how
    that is known."""

    fingerprint: str
    revoked_at: datetime
    made_at: str | None  # as the basis gives it
    basis: str  # RECORD, STATEMENT or ANOTHER_SEAL
    before: bool  # made before the revocation: trusted as far as the key is

    @property
    def proven_before(self) -> bool:
        """This installation's own record proves the seal older than the revocation: nothing
        to warn of."""
        return self.basis == RECORD and self.before

    @property
    def note(self) -> str:
        head = f"the seal is signed by {self.fingerprint}, revoked at {to_text(self.revoked_at)}"
        made = self.made_at
        if self.basis == ANOTHER_SEAL:
            return (
                f"{head}: this installation sealed the packet itself at {made}, with another "
                "seal, so this one is not trusted"
            )
        if self.basis == RECORD:
            when = (
                "before, so it is still trusted" if self.before else "after, so it is not trusted"
            )
            return f"{head}: this installation signed it at {made}, {when}"
        if made is None:
            return f"{head}: its statement gives no time it can be dated by, so it is not trusted"
        if not self.before:
            return f"{head}: its statement dates it {made}, after, so it is not trusted"
        return (
            f"{head}: its statement dates it {made}, before, and nothing here records it; "
            "whoever holds the revoked key can backdate a statement"
        )


def claimed_time(statement: Any) -> Any:
    """The time a statement says it was signed: an attestation's `attested_at`, a seal's
    `finalized_at`."""
    if not isinstance(statement, dict):
        return None
    if "attested_at" in statement:
        return statement["attested_at"]
    return statement.get("finalized_at")


def judge(
    fingerprint: str,
    revoked_at: datetime,
    statement: Any,
    signature: str,
    own: OwnSeal | None,
) -> Revocation:
    """Whether a seal that `fingerprint` signed, with `signature` over `statement`, was made
    before the key's revocation; `own`: this installation's own seal of the packet, if any."""
    if own is not None and own.signature != signature:
        return Revocation(fingerprint, revoked_at, own.made_at, ANOTHER_SEAL, False)
    basis, made = (RECORD, own.made_at) if own is not None else (STATEMENT, claimed_time(statement))
    moment = parse_time(made)
    shown = made if isinstance(made, str) and moment is not None else None
    before = moment is not None and moment < revoked_at
    return Revocation(fingerprint, revoked_at, shown, basis, before)
