"""The personal-data key table (application/personal_data.py), in memory, SQLite and PostgreSQL.

One row per key: its id (`<contract id>.<random>`), its scope (contract, owner, version, field;
unique) and 32 random bytes. Destroying a key deletes its row; SQLite runs with `secure_delete`
so the bytes are overwritten, and its write-ahead log is truncated after an erasure, so neither
the key nor the texts of a purged snapshot stay in the database files. PostgreSQL leaves dead
rows to VACUUM: an erasure runs a VACUUM of the key and snapshot tables when it can.

A process keeps the keys its feed pages read (`keys_by_id`: the keys of one person's texts in a
contract recur page after page) for as long as no key has been destroyed anywhere: `destroy`
counts erasures in a one-row table in its own transaction, and every read of keys reads that
count in the same statement (PostgreSQL) or before the keys (SQLite); a count other than the
one the kept keys were read under drops them all. So a key destroyed by any process stops
opening texts at every process's next read, as without the cache. Kept keys are bounded
(`KEPT_KEYS`).

Table names are the store's own, never input: the queries below are built from them (S608).
"""

# ruff: noqa: S608

from __future__ import annotations

import itertools
import logging
import secrets
import threading
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from application.personal_data import KeyScope, new_key_id

log = logging.getLogger("dialoog.personal_keys")

#: Keys a process keeps between reads of keys by id; beyond it the oldest quarter goes.
KEPT_KEYS = 20_000


