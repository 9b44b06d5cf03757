"""The signed seal: a statement of what was sealed, when, by whom and under which custody log
head, signed with the installation's Ed25519 key over the statement's canonical JSON bytes
(the canonical JSON of the checksum recipe, core/canonical.py).

    {"format": "arkham-packet-seal/2", "packet_id", "version", "checksum", "checksum_recipe",
     "finalized_at", "finalized_by", "key_fingerprint", "custody_head", "custody_length",
     "items_root", "items_count"}

`items_root` commits to the items one by one (sealing/item_proofs.py), so a disclosure can
prove some of them without the rest. Seals of format `arkham-packet-seal/1` (the same without
those two) were signed before it and keep verifying.

`custody_head` is the hash of entry `custody_length` of the packet's custody log, the entry
that records the finalize (sealing/custody_chain.py): the signature covers the packet's whole
history up to its seal, and nothing after it. `packet_id` binds the seal to its packet: a
bundle is the packet its seal names, or it does not check. Checking a seal, wherever it is
(stored, in a bundle), is `check_seal`; `check_evidence` (sealing/evidence.py) adds the
custody chain and the trust in the key (and whether a revoked key signed it before its
revocation: sealing/key_trust.py).

A packet sealed before signed seals existed has a checksum and no seal. Its installation may
sign it later, as an attestation, a statement of its own format that says so:

    {"format": "arkham-packet-attestation/1", "packet_id", "version", "checksum",
     "checksum_recipe", "finalized_at", "attested_at", "attested_by", "key_fingerprint",
     "custody_head", "custody_length"}

`attested_at` is when it was signed (`finalized_at` stays the recorded seal's time), there is
no `finalized_by` (no signature vouched for who sealed it then), and `custody_head` names the
`attested` entry: the signature covers the log as it stood when the attestation was made. An
attestation is checked as a seal is; a verifier that knows only the seal's format refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.canonical import canonical_json
from .custody_chain import ChainCheck
from .signing import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    fingerprint_of,
    signature_checks,
    unb64,
)

SEAL_V1 = "arkham-packet-seal/1"
STATEMENT_FORMAT = "arkham-packet-seal/2"
HEX = frozenset("0123456789abcdef")
ATTESTATION_FORMAT = "arkham-packet-attestation/1"
SEAL_V1_FIELDS = (
    "format",
    "packet_id",
    "version",
    "checksum",
    "checksum_recipe",
    "finalized_at",
    "finalized_by",
    "key_fingerprint",
    "custody_head",
    "custody_length",
)
STATEMENT_FIELDS = (*SEAL_V1_FIELDS, "items_root", "items_count")
ATTESTATION_FIELDS = (
    "format",
    "packet_id",
    "version",
    "checksum",
    "checksum_recipe",
    "finalized_at",
    "attested_at",
    "attested_by",
    "key_fingerprint",
    "custody_head",
    "custody_length",
)
FIELDS = {
    SEAL_V1: SEAL_V1_FIELDS,
    STATEMENT_FORMAT: STATEMENT_FIELDS,
    ATTESTATION_FORMAT: ATTESTATION_FIELDS,
}


def statement_bytes(statement: Any) -> bytes:
    """What the signature covers. Raises ValueError for what JSON can't carry (NaN)."""
    return canonical_json(statement).encode("utf-8")


def _signs(public_key: bytes, signature: bytes, statement: Any) -> bool:
    try:
        message = statement_bytes(statement)
    except (TypeError, ValueError):
        return False
    return signature_checks(public_key, signature, message)


def seal_statement(
    *,
    packet_id: str,
    version: int,
    checksum: str,
    checksum_recipe: int,
    finalized_at: str,
    finalized_by: str,
    key_fingerprint: str,
    custody_head: str,
    custody_length: int,
    items_root: str,
    items_count: int,
) -> dict[str, Any]:
    return {
        "format": STATEMENT_FORMAT,
        "packet_id": packet_id,
        "version": version,
        "checksum": checksum,
        "checksum_recipe": checksum_recipe,
        "finalized_at": finalized_at,
        "finalized_by": finalized_by,
        "key_fingerprint": key_fingerprint,
        "custody_head": custody_head,
        "custody_length": custody_length,
        "items_root": items_root,
        "items_count": items_count,
    }


def attestation_statement(
    *,
    packet_id: str,
    version: int,
    checksum: str,
    checksum_recipe: int,
    finalized_at: str,
    attested_at: str,
    attested_by: str,
    key_fingerprint: str,
    custody_head: str,
    custody_length: int,
) -> dict[str, Any]:
    return {
        "format": ATTESTATION_FORMAT,
        "packet_id": packet_id,
        "version": version,
        "checksum": checksum,
        "checksum_recipe": checksum_recipe,
        "finalized_at": finalized_at,
        "attested_at": attested_at,
        "attested_by": attested_by,
        "key_fingerprint": key_fingerprint,
        "custody_head": custody_head,
        "custody_length": custody_length,
    }


