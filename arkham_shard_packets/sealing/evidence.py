"""What a packet's seal and custody log prove, wherever they were read from (the stored rows,
a bundle): the chain checked (sealing/custody_chain.py), the seal checked against the packet
and the chain (sealing/statement.py), and whether the key that signed it is trusted, or was
revoked before it signed (sealing/key_trust.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .custody_chain import ChainCheck, Entry, check_chain
from .key_trust import KeyTrust, OwnSeal, Revocation, judge
from .statement import Seal, SealCheck, SealedFacts, check_seal

UNSIGNED = (
    "sealed before signed seals: the checksum shows the contents are unchanged since they "
    "were sealed, but no signature says who sealed them"
)


@dataclass
class Evidence:
    """What a packet's seal and custody log prove, wherever they were read from."""

    chain: ChainCheck
    seal: SealCheck | None  # None: nothing sealed, or no seal to check
    trusted: bool
    problems: list[str]  # what does not check
    sealed_length: int | None = None  # the custody entries a seal that checks covers
    warnings: list[str] = field(default_factory=list)  # what holds, but proves less
    revocation: Revocation | None = None  # the key that signed is revoked: since when

    @property
    def signed(self) -> bool:
        """There is a signed seal (it may not check: see `signature_valid`)."""
        return self.seal is not None

    @property
    def attested_at(self) -> str | None:
        return None if self.seal is None else self.seal.attested_at

    @property
    def signed_by(self) -> str | None:
        return None if self.seal is None else self.seal.signed_by

    @property
    def signature_valid(self) -> bool | None:
        return None if self.seal is None else self.seal.signature_valid

    @property
    def custody_intact(self) -> bool:
        return self.chain.intact


def check_evidence(
    custody: Sequence[str],
    packet_id: str,
    seal: Seal | None,
    facts: SealedFacts | None,
    trust: KeyTrust,
    own: OwnSeal | None = None,
    *,
    imported_here: bool = False,
) -> Evidence:
    """`facts` None: the packet is not sealed, so there must be no seal either. A sealed
    packet without a seal was sealed before signed seals (a warning), unless its log records
    that its seal was signed: then the seal was removed (a problem). `own`: the seal this
    installation signed itself for the packet, if any, which dates a seal by a revoked key
    (sealing/key_trust.py). `imported_here`: the seal is one an import into this installation
    stored, under the id its log says."""
    chain = check_chain(custody, packet_id)
    problems = [*chain.problems, *chain.unverified]
    warnings: list[str] = []
    checked = None
    if facts is None:
        if seal is not None:
            problems.append("there is a seal, but the packet is not sealed")
    elif seal is None:
        signing = chain.signing_entry()
        if signing is None:
            warnings.append(UNSIGNED)
        else:
            problems.append(_seal_removed(signing))
    else:
        checked = check_seal(
            seal, facts, chain, _sealed_as(chain, packet_id, seal, imported_here, warnings)
        )
        problems.extend(checked.problems)
    signer = None if checked is None else checked.signed_by
    trusted = signer is not None and signer in trust.keys
    revocation = None
    if signer is not None and seal is not None and signer in trust.revoked:
        revocation = judge(signer, trust.revoked[signer], seal.statement, seal.signature, own)
        trusted = trusted and revocation.before
        if not revocation.proven_before:
            warnings.append(revocation.note)
    evidence = Evidence(chain, checked, trusted, problems, warnings=warnings, revocation=revocation)
    if checked is not None and not checked.problems and seal is not None:
        evidence.sealed_length = seal.statement["custody_length"]
    return evidence


def _sealed_as(
    chain: ChainCheck, packet_id: str, seal: Seal, imported_here: bool, warnings: list[str]
) -> str:
    """The id the seal must name: the packet's own; for a seal an import stored here, the id
    the bundle named when the import had to give the packet a new one (its `imported` entry
    records both). A bundle's packet is always the one its seal names."""
    named = seal.statement.get("packet_id") if isinstance(seal.statement, dict) else None
    if not imported_here or not isinstance(named, str) or named == packet_id:
        return packet_id
    found = chain.history_import()
    if found is None:
        return packet_id
    seq, entry = found
    if entry["packet_id"] != packet_id or entry["details"].get("bundle_packet_id") != named:
        return packet_id
    warnings.append(
        f"the seal is about packet {named}: this installation imported it as packet "
        f"{packet_id} (custody entry {seq}), which the seal does not cover; its exports name "
        f"it {named}, as its seal does"
    )
    return named


def _seal_removed(entry: Entry) -> str:
    key = entry["details"].get("key_fingerprint")
    signed = "signed" if key is None else f"signed with {key}"
    return (
        f"the packet is sealed but has no signed seal, though custody entry {entry['seq']} "
        f"({entry['event']}) records that its seal was {signed}: the seal was removed"
    )
