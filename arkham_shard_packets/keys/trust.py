"""Which keys an installation trusts: its own (every key in its registry) and those it is told
to, by `ARKHAM_PACKETS_TRUSTED_KEYS` (comma-separated fingerprints or public key files) or the
CLI's `--trust`; and which are revoked since when: in its registry (`keys revoke`) and by
`ARKHAM_PACKETS_REVOKED_KEYS` (comma-separated `sha256:<hex>@<ISO 8601 time>`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..core.unit_of_work import UnitOfWork
from ..sealing.key_trust import KeyTrust, merged, parse_revocations
from ..sealing.signing import UnusableKey, parse_trusted
from . import registry


class TrustedKeys:
    def __init__(
        self,
        configured: frozenset[str] = frozenset(),
        revoked: Mapping[str, datetime] | None = None,
    ) -> None:
        self.configured = configured
        self.revoked = dict(revoked or {})

    @classmethod
    def from_setting(cls, setting: str | None, revoked: str | None = None) -> TrustedKeys:
        try:
            revocations = parse_revocations((revoked or "").split(","))
        except ValueError as error:
            raise UnusableKey(f"ARKHAM_PACKETS_REVOKED_KEYS: {error}") from None
        return cls(parse_trusted((setting or "").split(",")), revocations)

    async def fingerprints(self, work: UnitOfWork) -> frozenset[str]:
        return self.configured | await registry.fingerprints(work)

    async def load(self, work: UnitOfWork) -> KeyTrust:
        """The keys trusted now, and the revocations known now."""
        revoked = merged(self.revoked, await registry.revocations(work))
        return KeyTrust(await self.fingerprints(work), revoked)
