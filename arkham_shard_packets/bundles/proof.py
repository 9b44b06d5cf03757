"""What an import proves beyond fixity and the checksum (format/verify.py): who signed the
seal, whether this installation trusts that key, and whether the custody chain holds
(format/evidence.py); a seal by a revoked key is dated by this installation's own seal of the
packet when it has one. A bundle that fails those is refused unless the caller explicitly
accepts it as unverified; then the packet and its custody log say so."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..core.unit_of_work import Transactions
from ..custody.imports import ImportRecord
from ..custody.seals import own_seal
from ..db.scope import Scope
from ..errors import InvalidInput, UnverifiedBundle
from ..keys.trust import TrustedKeys
from ..models import MergeMode
from ..sealing.custody_coverage import Coverage, bundle_coverage, coverage_text
from ..sealing.evidence import Evidence
from .claims import claims
from .format.document import BundleDocument
from .format.evidence import check_carried
from .format.verify import VerifiedBundle

TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def flag_of(value: str | None, name: str) -> bool:
    """A form field's yes or no."""
    text = (value or "").strip().lower()
    if text not in TRUE + FALSE:
        raise InvalidInput(f"{name} must be true or false")
    return text in TRUE


@dataclass(frozen=True)
class Proof:
    bundle: VerifiedBundle
    evidence: Evidence
    unverified: bool  # accepted with problems, as the caller asked

    @property
    def mark(self) -> str:
        """What the version an unverified import records starts its summary with."""
        return "UNVERIFIED (its seal or custody log does not check): " if self.unverified else ""

    @property
    def warnings(self) -> list[str]:
        """What the answer's `warnings` says about the proof: the import happened, as the
        caller asked, but it proves less than a trusted signed seal would."""
        evidence = self.evidence
        notes = [f"imported as unverified: {problem}" for problem in evidence.problems]
        notes.extend(evidence.warnings)  # a revoked key's among them
        notes.extend(self._untrusted())
        if self.bundle.sealed and self.coverage.unproven is not None:
            notes.append(coverage_text(self.coverage))
        return notes

    @property
    def coverage(self) -> Coverage:
        """Which of the bundle's custody entries its seal's signature covers."""
        return bundle_coverage(self.evidence)

    @property
    def trust_notes(self) -> list[str]:
        """Why a seal that checks is not trusted, or trusted on its own word only."""
        revocation = self.evidence.revocation
        notes = [] if revocation is None or revocation.proven_before else [revocation.note]
        return notes + self._untrusted()

    def _untrusted(self) -> list[str]:
        evidence = self.evidence
        revocation = evidence.revocation
        if evidence.signed_by is None or evidence.trusted:
            return []
        if revocation is not None and not revocation.before:
            return []  # the revocation says why
        return [
            f"the seal is signed by {evidence.signed_by}, a key this installation does not trust"
        ]

    def record(
        self, source: str, mode: MergeMode, document: BundleDocument, count: int
    ) -> ImportRecord:
        carried = self.bundle.carried
        return ImportRecord(
            source=source,
            merge_mode=mode.value,
            bundle_packet_id=document.packet.id,
            seal=carried.seal,
            evidence=self.evidence,
            unverified=self.unverified,
            contents_imported=count,
            claimed=claims(document),
        )


async def examine(
    transactions: Transactions,
    trust: TrustedKeys,
    scope: Scope,
    bundle: VerifiedBundle,
    allow_unverified: bool,
) -> Proof:
    seal = bundle.carried.seal
    async with transactions.read(scope) as work:
        known = await trust.load(work)
        own = None
        if seal is not None and seal.key_fingerprint in known.revoked:
            own = await own_seal(work, bundle.document.packet.id, seal.signature)
    evidence = await asyncio.to_thread(check_carried, bundle.document, bundle.carried, known, own)
    if evidence.problems and not allow_unverified:
        raise UnverifiedBundle(evidence.problems)
    return Proof(bundle, evidence, bool(evidence.problems))
