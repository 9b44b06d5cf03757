"""What a disclosure proves (its disclosure.json and its seal, files aside): that the key
named signed a seal of format `arkham-packet-seal/2` of the packet and version the disclosure
names, and that each item it carries is part of the items that seal commits to (its leaf and
audit path fold to `items_root`, sealing/item_proofs.py). Whether the key is trusted, or was
revoked before the seal was made, as for any seal (sealing/key_trust.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .item_proofs import proof_problem
from .key_trust import KeyTrust, Revocation, judge
from .statement import STATEMENT_FIELDS, STATEMENT_FORMAT, Seal, check_signature

DISCLOSURE_FIELDS = {"packet_id", "version", "items_count", "items_root", "items"}
NOT_A_PACKET = "a disclosure proves items, it is not a packet"


@dataclass
class DisclosureCheck:
    problems: list[str] = field(default_factory=list)
    statement: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)  # those proven
    signed_by: str | None = None
    trusted: bool = False
    revocation: Revocation | None = None


def check_disclosure(disclosure: Any, seal: Seal | None, trust: KeyTrust) -> DisclosureCheck:
    check = DisclosureCheck()
    if not isinstance(disclosure, dict) or set(disclosure) != DISCLOSURE_FIELDS:
        check.problems.append(f"disclosure.json does not have exactly {sorted(DISCLOSURE_FIELDS)}")
        return check
    if seal is None:
        check.problems.append("the disclosure carries no seal (packet-seal.json)")
        return check
    signature = check_signature(seal)
    check.problems.extend(signature.problems)
    statement = seal.statement
    if (
        not isinstance(statement, dict)
        or statement.get("format") != STATEMENT_FORMAT
        or set(statement) != set(STATEMENT_FIELDS)
    ):
        check.problems.append(f"the seal is not a statement of format {STATEMENT_FORMAT}")
        return check
    check.statement = statement
    for name in ("packet_id", "version", "items_count", "items_root"):
        if disclosure[name] != statement[name]:
            check.problems.append(
                f"disclosure.json says {name} {disclosure[name]!r}, the seal {statement[name]!r}"
            )
    if statement["key_fingerprint"] != seal.key_fingerprint:
        check.problems.append("the seal's statement names another key than the seal")
    _check_items(check, disclosure["items"], statement)
    if signature.signed_by is not None and not check.problems:
        check.signed_by = signature.signed_by
        check.trusted = check.signed_by in trust.keys
        if check.signed_by in trust.revoked:
            check.revocation = judge(
                check.signed_by,
                trust.revoked[check.signed_by],
                statement,
                seal.signature,
                None,
            )
            check.trusted = check.trusted and check.revocation.before
    return check


def _check_items(check: DisclosureCheck, items: Any, statement: dict[str, Any]) -> None:
    if not isinstance(items, list) or not items:
        check.problems.append("disclosure.json's items is not a list of at least one item")
        return
    seen: set[Any] = set()
    for number, item in enumerate(items):
        problem = proof_problem(item, statement["items_root"], statement["items_count"])
        if problem is not None:
            check.problems.append(f"disclosed item {number} {problem}")
            continue
        if item["index"] in seen:
            check.problems.append(f"item {item['index']} is disclosed twice")
        seen.add(item["index"])
        check.items.append(item)
