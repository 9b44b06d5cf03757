"""Which keys an installation trusts: its own (every key in its registry) and those it is told
to, by `ARKHAM_PACKETS_TRUSTED_KEYS` (comma-separated fingerprints or public key files) or the
CLI's `--trust`."""

from __future__ import annotations

from ..core.signing import parse_trusted
from ..core.unit_of_work import UnitOfWork
from . import registry


class TrustedKeys:
    def __init__(self, configured: frozenset[str] = frozenset()) -> None:
        self.configured = configured

    @classmethod
    def from_setting(cls, setting: str | None) -> TrustedKeys:
        return cls(parse_trusted((setting or "").split(",")))

    async def fingerprints(self, work: UnitOfWork) -> frozenset[str]:
        return self.configured | await registry.fingerprints(work)
