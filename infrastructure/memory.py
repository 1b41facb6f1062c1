"""The memory:// store: the library's in-memory recorders, with the transparency log kept in
memory beside the events (appended under the recorder's lock, as the SQL stores do in their
transaction)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from application.feed import FeedEntry
from application.feed import feed_entries as rendered_entries
from application.personal_data import MemoryKeyRing
from application.transparency_log import LeafRecord, StoredCheckpoint
from application.witnesses import Witness
from domain import merkle
from infrastructure.feed_entries import MemoryFeedEntries
from infrastructure.merkle_log import contract_leaves


class MemoryMerkleLog:
    """The same log in memory, for the memory:// store (guarded by the recorder's lock)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.frontier: list[bytes] = []
        self.leaves: list[LeafRecord] = []
        self.by_notification: dict[int, int] = {}
        self.node_hashes: dict[tuple[int, int], bytes] = {}
        self.saved: dict[int, StoredCheckpoint] = {}
        self.witnesses: dict[str, Witness] = {}
        self.cosigned: dict[tuple[int, str], str] = {}

    def append(self, leaves: Sequence[tuple[int, str, int, str]]) -> list[int]:
        indexes = []
        with self.lock:
            for notification_id, contract_id, version, digest in leaves:
                size = len(self.leaves)
                for level, index, value in merkle.append_leaf(
                    size, self.frontier, merkle.event_leaf_hash(digest)
                ):
                    self.node_hashes[(level, index)] = value
                self.leaves.append(LeafRecord(size, contract_id, version, digest))
                self.by_notification[notification_id] = size
                indexes.append(size)
        return indexes


class LoggedPOPOApplicationRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.merkle = MemoryMerkleLog()
        self.feed = MemoryFeedEntries()

    def _update_table(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        notification_ids = super()._update_table(stored_events, **kwargs)
        self.merkle.append(contract_leaves(stored_events, notification_ids))
        self.feed.append(rendered_entries(stored_events, notification_ids))
        return notification_ids

    def feed_entries(
        self,
        after: int,
        stop: int,
        limit: int,
        *,
        types: Sequence[str] = (),
        contract_id: str | None = None,
    ) -> list[FeedEntry]:
        return self.feed.select(after, stop, limit, types, contract_id)

    def feed_entries_to_head(
        self,
        after: int,
        limit: int,
        *,
        types: Sequence[str] = (),
        contract_id: str | None = None,
    ) -> tuple[int, list[FeedEntry]]:
        # Entries are appended with their notifications, under the store's lock: every one up
        # to the head read first is there.
        head = self.max_notification_id() or 0
        return head, self.feed.select(after, head, limit, types, contract_id)

    def log_size(self) -> int:
        with self.merkle.lock:
            return len(self.merkle.leaves)

    def log_nodes(self, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        with self.merkle.lock:
            return {k: self.merkle.node_hashes[k] for k in keys if k in self.merkle.node_hashes}

    def log_leaves_of(self, contract_id: str, from_version: int = 1) -> list[LeafRecord]:
        with self.merkle.lock:
            found = [
                leaf
                for leaf in self.merkle.leaves
                if leaf.contract_id == contract_id and leaf.version >= from_version
            ]
        return sorted(found, key=lambda leaf: leaf.version)

    def log_leaf(self, leaf_index: int) -> LeafRecord | None:
        with self.merkle.lock:
            if 0 <= leaf_index < len(self.merkle.leaves):
                return self.merkle.leaves[leaf_index]
        return None

    def log_leaf_indexes(self, events: Sequence[tuple[int, str, int]]) -> list[int]:
        with self.merkle.lock:
            found = [self.merkle.by_notification.get(event[0]) for event in events]
        return sorted(i for i in found if i is not None)

    def log_add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self.merkle.lock:
            if checkpoint.tree_size in self.merkle.saved:
                raise ValueError(f"a checkpoint of size {checkpoint.tree_size} exists")
            self.merkle.saved[checkpoint.tree_size] = checkpoint

    def log_checkpoints(self, *, before: int | None, limit: int) -> list[StoredCheckpoint]:
        with self.merkle.lock:
            sizes = sorted(
                (s for s in self.merkle.saved if before is None or s < before), reverse=True
            )
            return [self.merkle.saved[s] for s in sizes[:limit]]

    def log_witness_put(self, witness: Witness) -> None:
        with self.merkle.lock:
            self.merkle.witnesses[witness.key_id] = witness

    def log_witness(self, key_id: str) -> Witness | None:
        with self.merkle.lock:
            return self.merkle.witnesses.get(key_id)

    def log_cosignature_put(self, tree_size: int, key_id: str, line: str) -> None:
        with self.merkle.lock:
            if (tree_size, key_id) in self.merkle.cosigned:
                raise ValueError(f"witness {key_id} co-signed size {tree_size} already")
            self.merkle.cosigned[(tree_size, key_id)] = line

    def log_cosignatures(self, tree_size: int) -> list[tuple[str, str]]:
        with self.merkle.lock:
            return sorted((k, v) for (n, k), v in self.merkle.cosigned.items() if n == tree_size)

    def log_last_cosigned(self, key_id: str) -> int | None:
        with self.merkle.lock:
            sizes = [n for (n, k) in self.merkle.cosigned if k == key_id]
        return max(sizes) if sizes else None


class LoggedPOPOFactory(POPOFactory):
    """Named by topic in PERSISTENCE_MODULE (see `infrastructure.stores`)."""

    def application_recorder(self) -> ApplicationRecorder:
        return LoggedPOPOApplicationRecorder()

    def personal_key_ring(self, snapshots: Any) -> MemoryKeyRing:
        return MemoryKeyRing(snapshots)
