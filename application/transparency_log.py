"""The transparency log over all contract events: what the stores keep (`LogStore`), and the
proofs read from it (RFC 9162 §2; docs/EVIDENCE.md).

The leaves are the contract events in the global order of the notification log; each store
appends them in the transaction that stores the events. Proofs are folded from stored
perfect-subtree nodes (`domain.merkle`), so a proof costs O(log n) node reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from application.errors import InvalidQuery
from domain import merkle


@dataclass(frozen=True)
class LeafRecord:
    """One leaf: which event of which contract, and the chain digest the leaf hashes."""

    leaf_index: int
    contract_id: str  # hex
    version: int
    event_digest: str  # hex


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str  # the signed note, byte for byte (UTF-8)
    signed_at: str  # ISO 8601, UTC


@runtime_checkable
class LogStore(Protocol):
    """What an event store that keeps the log offers (the recorders in infrastructure/)."""

    def log_size(self) -> int: ...

    def log_nodes(self, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]: ...

    def log_leaves_of(self, contract_id: str, from_version: int = 1) -> list[LeafRecord]: ...

    def log_leaf(self, leaf_index: int) -> LeafRecord | None: ...

    def log_leaf_indexes(self, events: Sequence[tuple[int, str, int]]) -> list[int]:
        """Leaf indexes of events given as (notification id, contract id hex, version)."""
        ...

    def log_add_checkpoint(self, checkpoint: StoredCheckpoint) -> None: ...

    def log_checkpoints(self, *, before: int | None, limit: int) -> list[StoredCheckpoint]: ...


class MerkleLog:
    """Roots and proofs of the stored tree at any size it has reached."""

    def __init__(self, store: LogStore) -> None:
        self.store = store

    def size(self) -> int:
        return self.store.log_size()

    def root(self, size: int) -> bytes:
        self._check_size(size)
        parts = merkle.frontier_nodes(size)
        nodes = self.store.log_nodes(set(parts))
        return merkle.root_of_frontier([nodes[part] for part in parts])

    def inclusion(self, leaf_index: int, size: int) -> list[bytes]:
        self._check_size(size)
        if not 0 <= leaf_index < size:
            raise InvalidQuery(f"leafIndex must be below treeSize {size}")
        ranges = merkle.inclusion_ranges(leaf_index, size)
        return merkle.proof_from(ranges, self.store.log_nodes(merkle.needed_nodes(ranges)))

    def inclusions(self, leaf_indexes: Sequence[int], size: int) -> list[list[bytes]]:
        """Many inclusion proofs against one size, their nodes read in one pass."""
        self._check_size(size)
        plans = [merkle.inclusion_ranges(i, size) for i in leaf_indexes]
        keys: set[tuple[int, int]] = set()
        for plan in plans:
            keys |= merkle.needed_nodes(plan)
        nodes = self.store.log_nodes(keys)
        return [merkle.proof_from(plan, nodes) for plan in plans]

    def consistency(self, old: int, new: int) -> list[bytes]:
        self._check_size(new)
        if not 0 <= old <= new:
            raise InvalidQuery(f"from must be between 0 and to ({new})")
        ranges = merkle.consistency_ranges(old, new)
        return merkle.proof_from(ranges, self.store.log_nodes(merkle.needed_nodes(ranges)))

    def _check_size(self, size: int) -> None:
        current = self.store.log_size()
        if not 0 <= size <= current:
            raise InvalidQuery(f"the log has {current} leaves; a tree size must not exceed it")