class SqlKeyRing:
    """The key table beside a library recorder's tables, through its datastore's transactions."""

    def __init__(
        self,
        datastore: Any,
        *,
        dialect: str,
        table: str,
        snapshots_table: str,
        snapshot_id: Any = str,
    ) -> None:
        self._datastore = datastore
        self._dialect = dialect
        self._p = "?" if dialect == "sqlite" else "%s"
        self._table = table
        self._snapshots_table = snapshots_table
        self._snapshot_id = snapshot_id
        #: One row: how many times keys were destroyed (`destroy`), for the kept keys' check.
        self._erasures = f"{table}_erasures"
        self._kept_lock = threading.Lock()
        self._kept: dict[str, bytes] = {}
        self._kept_under: int | None = None  # the erasure count the kept keys were read under
        blob = "BLOB" if dialect == "sqlite" else "bytea"
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {table} ("
                " key_id TEXT PRIMARY KEY,"
                " contract_id TEXT NOT NULL,"
                " owner TEXT NOT NULL,"
                " version INTEGER NOT NULL,"
                " field TEXT NOT NULL,"
                f" key {blob} NOT NULL,"
                " UNIQUE (contract_id, owner, version, field))"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {table.split('.')[-1].strip(chr(34))}_owner "
                f"ON {table} (owner)"
            )
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self._erasures} ("
                " id INTEGER PRIMARY KEY CHECK (id = 1), erasures BIGINT NOT NULL)"
            )
            cursor.execute(
                f"INSERT INTO {self._erasures} (id, erasures) VALUES (1, 0) ON CONFLICT DO NOTHING"
            )

    def key_for(self, scope: KeyScope) -> tuple[str, bytes]:
        p = self._p
        select = (
            f"SELECT key_id, key FROM {self._table} WHERE contract_id = {p} AND owner = {p} "
            f"AND version = {p} AND field = {p}"
        )
        args = (scope.contract_id, scope.owner, scope.version, scope.field)
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(select, args)
            row = cursor.fetchone()
        if row is not None:
            return _row(row)
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {self._table} (key_id, contract_id, owner, version, field, key) "
                f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING",
                (new_key_id(scope.contract_id), *args, secrets.token_bytes(32)),
            )
            cursor.execute(select, args)
            row = cursor.fetchone()
        return _row(row)

    def keys_of(self, contract_ids: Iterable[str]) -> list[tuple[str, KeyScope, bytes]]:
        ids = list(dict.fromkeys(contract_ids))
        if not ids:
            return []
        marks = ", ".join([self._p] * len(ids))
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT key_id, contract_id, owner, version, field, key FROM {self._table} "
                f"WHERE contract_id IN ({marks})",
                ids,
            )
            rows = cursor.fetchall()
        return [
            (str(_at(r, 0, "key_id")), KeyScope(*_scope(r)), bytes(_at(r, 5, "key"))) for r in rows
        ]

    def keys_by_id(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        """The live keys among these ids: those kept from earlier reads while no key was
        destroyed since, the rest read (a destroyed key is missing)."""
        ids = dict.fromkeys(key_ids)
        with self._kept_lock:
            kept, kept_under = self._kept, self._kept_under
            found = {key_id: kept[key_id] for key_id in ids if key_id in kept}
        erasures, read = self._read_keys([key_id for key_id in ids if key_id not in found])
        if erasures != kept_under and found:  # a key was destroyed since they were kept
            erasures, read = self._read_keys(list(ids))  # all of them, under one count
            found = {}
        found.update(read)
        with self._kept_lock:
            if erasures != self._kept_under:  # what is kept was read under another count
                self._kept, self._kept_under = {}, erasures
            if erasures is not None:  # no count (its row gone): nothing is kept
                self._keep(read)
        return found

    def _keep(self, keys: dict[str, bytes]) -> None:
        kept = self._kept
        if len(kept) + len(keys) > KEPT_KEYS:
            for old in list(itertools.islice(kept, max(len(keys), KEPT_KEYS // 4))):
                del kept[old]
        kept.update(itertools.islice(keys.items(), KEPT_KEYS))

    def _read_keys(self, ids: list[str]) -> tuple[int | None, dict[str, bytes]]:
        """How many erasures there were (None without the count's row), and the live keys
        among `ids`, the count read first (PostgreSQL: in the same statement, one snapshot)."""
        found: dict[str, bytes] = {}
        with self._datastore.transaction(commit=False) as cursor:
            if self._dialect != "sqlite":  # one parameter: the statement is prepared once
                cursor.execute(
                    f"SELECT NULL AS key_id, NULL::bytea AS key, erasures FROM {self._erasures} "
                    f"UNION ALL SELECT key_id, key, NULL FROM {self._table} "
                    "WHERE key_id = ANY(%s)",
                    (ids,),
                    prepare=True,
                )
                erasures: int | None = None
                for row in cursor.fetchall():
                    key_id, key, count = (
                        _at(row, 0, "key_id"),
                        _at(row, 1, "key"),
                        _at(row, 2, "erasures"),
                    )
                    if key_id is None:
                        erasures = int(count)
                    else:
                        found[str(key_id)] = bytes(key)
                return erasures, found
            cursor.execute(f"SELECT erasures FROM {self._erasures}")
            counted = cursor.fetchone()
            erasures = None if counted is None else int(_at(counted, 0, "erasures"))
            for start in range(0, len(ids), 500):  # SQLite: bounded statements
                chunk = ids[start : start + 500]
                marks = ", ".join([self._p] * len(chunk))
                cursor.execute(
                    f"SELECT key_id, key FROM {self._table} WHERE key_id IN ({marks})",
                    chunk,
                )
                found.update(_row(row) for row in cursor.fetchall())
        return erasures, found

    def key(self, key_id: str) -> bytes | None:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT key_id, key FROM {self._table} WHERE key_id = {self._p}", (key_id,)
            )
            row = cursor.fetchone()
        return None if row is None else _row(row)[1]

    def find(
        self,
        contract_id: str | None = None,
        *,
        owner: str | None = None,
        version: int | None = None,
        field: str | None = None,
    ) -> list[tuple[str, KeyScope]]:
        conditions, args = [], []
        for column, value in (
            ("contract_id", contract_id),
            ("owner", owner),
            ("version", version),
            ("field", field),
        ):
            if value is not None:
                conditions.append(f"{column} = {self._p}")
                args.append(value)
        where = " AND ".join(conditions) or "TRUE"
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT key_id, contract_id, owner, version, field FROM {self._table} "
                f"WHERE {where} ORDER BY key_id",
                args,
            )
            rows = cursor.fetchall()
        return [(_at(r, 0, "key_id"), KeyScope(*_scope(r))) for r in rows]

    def destroy(self, key_ids: Iterable[str]) -> int:
        ids = list(key_ids)
        if not ids:
            return 0
        marks = ", ".join([self._p] * len(ids))
        with self._datastore.transaction(commit=True) as cursor:
            if self._dialect == "sqlite":  # every connection has it; say so where it matters
                cursor.execute("PRAGMA secure_delete = ON")
            where = f"FROM {self._table} WHERE key_id IN ({marks})"
            cursor.execute(f"SELECT COUNT(*) AS n {where}", ids)
            count = int(_at(cursor.fetchone(), 0, "n"))
            cursor.execute(f"DELETE {where}", ids)
            # Every process's kept keys are dropped at its next read (`keys_by_id`).
            cursor.execute(
                f"INSERT INTO {self._erasures} AS counted (id, erasures) VALUES (1, 1) "
                "ON CONFLICT (id) DO UPDATE SET erasures = counted.erasures + 1"
            )
        with self._kept_lock:
            self._kept, self._kept_under = {}, None
        return count

    def purge_copies(self, contract_id: str) -> None:
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"DELETE FROM {self._snapshots_table} WHERE originator_id = {self._p}",
                (self._snapshot_id(UUID(hex=contract_id)),),
            )
        self._compact()

    def _compact(self) -> None:
        """Leave no copy of what was deleted in the database's files."""
        if self._dialect == "sqlite":
            with self._datastore.get_connection(commit=True) as connection:
                cursor = connection.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        # VACUUM cannot run in a transaction: an autocommit connection of the pool's own.
        try:
            with self._datastore.get_connection() as connection:
                autocommit = connection.autocommit
                connection.autocommit = True
                try:
                    for table in (self._table, self._snapshots_table):
                        connection.execute(f"VACUUM {table}")
                finally:
                    connection.autocommit = autocommit
        except Exception as error:  # best effort: the rows are deleted; their space is reused
            log.warning("VACUUM after an erasure failed (%s); run VACUUM on the key table", error)


def _at(row: Any, index: int, name: str) -> Any:
    return row[name] if isinstance(row, dict) else row[index]


def _row(row: Any) -> tuple[str, bytes]:
    return str(_at(row, 0, "key_id")), bytes(_at(row, 1, "key"))


def _scope(row: Any) -> tuple[str, str, int, str]:
    return (
        str(_at(row, 1, "contract_id")),
        str(_at(row, 2, "owner")),
        int(_at(row, 3, "version")),
        str(_at(row, 4, "field")),
    )


__all__ = ["SqlKeyRing"]
