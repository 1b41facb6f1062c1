"""The Merkle tree of RFC 9162 §2.1 over the log of all contract events: pure functions.

* A leaf's hash is SHA-256(0x00 ‖ leaf); the leaf of an event is the 32 bytes of its chain
  digest (`domain.chain.digest_of`), so the log covers exactly what the chain covers.
* An interior node is SHA-256(0x01 ‖ left ‖ right); MTH of a list of n > 1 leaves splits it at
  k, the largest power of two below n.

Stored nodes are *perfect* subtrees: node (level, index) is MTH of leaves
[index·2^level, (index+1)·2^level). Every subtree a proof needs, MTH(D[a:b]) with a a multiple
of a power of two at least b - a, is the right fold of the perfect subtrees its range splits
into (at most log2 n of them), so a proof costs O(log n) node reads (`perfect_parts`). The
*frontier* of a tree of size n is its perfect subtrees, largest first (one per set bit of n):
appending a leaf reads only the frontier and writes amortised two nodes.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def event_leaf_hash(event_digest_hex: str) -> bytes:
    """The leaf hash of an event: SHA-256(0x00 ‖ the 32 bytes of its hex chain digest)."""
    return leaf_hash(bytes.fromhex(event_digest_hex))


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of RFC 9162 §2.1.1 by its recursive definition, from leaf hashes."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(tree_hash(leaf_hashes[:k]), tree_hash(leaf_hashes[k:]))


# --------------------------------------------------------------------------- appending


def root_of_frontier(frontier: Sequence[bytes]) -> bytes:
    """The root from the perfect subtrees of a tree, largest first."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for left in reversed(frontier[:-1]):
        root = node_hash(left, root)
    return root


def append_leaf(
    size: int, frontier: list[bytes], hash_of_leaf: bytes
) -> list[tuple[int, int, bytes]]:
    """Append one leaf to a tree of `size` leaves whose frontier is `frontier` (changed in
    place); returns the perfect-subtree nodes (level, index, hash) the append completes."""
    nodes = [(0, size, hash_of_leaf)]
    current, level, index = hash_of_leaf, 0, size
    while index & 1:
        current = node_hash(frontier.pop(), current)
        level, index = level + 1, index >> 1
        nodes.append((level, index, current))
    frontier.append(current)
    return nodes


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """The (level, index) of each perfect subtree of a tree of `size` leaves, largest first."""
    return perfect_parts(0, size)


def perfect_parts(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) that [start, end) splits into, left to right, each
    the largest aligned one that fits."""
    parts: list[tuple[int, int]] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while (1 << level) > end - start:
            level -= 1
        parts.append((level, start >> level))
        start += 1 << level
    return parts


# --------------------------------------------------------------------------- proofs (plans)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees [a, b) whose MTH make up PATH(index, D[size]) (RFC 9162 §2.1.3.1), in
    proof order (nearest the leaf first)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    path: list[tuple[int, int]] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            path.append((start + k, start + n))
            n = k
        else:
            path.append((start, start + k))
            start, n, m = start + k, n - k, m - k
    path.reverse()
    return path


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The subtrees [a, b) whose MTH make up PROOF(old, D[new]) (RFC 9162 §2.1.4.1)."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old in (0, new):
        return []
    proof: list[tuple[int, int]] = []
    start, n, m, whole = 0, new, old, True
    while m != n:
        k = _split(n)
        if m <= k:
            proof.append((start + k, start + n))
            n = k
        else:
            proof.append((start, start + k))
            start, n, m, whole = start + k, n - k, m - k, False
    if not whole:
        proof.append((start, start + m))
    proof.reverse()
    return proof


def subtree_hash(start: int, end: int, node: Callable[[int, int], bytes]) -> bytes:
    """MTH(D[start:end]) from stored perfect subtrees (`node(level, index)`)."""
    return root_of_frontier([node(level, index) for level, index in perfect_parts(start, end)])


def needed_nodes(ranges: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """Every stored node the subtrees of a proof plan are folded from (one read)."""
    return {part for start, end in ranges for part in perfect_parts(start, end)}


def proof_from(
    ranges: Sequence[tuple[int, int]], nodes: dict[tuple[int, int], bytes]
) -> list[bytes]:
    return [subtree_hash(start, end, lambda *key: nodes[key]) for start, end in ranges]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) from all leaf hashes (for tests and small trees)."""
    return [tree_hash(leaves[a:b]) for a, b in inclusion_ranges(index, len(leaves))]


def consistency_proof(old: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old, D[n]) from all leaf hashes (for tests and small trees)."""
    return [tree_hash(leaves[a:b]) for a, b in consistency_ranges(old, len(leaves))]


# --------------------------------------------------------------------------- verification


class ProofError(ValueError):
    """A proof that does not hold; the message says which step failed."""


def root_from_inclusion(
    index: int, size: int, hash_of_leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """RFC 9162 §2.1.3.2: the root the inclusion proof leads to (ProofError when malformed)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    if len(hash_of_leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("a hash in the proof is not 32 bytes")
    fn, sn, r = index, size - 1, hash_of_leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, hash_of_leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    if root_from_inclusion(index, size, hash_of_leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of {size} leaves with that root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: the tree of `new` leaves extends the tree of `old` leaves."""
    if not 0 <= old <= new:
        raise ProofError(f"a tree of {new} leaves cannot extend one of {old}")
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("a hash in the proof is not 32 bytes")
    if old == new:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old}")
        return
    if old == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the root of the tree of {old} leaves")
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the root of the tree of {new} leaves")
