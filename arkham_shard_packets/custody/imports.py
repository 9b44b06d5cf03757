"""An import in the receiving side's custody log.

A packet new here, or a draft that becomes the bundle's sealed packet, takes the history the
bundle carried: its log starts anew with the carried entries (a log the packet had here stays,
superseded, and the import entry names its head). Any other import (into a draft that stays a
draft) is one more entry of the packet's own log. Either way the import entry says what was
proven: who signed, whether that key is trusted, whether the chain held, and, when the caller
accepted a bundle that failed those checks, that it is unverified and why; and, as a claim
nothing proves, who the bundle says created the packet and added its items (the packet names
the importer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ..core.unit_of_work import UnitOfWork
from ..db.tables import packet_custody
from ..sealing.custody_chain import IMPORTED, parse_entry
from ..sealing.evidence import Evidence
from ..sealing.statement import Seal
from .log import append, append_to_carried
from .seals import IMPORTED as IMPORTED_SEAL
from .seals import store_seal

SHOWN_PROBLEMS = 20
PROBLEM_CHARS = 1000  # of each, so that the entry stays within the bounds of a carried one


@dataclass(frozen=True)
class ImportRecord:
    source: str
    merge_mode: str
    bundle_packet_id: str
    seal: Seal | None
    evidence: Evidence  # its chain: the log the bundle carried, checked
    unverified: bool  # accepted although `evidence` has problems
    contents_imported: int
    claimed: dict[str, Any] = field(default_factory=dict)  # the bundle's account of its making


def travelling_source(source: str) -> str:
    """The import's source as the log carries it to whoever receives an export of it: an
    upload's file name, or a server-side file's name without the folders it was in."""
    if source.startswith("upload:"):
        return source
    return f"file:{PurePath(source).name}"


async def record_import(
    work: UnitOfWork,
    packet_id: str,
    record: ImportRecord,
    *,
    takes_history: bool,
    sealed_version: int | None,
) -> None:
    """`sealed_version`: the version the import recorded the bundle's seal as, if it did."""
    evidence = record.evidence
    details: dict[str, Any] = {
        "source": travelling_source(record.source),
        "merge_mode": record.merge_mode,
        "contents_imported": record.contents_imported,
        "bundle_packet_id": record.bundle_packet_id,
        "bundle_custody_head": evidence.chain.head,
        "bundle_custody_entries": evidence.chain.length,
        "custody_intact": evidence.custody_intact,
        "signed_by": evidence.signed_by,
        "trusted": evidence.trusted,
        "sealed": sealed_version is not None,
        "unverified": record.unverified,
        "claimed": record.claimed,
    }
    if record.unverified:
        details["problems"] = [
            problem if len(problem) <= PROBLEM_CHARS else problem[:PROBLEM_CHARS] + "…"
            for problem in evidence.problems[:SHOWN_PROBLEMS]
        ]
    if takes_history:  # evidence.chain: the log the bundle carried, checked
        await append_to_carried(work, packet_id, evidence.chain, IMPORTED, **details)
    else:
        await append(work, packet_id, IMPORTED, **details)
    if sealed_version is not None and record.seal is not None:
        await store_seal(work, packet_id, sealed_version, record.seal, IMPORTED_SEAL)


async def last_import(work: UnitOfWork, packet_id: str) -> dict[str, Any] | None:
    """The packet's latest import entry in its current log, or None if it was made here."""
    await work.flush()
    statement = (
        work.scope.select(packet_custody, packet_custody.c.entry)
        .where(
            packet_custody.c.packet_id == packet_id,
            # entries are canonical JSON: the event is written exactly so
            packet_custody.c.entry.contains(f'"event":"{IMPORTED}"'),
        )
        .order_by(packet_custody.c.chain.desc(), packet_custody.c.position.desc())
        .limit(1)
    )
    text = await work.conn.scalar(statement)
    return None if text is None else parse_entry(text)
