"""The transparency log's storage: leaves, perfect-subtree nodes, the frontier and checkpoints,
written in the transaction that stores the events (docs/EVIDENCE.md).

Every recorder (memory, SQLite, PostgreSQL) appends the leaves of the contract events it
inserts while it holds the store's writer lock — SQLite's single writer, PostgreSQL's EXCLUSIVE
lock on the events table that also orders notification ids — so leaf indexes follow commit
order without gaps, and a rolled-back insert rolls back its leaves. One append reads the head
row (size and frontier, ≤ 64 hashes) and writes the leaves, the nodes above them it completes
(amortised one per leaf) and the head: O(log n). A proof reads the O(log n) nodes it is folded
from (a leaf's own hash from its digest in the leaves table).

Tables (SQL): `dialoog_log_leaves`, `dialoog_log_nodes`, `dialoog_log_head`,
`dialoog_log_checkpoints`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from application.stored_form import record_digest
from application.transparency_log import LeafRecord, StoredCheckpoint
from application.witnesses import Witness
from domain import merkle

#: Contract events, stored under their class's topic in `domain.events`; other aggregates the
#: application saves beside them (reference claims, command receipts) carry no chain digest.
CONTRACT_TOPIC_PREFIX = "domain.events:"
_CACHE_SIZE = 20_000


def contract_leaves(
    stored_events: Sequence[StoredEvent], notification_ids: Sequence[int] | None
) -> list[tuple[int, str, int, str]]:
    """(notification id, contract id hex, version, event digest hex) of each contract event."""
    leaves = []
    for event, notification_id in zip(stored_events, notification_ids or (), strict=False):
        if not event.topic.startswith(CONTRACT_TOPIC_PREFIX):
            continue
        digest = record_digest(event.state)
        if digest is None:
            continue
        originator = event.originator_id
        hex_id = originator.hex if isinstance(originator, UUID) else UUID(str(originator)).hex
        leaves.append((notification_id, hex_id, event.originator_version, digest))
    return leaves


def _pack(frontier: Sequence[bytes]) -> bytes:
    return b"".join(frontier)


def _unpack(blob: bytes | None) -> list[bytes]:
    data = bytes(blob or b"")
    return [data[i : i + 32] for i in range(0, len(data), 32)]


class LeafIndexCache:
    """Notification id → leaf index of recent appends, filled after their commit, so a write
    response carries its `Log-Index` without another read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: OrderedDict[int, int] = OrderedDict()
        self._pending = threading.local()

    def stage(self, pairs: Iterable[tuple[int, int]]) -> None:
        staged = getattr(self._pending, "pairs", None)
        if staged is None:
            staged = self._pending.pairs = []
        staged.extend(pairs)

    def discard_staged(self) -> None:
        self._pending.pairs = []

    def commit_staged(self) -> None:
        staged = getattr(self._pending, "pairs", None) or []
        self._pending.pairs = []
        with self._lock:
            for notification_id, leaf_index in staged:
                self._known[notification_id] = leaf_index
            while len(self._known) > _CACHE_SIZE:
                self._known.popitem(last=False)

    def get(self, notification_ids: Sequence[int]) -> list[int] | None:
        with self._lock:
            found = [self._known.get(n) for n in notification_ids]
        return None if None in found else [i for i in found if i is not None]


