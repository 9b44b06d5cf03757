"""Checking a packet's stored custody log and signed seal: the same checks a recipient runs on
an exported bundle (sealing/evidence.py), plus what only the stored rows can show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.unit_of_work import UnitOfWork
from ..db.tables import packet_versions
from ..models import VersionKind
from ..records.packets import load_packet_row
from ..sealing.custody_chain import IMPORTED, check_chain, parse_entry
from ..sealing.custody_coverage import Coverage, stored_coverage
from ..sealing.evidence import Evidence, check_evidence
from ..sealing.key_trust import KeyTrust
from ..sealing.statement import SealedFacts
from .log import StoredEntry, read_chains
from .seals import IMPORTED as IMPORTED_SEAL
from .seals import load_seal, own_seal


@dataclass(frozen=True)
class Superseded:
    """An earlier log of the packet, replaced by the history a sealed import brought."""

    chain: int
    head: str | None
    entries: int
    intact: bool


@dataclass
class CustodyReport:
    packet_id: str
    evidence: Evidence
    entries: list[StoredEntry]  # the current log
    superseded: list[Superseded]

    @property
    def problems(self) -> list[str]:
        return self.evidence.problems

    @property
    def coverage(self) -> Coverage:
        return stored_coverage(self.evidence)

    def shown(self, limit: int | None, offset: int) -> list[Any]:
        """The current log's entries from `offset`, at most `limit` of them; an entry that is
        not well formed is shown as its stored text."""
        end = None if limit is None else offset + limit
        shown = []
        for stored in self.entries[offset:end]:
            entry = parse_entry(stored.text)
            shown.append(stored.text if entry is None else entry)
        return shown


def _superseding_link(newer: list[StoredEntry], chain: int) -> str | None:
    """The head of log `chain` as the import entry that replaced it recorded it."""
    for stored in newer:
        entry = parse_entry(stored.text)
        if entry is None or entry["event"] != IMPORTED:
            continue
        superseded: Any = entry["details"].get("superseded")
        if isinstance(superseded, dict) and superseded.get("chain") == chain:
            head = superseded.get("head")
            return head if isinstance(head, str) else None
    return None


async def stored_evidence(
    work: UnitOfWork,
    packet_id: str,
    facts: SealedFacts | None,
    trust: KeyTrust,
) -> CustodyReport:
    """`facts`: what the packet's row says about its seal, None when it is not sealed (its
    `version` is the sealed version, whose seal row is read). A seal signed by a revoked key
    is dated by this installation's record when it signed the seal itself."""
    chains = await read_chains(work, packet_id)
    current = max(chains) if chains else 1
    entries = chains.get(current, [])
    loaded = None
    if facts is not None and facts.version is not None:
        loaded = await load_seal(work, packet_id, facts.version)
    seal, origin = loaded if loaded is not None else (None, None)
    if facts is not None and origin == IMPORTED_SEAL:
        # numbered as its sealer numbered it; the local history may number it otherwise
        facts = SealedFacts(facts.checksum, facts.checksum_recipe, facts.finalized_at, None)
    own = None
    if seal is not None and seal.key_fingerprint in trust.revoked:
        own = await own_seal(work, packet_id, seal.signature)
    evidence = check_evidence(
        [e.text for e in entries],
        packet_id,
        seal,
        facts,
        trust,
        own,
        imported_here=origin == IMPORTED_SEAL,
    )
    stored = [
        f"custody entry {e.position} no longer has the digest stored beside it"
        for e, digest in zip(entries, evidence.chain.hashes, strict=True)
        if e.sha256 != digest
    ]
    evidence.chain.problems.extend(stored)
    evidence.problems.extend(stored)
    superseded = []
    for number in sorted(chains):
        if number == current:
            continue
        older = check_chain([e.text for e in chains[number]], packet_id)
        problems = [f"superseded custody log {number}: {p}" for p in older.problems]
        if _superseding_link(chains.get(number + 1, []), number) != older.head:
            problems.append(f"custody log {number + 1} does not name the head of log {number}")
        evidence.problems.extend(problems)
        superseded.append(Superseded(number, older.head, older.length, not problems))
    return CustodyReport(packet_id, evidence, entries, superseded)


async def sealed_version_number(work: UnitOfWork, packet_id: str) -> int | None:
    """The version finalize (or a sealed import) recorded: the one the seal is stored with."""
    statement = (
        work.scope.select(packet_versions, packet_versions.c.version_number)
        .where(
            packet_versions.c.packet_id == packet_id,
            packet_versions.c.kind == VersionKind.FINALIZED.value,
        )
        .order_by(packet_versions.c.version_number)
        .limit(1)
    )
    number: int | None = await work.conn.scalar(statement)
    return number


async def packet_evidence(work: UnitOfWork, packet_id: str, trust: KeyTrust) -> CustodyReport:
    """The packet's custody log and, when it is sealed, its signed seal, checked."""
    packet = await load_packet_row(work, packet_id)
    facts = None
    if packet["checksum"] is not None:
        facts = SealedFacts(
            checksum=packet["checksum"],
            checksum_recipe=packet["checksum_recipe"],
            finalized_at=packet["finalized_at"],
            version=await sealed_version_number(work, packet_id),
        )
    return await stored_evidence(work, packet_id, facts, trust)
