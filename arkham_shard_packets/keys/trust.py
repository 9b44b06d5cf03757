"""Which keys an installation trusts: its own (every key in its registry) and those it is told
to, by `ARKHAM_PACKETS_TRUSTED_KEYS` (comma-separated fingerprints or public key files) or the
CLI's `--trust`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..core.signing import FINGERPRINT, UnusableKey, fingerprint_of, public_key_from_text
from ..core.unit_of_work import UnitOfWork
from . import registry


def trusted_fingerprint(entry: str) -> str:
    """A fingerprint (`sha256:<hex>`), or the fingerprint of the public key in a file (PEM as
    `keys export` writes, or the base64 of the raw key as GET /keys shows)."""
    text = entry.strip()
    if FINGERPRINT.match(text.lower()):
        return text.lower()
    try:
        content = Path(text).read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise UnusableKey(
            f"{text!r} is neither a sha256: fingerprint nor a readable key file ({error.strerror})"
        ) from None
    content = content.strip()
    if FINGERPRINT.match(content.lower()):
        return content.lower()
    try:
        return fingerprint_of(public_key_from_text(content))
    except UnusableKey as error:
        raise UnusableKey(f"{text}: {error}") from None


def parse_trusted(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(trusted_fingerprint(entry) for entry in entries if entry.strip())


class TrustedKeys:
    def __init__(self, configured: frozenset[str] = frozenset()) -> None:
        self.configured = configured

    @classmethod
    def from_setting(cls, setting: str | None) -> TrustedKeys:
        return cls(parse_trusted((setting or "").split(",")))

    async def fingerprints(self, work: UnitOfWork) -> frozenset[str]:
        return self.configured | await registry.fingerprints(work)