class SqlMerkleLog:
    """The log's SQL, for SQLite (`?`, BLOB) and PostgreSQL (`%s`, bytea)."""

    def __init__(self, *, placeholder: str, blob: str, bigint: str, schema: str = "") -> None:
        self.p = placeholder
        #: PostgreSQL: the tables live in the events table's schema.
        self.prefix = f'"{schema}".' if schema else ""
        self.create_statements = [
            "CREATE TABLE IF NOT EXISTS dialoog_log_leaves ("
            f"leaf_index {bigint} PRIMARY KEY, notification_id {bigint} NOT NULL, "
            f"contract_id TEXT NOT NULL, version {bigint} NOT NULL, event_digest TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS log_leaves_by_contract "
            "ON dialoog_log_leaves (contract_id, version)",
            "CREATE TABLE IF NOT EXISTS dialoog_log_nodes ("
            f"level INTEGER NOT NULL, idx {bigint} NOT NULL, hash {blob} NOT NULL, "
            "PRIMARY KEY (level, idx))",
            "CREATE TABLE IF NOT EXISTS dialoog_log_head ("
            f"id INTEGER PRIMARY KEY CHECK (id = 1), size {bigint} NOT NULL, "
            f"frontier {blob} NOT NULL)",
            "CREATE TABLE IF NOT EXISTS dialoog_log_checkpoints ("
            f"tree_size {bigint} PRIMARY KEY, root_hash {blob} NOT NULL, note TEXT NOT NULL, "
            "signed_at TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS dialoog_log_witnesses ("
            "key_id TEXT PRIMARY KEY, name TEXT NOT NULL, verifier_key TEXT NOT NULL, "
            "org TEXT NOT NULL, status TEXT NOT NULL, registered_at TEXT NOT NULL, "
            "approved_by TEXT)",
            "CREATE TABLE IF NOT EXISTS dialoog_log_cosignatures ("
            f"tree_size {bigint} NOT NULL, key_id TEXT NOT NULL, line TEXT NOT NULL, "
            "PRIMARY KEY (tree_size, key_id))",
        ]
        self.create_statements = [self._q(s) for s in self.create_statements]

    def _q(self, statement: str) -> str:
        return statement.replace("?", self.p).replace("dialoog_log_", self.prefix + "dialoog_log_")

    # -- writing (inside the events' transaction, under the writer lock)

    def append(self, cursor: Any, leaves: Sequence[tuple[int, str, int, str]]) -> list[int]:
        """Append the leaves; returns their leaf indexes."""
        if not leaves:
            return []
        cursor.execute(self._q("SELECT size, frontier FROM dialoog_log_head WHERE id = 1"))
        row = cursor.fetchone()
        size = int(row["size"]) if row else 0
        frontier = _unpack(row["frontier"]) if row else []
        leaf_rows, node_rows, indexes = [], [], []
        for notification_id, contract_id, version, digest in leaves:
            leaf_rows.append((size, notification_id, contract_id, version, digest))
            for level, index, value in merkle.append_leaf(
                size, frontier, merkle.event_leaf_hash(digest)
            ):
                if level:  # a leaf's own hash is its digest's: kept once, in the leaves table
                    node_rows.append((level, index, value))
            indexes.append(size)
            size += 1
        cursor.executemany(
            self._q(
                "INSERT INTO dialoog_log_leaves "
                "(leaf_index, notification_id, contract_id, version, event_digest) "
                "VALUES (?, ?, ?, ?, ?)"
            ),
            leaf_rows,
        )
        cursor.executemany(
            self._q("INSERT INTO dialoog_log_nodes (level, idx, hash) VALUES (?, ?, ?)"),
            node_rows,
        )
        cursor.execute(
            self._q(
                "INSERT INTO dialoog_log_head (id, size, frontier) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET size = excluded.size, "
                "frontier = excluded.frontier"
            ),
            (size, _pack(frontier)),
        )
        return indexes

    def backfill(self, cursor: Any, events_table: str, notification_column: str) -> int:
        """Append the leaves of contract events stored before the log existed (a store that
        predates it): only when the log is empty, in notification order. Run under the
        store's writer lock; returns the leaves appended."""
        if self.size(cursor):
            return 0
        cursor.execute(
            self._q(
                f"SELECT {notification_column} AS n, originator_id, originator_version, "  # noqa: S608
                f"topic, state FROM {events_table} WHERE topic LIKE ? "
                f"ORDER BY {notification_column}"
            ),
            (CONTRACT_TOPIC_PREFIX + "%",),
        )
        rows = cursor.fetchall()
        events = [
            StoredEvent(
                originator_id=UUID(str(row["originator_id"])),
                originator_version=int(row["originator_version"]),
                topic=str(row["topic"]),
                state=bytes(row["state"]),
            )
            for row in rows
        ]
        return len(self.append(cursor, contract_leaves(events, [int(r["n"]) for r in rows])))

    # -- reading

    def size(self, cursor: Any) -> int:
        cursor.execute(self._q("SELECT size FROM dialoog_log_head WHERE id = 1"))
        row = cursor.fetchone()
        return int(row["size"]) if row else 0

    def nodes(self, cursor: Any, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, []).append(index)
        for level, indexes in by_level.items():
            marks = ", ".join("?" for _ in indexes)
            if level == 0:
                cursor.execute(
                    self._q(
                        "SELECT leaf_index, event_digest FROM dialoog_log_leaves "  # noqa: S608
                        f"WHERE leaf_index IN ({marks})"
                    ),
                    tuple(indexes),
                )
                for row in cursor.fetchall():
                    digest = str(row["event_digest"])
                    found[(0, int(row["leaf_index"]))] = merkle.event_leaf_hash(digest)
                continue
            cursor.execute(
                self._q(
                    f"SELECT level, idx, hash FROM dialoog_log_nodes "  # noqa: S608 - only ?
                    f"WHERE level = ? AND idx IN ({marks})"
                ),
                (level, *indexes),
            )
            for row in cursor.fetchall():
                found[(int(row["level"]), int(row["idx"]))] = bytes(row["hash"])
        return found

    def leaves_of(self, cursor: Any, contract_id: str, from_version: int = 1) -> list[LeafRecord]:
        cursor.execute(
            self._q(
                "SELECT leaf_index, contract_id, version, event_digest FROM dialoog_log_leaves "
                "WHERE contract_id = ? AND version >= ? ORDER BY version"
            ),
            (contract_id, from_version),
        )
        return [_leaf(row) for row in cursor.fetchall()]

    def leaf(self, cursor: Any, leaf_index: int) -> LeafRecord | None:
        cursor.execute(
            self._q(
                "SELECT leaf_index, contract_id, version, event_digest FROM dialoog_log_leaves "
                "WHERE leaf_index = ?"
            ),
            (leaf_index,),
        )
        row = cursor.fetchone()
        return _leaf(row) if row else None

    def leaf_indexes(self, cursor: Any, events: Sequence[tuple[int, str, int]]) -> list[int]:
        """The leaf indexes of (notification id, contract id, version), by contract and
        version (the index the log keeps anyway)."""
        found: list[int] = []
        for _, contract_id, version in events:
            cursor.execute(
                self._q(
                    "SELECT leaf_index FROM dialoog_log_leaves WHERE contract_id = ? "
                    "AND version = ?"
                ),
                (contract_id, version),
            )
            found.extend(int(row["leaf_index"]) for row in cursor.fetchall())
        return sorted(found)

    def add_checkpoint(self, cursor: Any, checkpoint: StoredCheckpoint) -> None:
        cursor.execute(
            self._q(
                "INSERT INTO dialoog_log_checkpoints (tree_size, root_hash, note, signed_at) "
                "VALUES (?, ?, ?, ?)"
            ),
            (checkpoint.tree_size, checkpoint.root_hash, checkpoint.note, checkpoint.signed_at),
        )

    def checkpoints(self, cursor: Any, *, before: int | None, limit: int) -> list[StoredCheckpoint]:
        select = "SELECT tree_size, root_hash, note, signed_at FROM dialoog_log_checkpoints "
        if before is None:
            statement, params = select + "ORDER BY tree_size DESC LIMIT ?", [limit]
        else:
            statement = select + "WHERE tree_size < ? ORDER BY tree_size DESC LIMIT ?"
            params = [before, limit]
        cursor.execute(
            self._q(statement),
            tuple(params),
        )
        return [
            StoredCheckpoint(
                tree_size=int(row["tree_size"]),
                root_hash=bytes(row["root_hash"]),
                note=str(row["note"]),
                signed_at=str(row["signed_at"]),
            )
            for row in cursor.fetchall()
        ]

    # -- witnesses

    def witness_put(self, cursor: Any, w: Witness) -> None:
        cursor.execute(
            self._q(
                "INSERT INTO dialoog_log_witnesses (key_id, name, verifier_key, org, status, "
                "registered_at, approved_by) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key_id) DO UPDATE SET status = excluded.status, "
                "approved_by = excluded.approved_by"
            ),
            (w.key_id, w.name, w.verifier_key, w.org, w.status, w.registered_at, w.approved_by),
        )

    def witness(self, cursor: Any, key_id: str) -> Witness | None:
        cursor.execute(
            self._q(
                "SELECT key_id, name, verifier_key, org, status, registered_at, approved_by "
                "FROM dialoog_log_witnesses WHERE key_id = ?"
            ),
            (key_id,),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        return Witness(
            key_id=str(row["key_id"]),
            name=str(row["name"]),
            verifier_key=str(row["verifier_key"]),
            org=str(row["org"]),
            status=str(row["status"]),
            registered_at=str(row["registered_at"]),
            approved_by=None if row["approved_by"] is None else str(row["approved_by"]),
        )

    def cosignature_put(self, cursor: Any, tree_size: int, key_id: str, line: str) -> None:
        cursor.execute(
            self._q(
                "INSERT INTO dialoog_log_cosignatures (tree_size, key_id, line) VALUES (?, ?, ?)"
            ),
            (tree_size, key_id, line),
        )

    def cosignatures(self, cursor: Any, tree_size: int) -> list[tuple[str, str]]:
        cursor.execute(
            self._q(
                "SELECT key_id, line FROM dialoog_log_cosignatures WHERE tree_size = ? "
                "ORDER BY key_id"
            ),
            (tree_size,),
        )
        return [(str(row["key_id"]), str(row["line"])) for row in cursor.fetchall()]

    def last_cosigned(self, cursor: Any, key_id: str) -> int | None:
        cursor.execute(
            self._q("SELECT MAX(tree_size) AS n FROM dialoog_log_cosignatures WHERE key_id = ?"),
            (key_id,),
        )
        row = cursor.fetchone()
        return None if row is None or row["n"] is None else int(row["n"])


def _leaf(row: Any) -> LeafRecord:
    return LeafRecord(
        leaf_index=int(row["leaf_index"]),
        contract_id=str(row["contract_id"]),
        version=int(row["version"]),
        event_digest=str(row["event_digest"]),
    )


class SqlLogReads:
    """The `LogStore` reads of an SQL recorder; `_log_cursor()` gives a reading cursor."""

    merkle_sql: SqlMerkleLog
    leaf_cache: LeafIndexCache

    def _log_cursor(self) -> Any:  # a context manager yielding a cursor
        raise NotImplementedError

    def _log_write_cursor(self) -> Any:
        raise NotImplementedError

    def log_size(self) -> int:
        with self._log_cursor() as cursor:
            return self.merkle_sql.size(cursor)

    def log_nodes(self, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        with self._log_cursor() as cursor:
            return self.merkle_sql.nodes(cursor, keys)

    def log_leaves_of(self, contract_id: str, from_version: int = 1) -> list[LeafRecord]:
        with self._log_cursor() as cursor:
            return self.merkle_sql.leaves_of(cursor, contract_id, from_version)

    def log_leaf(self, leaf_index: int) -> LeafRecord | None:
        with self._log_cursor() as cursor:
            return self.merkle_sql.leaf(cursor, leaf_index)

    def log_leaf_indexes(self, events: Sequence[tuple[int, str, int]]) -> list[int]:
        cached = self.leaf_cache.get([event[0] for event in events])
        if cached is not None:
            return cached
        with self._log_cursor() as cursor:
            return self.merkle_sql.leaf_indexes(cursor, events)

    def log_add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self._log_write_cursor() as cursor:
            self.merkle_sql.add_checkpoint(cursor, checkpoint)

    def log_checkpoints(self, *, before: int | None, limit: int) -> list[StoredCheckpoint]:
        with self._log_cursor() as cursor:
            return self.merkle_sql.checkpoints(cursor, before=before, limit=limit)

    def log_witness_put(self, witness: Witness) -> None:
        with self._log_write_cursor() as cursor:
            self.merkle_sql.witness_put(cursor, witness)

    def log_witness(self, key_id: str) -> Witness | None:
        with self._log_cursor() as cursor:
            return self.merkle_sql.witness(cursor, key_id)

    def log_cosignature_put(self, tree_size: int, key_id: str, line: str) -> None:
        with self._log_write_cursor() as cursor:
            self.merkle_sql.cosignature_put(cursor, tree_size, key_id, line)

    def log_cosignatures(self, tree_size: int) -> list[tuple[str, str]]:
        with self._log_cursor() as cursor:
            return self.merkle_sql.cosignatures(cursor, tree_size)

    def log_last_cosigned(self, key_id: str) -> int | None:
        with self._log_cursor() as cursor:
            return self.merkle_sql.last_cosigned(cursor, key_id)
