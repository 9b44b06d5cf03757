"""Item proofs (sealing/merkle.py, sealing/item_proofs.py) against a verifier written here
from RFC 9162 §2.1 with hashlib and cryptography alone: for any packet of 0 to 300 items and
any subset, every disclosed item's proof folds to the signed root, and one byte changed in an
entry, a salt, an audit path, an index or the statement fails the check."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arkham_shard_packets.sealing.checksum import checksum_of_entries, packet_checksum
from arkham_shard_packets.sealing.item_proofs import (
    SealedItems,
    disclose,
    new_salts,
    proof_problem,
)
from arkham_shard_packets.sealing.merkle import Tree, leaf_hash, root_from_proof

KEY = Ed25519PrivateKey.generate()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, recursively, over the leaves themselves."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def fold(index: int, size: int, node: bytes, path: list[bytes]) -> bytes | None:
    """The root a proof gives, top-down: the last hash of a path is the sibling subtree at the
    first split, the rest proves the leaf within its side."""
    if not 0 <= index < size:
        return None
    if size == 1:
        return node if not path else None
    if not path:
        return None
    k = 1
    while k * 2 < size:
        k *= 2
    *inner, sibling = path
    if index < k:
        below = fold(index, k, node, inner)
        return None if below is None else hashlib.sha256(b"\x01" + below + sibling).digest()
    below = fold(index - k, size - k, node, inner)
    return None if below is None else hashlib.sha256(b"\x01" + sibling + below).digest()


def independently_proven(seal: dict[str, Any], item: dict[str, Any]) -> bool:
    public = KEY.public_key()
    try:
        public.verify(base64.b64decode(seal["signature"]), canonical(seal["statement"]))
    except InvalidSignature:
        return False
    statement = seal["statement"]
    leaf = canonical({"entry": item["entry"], "salt": item["salt"]})
    root = fold(
        item["index"],
        statement["items_count"],
        hashlib.sha256(b"\x00" + leaf).digest(),
        [bytes.fromhex(node) for node in item["audit_path"]],
    )
    return root is not None and root.hex() == statement["items_root"]


def records(count: int) -> list[dict[str, Any]]:
    return [
        {
            "content_type": "document",
            "content_id": f"doc-{n}",
            "content_title": f"Exhibit {n} é",
            "order_num": (n * 7) % 5,
            "data": {"n": n} if n % 3 else None,
            "file_sha256": hashlib.sha256(str(n).encode()).hexdigest() if n % 2 else None,
        }
        for n in range(count)
    ]


def sealed(count: int) -> tuple[SealedItems, list[str], dict[str, Any]]:
    items = SealedItems.of(records(count))
    salts = new_salts(count)
    statement = {
        "format": "arkham-packet-seal/2",
        "packet_id": "p",
        "items_root": items.tree(salts).root.hex(),
        "items_count": count,
    }
    signature = base64.b64encode(KEY.sign(canonical(statement))).decode()
    return items, salts, {"statement": statement, "signature": signature}


def flip(text: str, at: int) -> str:
    """One character of hex or text changed to another."""
    at %= len(text)
    new = "0" if text[at] != "0" else "1"
    return text[:at] + new + text[at + 1 :]


def tampered(item: dict[str, Any], seal: dict[str, Any], what: str, at: int) -> tuple[Any, Any]:
    item, seal = json.loads(json.dumps(item)), json.loads(json.dumps(seal))
    if what == "entry":
        names = sorted(name for name, value in item["entry"].items() if isinstance(value, str))
        name = names[at % len(names)]
        item["entry"][name] = flip(item["entry"][name], at)
    elif what == "salt":
        item["salt"] = flip(item["salt"], at)
    elif what == "audit_path":
        path = item["audit_path"]
        path[at % len(path)] = flip(path[at % len(path)], at)
    elif what == "index":
        item["index"] += 1 + at % 3 if at % 2 else -(1 + at % 3)
    else:
        statement = seal["statement"]
        statement["items_root"] = flip(statement["items_root"], at)
    return item, seal


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_disclosed_item_is_proven_and_every_changed_byte_is_caught(data: Any) -> None:
    count = data.draw(st.integers(0, 300), label="items")
    items, salts, seal = sealed(count)
    leaves = [canonical({"entry": e, "salt": s}) for e, s in zip(items.entries, salts, strict=True)]
    assert seal["statement"]["items_root"] == mth(leaves).hex()
    chosen = data.draw(st.sets(st.integers(0, max(count - 1, 0)), max_size=count), label="subset")
    disclosed = disclose(items, salts, chosen)
    assert [item["index"] for item in disclosed] == sorted(chosen)
    statement = seal["statement"]
    for item in disclosed:
        assert independently_proven(seal, item)
        assert proof_problem(item, statement["items_root"], count) is None
    if not disclosed:
        return
    item = data.draw(st.sampled_from(disclosed), label="item")
    kinds = ["entry", "salt", "index", "statement"] + (["audit_path"] if item["audit_path"] else [])
    what = data.draw(st.sampled_from(kinds), label="what")
    changed, forged = tampered(item, seal, what, data.draw(st.integers(0, 10_000), label="at"))
    assert not independently_proven(forged, changed)
    if what != "statement":  # the code's own check reads the root the signature covers
        problem = proof_problem(changed, statement["items_root"], count)
        assert problem is not None


@pytest.mark.parametrize("size", [*range(0, 34), 255, 256, 257, 1000])
def test_the_tree_is_rfc_9162_s_for_every_shape(size: int) -> None:
    leaves = [f"leaf {n}".encode() for n in range(size)]
    tree = Tree([leaf_hash(leaf) for leaf in leaves])
    assert tree.root == mth(leaves)
    for index in range(size):
        path = tree.inclusion_proof(index)
        node = leaf_hash(leaves[index])
        assert root_from_proof(index, size, node, path) == tree.root
        assert fold(index, size, node, path) == tree.root
        if size > 1:
            assert root_from_proof((index + 1) % size, size, node, path) != tree.root


def test_a_proof_that_is_no_proof_is_refused_not_raised() -> None:
    items, salts, seal = sealed(5)
    (item,) = disclose(items, salts, [3])
    root = seal["statement"]["items_root"]
    for broken in (
        {**item, "index": True},
        {**item, "index": 5},
        {**item, "index": -1},
        {**item, "salt": "ab"},
        {**item, "audit_path": ["zz"]},
        {**item, "audit_path": item["audit_path"] * 2},
        {**item, "entry": {"x": float("nan")}},
        {**item, "more": 1},
        "not an item",
    ):
        assert proof_problem(broken, root, 5) is not None


TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    name=TEXT,
    description=st.none() | TEXT,
    metadata=st.none() | st.dictionaries(st.sampled_from(["contents", "a", '"contents":[]']), TEXT),
    items=st.lists(
        st.tuples(st.sampled_from(["document", "entity"]), TEXT, TEXT, st.integers(0, 3)),
        max_size=8,
    ),
)
def test_finalize_s_shortcuts_are_the_recipe(
    name: str,
    description: str | None,
    metadata: dict[str, str] | None,
    items: list[tuple[str, str, str, int]],
) -> None:
    """Finalize encodes each entry once: the checksum put together from those encodings and the
    leaves made from them are the recipe's and the issue's canonical JSON exactly."""
    packet = {
        "name": name,
        "description": description,
        "visibility": "private",
        "metadata": metadata,
    }
    contents = [
        {
            "id": f"item-{index}",
            "content_type": kind,
            "content_id": content_id,
            "content_title": title,
            "order_num": order,
            "data": {"title": title},
            "file_sha256": None,
            "file_name": None,
            "added_by": "analyst",
            "added_at": "2026-01-02T03:04:05.000006+00:00",
        }
        for index, (kind, content_id, title, order) in enumerate(items)
    ]
    sealed = SealedItems.of(contents)
    assert checksum_of_entries(packet, sealed.encoded) == packet_checksum(packet, contents)
    salts = new_salts(len(contents))
    assert len(set(salts)) == len(salts) and all(len(salt) == 64 for salt in salts)
    expected = [
        leaf_hash(
            json.dumps(
                {"entry": entry, "salt": salt},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode("utf-8")
        )
        for entry, salt in zip(sealed.entries, salts, strict=True)
    ]
    assert sealed.tree(salts).root == Tree(expected).root