@dataclass(frozen=True)
class Seal:
    """A statement with its signature and the public key to check it, as the shard stores it
    and as a bundle carries it (packet-seal.json)."""

    statement: Any
    signature: str
    public_key: str
    key_fingerprint: str

    def as_json(self) -> dict[str, Any]:
        return {
            "statement": self.statement,
            "signature": self.signature,
            "public_key": self.public_key,
            "key_fingerprint": self.key_fingerprint,
        }

    @classmethod
    def from_json(cls, value: Any) -> Seal | None:
        if not isinstance(value, dict) or set(value) != {
            "statement",
            "signature",
            "public_key",
            "key_fingerprint",
        }:
            return None
        texts = (value["signature"], value["public_key"], value["key_fingerprint"])
        if not all(isinstance(text, str) for text in texts):
            return None
        return cls(value["statement"], *texts)


@dataclass(frozen=True)
class SealedFacts:
    """What the packet itself says about its seal. `version` None is not compared (a seal
    imported over a local history numbers its version as the sealer did)."""

    checksum: str | None
    checksum_recipe: int | None
    finalized_at: str | None
    version: int | None


@dataclass
class SealCheck:
    named_key: str  # the fingerprint the seal names
    signature_valid: bool
    problems: list[str] = field(default_factory=list)
    attested_at: str | None = None  # a seal signed later, as an attestation: when

    @property
    def signed_by(self) -> str | None:
        """Who signed, when the signature proves it."""
        return self.named_key if self.signature_valid else None


def _statement_problems(statement: Any) -> list[str]:
    if not isinstance(statement, dict):
        return ["the seal's statement does not have the seal's fields"]
    named = statement.get("format")
    fields = FIELDS.get(named) if isinstance(named, str) else None
    if fields is None:
        return [
            f"the seal's statement is not in the format {STATEMENT_FORMAT} "
            f"(nor {SEAL_V1} or {ATTESTATION_FORMAT})"
        ]
    if set(statement) != set(fields):
        return [f"the seal's statement does not have the fields of {statement['format']}"]
    for name in ("version", "checksum_recipe", "custody_length", "items_count"):
        if name not in statement:
            continue
        if not isinstance(statement[name], int) or isinstance(statement[name], bool):
            return [f"the seal's statement has no whole number {name}"]
    if fields is ATTESTATION_FIELDS and not isinstance(statement["attested_at"], str):
        return ["the attestation's statement has no attested_at time"]
    if fields is STATEMENT_FIELDS and not _is_hex64(statement["items_root"]):
        return ["the seal's statement has no items_root of 64 hex digits"]
    return []


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)


def check_seal(seal: Seal, facts: SealedFacts, chain: ChainCheck, packet_id: str) -> SealCheck:
    """`packet_id`: the packet the seal must be about (a bundle's, or a stored packet's own)."""
    check = check_signature(seal)
    statement = seal.statement
    shape = _statement_problems(statement)
    if shape:
        check.problems.extend(shape)
        return check
    if statement["format"] == ATTESTATION_FORMAT:
        check.attested_at = statement["attested_at"]
    check.problems.extend(_fact_problems(statement, seal.key_fingerprint, facts, packet_id))
    check.problems.extend(_custody_problems(statement, chain))
    return check


def check_signature(seal: Seal) -> SealCheck:
    """Whether the seal's key is the one it names and its signature covers its statement."""
    named = seal.key_fingerprint
    public_key = unb64(seal.public_key, KEY_BYTES)
    signature = unb64(seal.signature, SIGNATURE_BYTES)
    named_right = public_key is not None and fingerprint_of(public_key) == named
    signs = (
        public_key is not None
        and signature is not None
        and _signs(public_key, signature, seal.statement)
    )
    check = SealCheck(named, named_right and signs)
    problems = check.problems
    if public_key is None:
        problems.append("the seal's public key is not the base64 of a 32-byte Ed25519 key")
    elif not named_right:
        problems.append(f"the seal's public key does not have the fingerprint it names ({named})")
    if signature is None:
        problems.append("the seal's signature is not the base64 of a 64-byte Ed25519 signature")
    elif public_key is not None and not signs:
        problems.append(
            "the seal's signature does not check against its key: "
            "the statement or the signature was changed"
        )
    return check


def _fact_problems(statement: Any, named: str, facts: SealedFacts, packet_id: str) -> list[str]:
    """Where the statement says otherwise than the seal and the packet."""
    problems = []
    if statement["key_fingerprint"] != named:
        problems.append("the seal's statement names another key than the seal")
    if statement["packet_id"] != packet_id:
        problems.append(
            f"the seal is about packet {statement['packet_id']}, not packet {packet_id}"
        )
    for name, expected in (
        ("checksum", facts.checksum),
        ("checksum_recipe", facts.checksum_recipe),
        ("finalized_at", facts.finalized_at),
        ("version", facts.version),
    ):
        if (name != "version" or expected is not None) and statement[name] != expected:
            problems.append(
                f"the seal's statement says {name} {statement[name]!r}, the packet {expected!r}"
            )
    return problems


def _custody_problems(statement: Any, chain: ChainCheck) -> list[str]:
    """Whether the custody log up to the entry the statement names is the one sealed."""
    length = statement["custody_length"]
    head = chain.hash_at(length)
    if head is None:
        return [f"the seal covers custody entries 1 to {length}, the log holds {chain.length}"]
    if head != statement["custody_head"]:
        return [
            f"the custody log up to entry {length} is not the one that was sealed "
            f"(its head is {head}, the seal names {statement['custody_head']})"
        ]
    entry = chain.entry_at(length)
    if entry is not None and entry["packet_id"] != statement["packet_id"]:
        return ["the seal is about another packet than its custody log"]
    return []
