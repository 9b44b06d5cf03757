"""The Merkle tree of RFC 9162 §2.1 (RFC 6962's): its hash, inclusion proofs, and checking one.

A leaf's hash is SHA-256(0x00 ‖ leaf), a node's SHA-256(0x01 ‖ left ‖ right); a tree of n > 1
leaves splits at the largest power of two below n, and the empty tree's hash is SHA-256("").
Built bottom-up, that tree is the one where each level pairs its nodes from the left and
carries a last unpaired node up as it is: `Tree` keeps those levels, so every proof of a
disclosure comes from one pass over the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Tree:
    """The tree over leaf hashes given in order."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            level = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                level.append(below[-1])
            self.levels.append(level)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    @property
    def root(self) -> bytes:
        """The Merkle Tree Hash (§2.1.1)."""
        return self.levels[-1][0] if self.size else EMPTY_ROOT

    def inclusion_proof(self, index: int) -> list[bytes]:
        """PATH(index, D[n]) of §2.1.3.1: the sibling hashes from the leaf up."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is not in a tree of {self.size}")
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path


def root_from_proof(
    index: int, size: int, hashed_leaf: bytes, audit_path: Sequence[bytes]
) -> bytes | None:
    """The root an inclusion proof folds to (§2.1.3.2), or None when the proof can't be one
    for leaf `index` of a tree of `size` leaves (the caller compares the root)."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, hashed_leaf
    for sibling in audit_path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            result = node_hash(sibling, result)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None
