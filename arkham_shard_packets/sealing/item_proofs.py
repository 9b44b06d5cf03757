"""A seal's commitment to its items one by one, and the proofs a disclosure carries.

Each item of a sealed version has a random 32-byte salt, made at finalize and kept with the
seal. Its leaf is the canonical JSON of `{"entry": <its checksum recipe entry>, "salt": "<64
hex>"}`; the items root is the Merkle Tree Hash (sealing/merkle.py) of the leaves in the
recipe's item order, signed in the statement (`items_root`, `items_count`) of format
`arkham-packet-seal/2`. A disclosure hands over some items with their salts and inclusion
proofs; the salt keeps a withheld item from being guessed from its leaf hash.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..core.canonical import canonical_json
from .checksum import Record, content_entry, content_sort_key
from .merkle import Tree, leaf_hash, root_from_proof

SALT_BYTES = 32
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def new_salts(count: int) -> list[str]:
    drawn = os.urandom(SALT_BYTES * count).hex()
    step = 2 * SALT_BYTES
    return [drawn[start : start + step] for start in range(0, len(drawn), step)]


def item_leaf(entry: Mapping[str, Any], salt: str) -> bytes:
    return encoded_leaf(canonical_json(entry), salt)


def encoded_leaf(encoded_entry: str, salt: str) -> bytes:
    """The leaf from the entry already in canonical JSON: the canonical JSON of the object of
    its two members, in key order (`salt` is hex, which JSON carries as it is)."""
    return ('{"entry":' + encoded_entry + ',"salt":"' + salt + '"}').encode("utf-8")


@dataclass(frozen=True)
class SealedItems:
    """A sealed version's items in the recipe's order, each with its content record."""

    records: list[Record]
    entries: list[dict[str, Any]]

    @classmethod
    def of(cls, contents: Iterable[Record]) -> SealedItems:
        pairs = sorted(
            ((content_entry(record), record) for record in contents),
            key=lambda pair: content_sort_key(pair[0]),
        )
        return cls([record for _, record in pairs], [entry for entry, _ in pairs])

    @cached_property
    def encoded(self) -> list[str]:
        """Each entry in canonical JSON, made once for the checksum and the leaves."""
        return [canonical_json(entry) for entry in self.entries]

    def tree(self, salts: Sequence[str]) -> Tree:
        if len(salts) != len(self.entries):
            raise ValueError(f"{len(salts)} salts for {len(self.entries)} items")
        return Tree(
            [
                leaf_hash(encoded_leaf(entry, salt))
                for entry, salt in zip(self.encoded, salts, strict=True)
            ]
        )


def items_root(contents: Iterable[Record], salts: Sequence[str]) -> str:
    return SealedItems.of(contents).tree(salts).root.hex()


def disclose(
    items: SealedItems, salts: Sequence[str], indexes: Iterable[int], tree: Tree | None = None
) -> list[Any]:
    """disclosure.json's `items`: each chosen item (by its index in the recipe's order) with
    its salt, its entry and its inclusion proof, in index order. `tree`: the items' tree when
    the caller has already built it from these salts."""
    tree = items.tree(salts) if tree is None else tree
    return [
        {
            "index": index,
            "salt": salts[index],
            "entry": items.entries[index],
            "audit_path": [node.hex() for node in tree.inclusion_proof(index)],
        }
        for index in sorted(set(indexes))
    ]


def proof_problem(item: Any, items_root: str, items_count: int) -> str | None:
    """Why one item of a disclosure is not proven part of the tree the statement signs, or
    None when its audit path folds to `items_root`."""
    if not isinstance(item, dict) or set(item) != {"index", "salt", "entry", "audit_path"}:
        return "does not have exactly index, salt, entry and audit_path"
    index, salt, path = item["index"], item["salt"], item["audit_path"]
    if not isinstance(index, int) or isinstance(index, bool):
        return "has no whole number index"
    if not isinstance(salt, str) or not HEX64.match(salt):
        return "has no 64-hex-digit salt"
    if not isinstance(item["entry"], dict):
        return "has no entry"
    if not isinstance(path, list) or not all(
        isinstance(node, str) and HEX64.match(node) for node in path
    ):
        return "has an audit path that is not a list of 64-hex-digit hashes"
    try:
        leaf = item_leaf(item["entry"], salt)
    except (TypeError, ValueError):
        return "has an entry JSON can't carry"
    root = root_from_proof(index, items_count, leaf_hash(leaf), [bytes.fromhex(n) for n in path])
    if root is None or root.hex() != items_root:
        return f"is not proven part of the sealed items: its proof does not fold to {items_root}"
    return None
