"""What a bundle carries beyond its payload to prove who sealed it and what happened to it:
the signed seal (seal_file.py) and the custody log (custody_file.py), read from a bag's tag
files or the json format's `seal` and `custody`, and checked against packet.json.

Fixity and the checksum are verify.py's: a bundle that fails them is refused whatever the
caller asks. What this module finds (a seal or a chain that does not check) is refused too,
unless the caller explicitly imports the bundle as unverified. What proves less without being
wrong is a warning: a sealed packet without a seal (sealed before signed seals), a bundle
without a custody log (exported before custody logs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...sealing.custody_chain import EMPTY_LOG
from ...sealing.evidence import Evidence, check_evidence
from ...sealing.key_trust import KeyTrust, OwnSeal
from ...sealing.statement import Seal, SealedFacts
from .bag import parse_manifest
from .custody_file import CUSTODY_FILE, MAX_CUSTODY_BYTES, custody_from_json, parse_custody
from .document import BundleDocument
from .seal_file import MAX_SEAL_BYTES, SEAL_FILE, parse_seal

TAG_MANIFEST = "tagmanifest-sha256.txt"
NO_CUSTODY = f"the bundle carries no custody log ({CUSTODY_FILE})"
NO_HISTORY = (
    f"{NO_CUSTODY}: nothing records the packet's history before this import (bundles "
    "exported before custody logs carry none)"
)
CARRIED_KEYS = ("seal", "custody")  # the json format's members beyond packet.json's


@dataclass
class CarriedEvidence:
    seal: Seal | None = None
    custody: list[str] | None = None  # None: the bundle carries no custody log
    problems: list[str] = field(default_factory=list)


def _listed_tags(root: Path) -> set[str]:
    path = root / TAG_MANIFEST
    if not path.is_file() or path.stat().st_size > 1024 * 1024:
        return set()
    entries, _ = parse_manifest(path.read_text(encoding="utf-8", errors="replace"), "sha256")
    return set(entries)


def _tag_bytes(root: Path, name: str, limit: int, listed: set[str], problems: list[str]) -> Any:
    path = root / name
    if not path.is_file() or path.is_symlink():
        return None
    if name not in listed:
        problems.append(f"{name} is not listed in {TAG_MANIFEST}")
    if path.stat().st_size > limit:
        problems.append(f"{name} is larger than {limit} bytes")
        return None
    return path.read_bytes()


def read_bag_evidence(root: Path) -> CarriedEvidence:
    """packet-seal.json and custody.jsonl at the bag's root; their digests are checked with
    the tag manifest's (verify.py), here only that the tag manifest lists them."""
    carried = CarriedEvidence()
    listed = _listed_tags(root)
    raw_seal = _tag_bytes(root, SEAL_FILE, MAX_SEAL_BYTES, listed, carried.problems)
    if raw_seal is not None:
        carried.seal = parse_seal(raw_seal, carried.problems)
    raw_custody = _tag_bytes(root, CUSTODY_FILE, MAX_CUSTODY_BYTES, listed, carried.problems)
    if raw_custody is not None:
        carried.custody = parse_custody(raw_custody, carried.problems)
    return carried


def json_evidence(members: dict[str, Any]) -> CarriedEvidence:
    """From the json format's `seal` and `custody` (taken out of the document before it is
    validated as packet.json)."""
    carried = CarriedEvidence()
    if members.get("seal") is not None:
        carried.seal = parse_seal(members["seal"], carried.problems)
    carried.custody = custody_from_json(members.get("custody"), carried.problems)
    return carried


def sealed_facts(document: BundleDocument) -> SealedFacts | None:
    packet = document.packet
    if packet.checksum is None:
        return None
    return SealedFacts(
        checksum=packet.checksum,
        checksum_recipe=packet.checksum_recipe,
        finalized_at=packet.finalized_at,
        version=packet.version,
    )


def check_carried(
    document: BundleDocument,
    carried: CarriedEvidence,
    trust: KeyTrust,
    own: OwnSeal | None = None,
) -> Evidence:
    """The seal's signature and statement against packet.json, the custody chain, and
    whether the key that signed is trusted (`own`: the receiving installation's own seal of
    the packet, which dates a seal by a revoked key)."""
    evidence = check_evidence(
        carried.custody or [],
        document.packet.id,
        carried.seal,
        sealed_facts(document),
        trust,
        own,
    )
    if carried.custody is None:  # not intact, as nothing is; refused only if a seal needs it
        evidence.chain.problems = [NO_CUSTODY]
        evidence.problems = [p for p in evidence.problems if p != EMPTY_LOG]
        evidence.warnings.insert(0, NO_HISTORY)
    evidence.problems = carried.problems + evidence.problems
    return evidence
