"""`ReadModelStore` on a SQL database, written once for SQLite and PostgreSQL.

What is read and written, and in which statements, is here; a store says how it gets a
connection, how it runs a write transaction, and how it replaces many rows at once (SQLite:
`executemany`; PostgreSQL: COPY)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from application.read_models import ContractSummary, IndicatorRow, SummaryFilter
from infrastructure.read_models.rows import (
    Values,
    grant_rows,
    indicator_from_row,
    indicator_rows,
    latest_per_contract,
    party_rows,
    summaries_from_page,
    summary_row,
)
from infrastructure.read_models.tables import GRANTS, INDICATORS, PARTIES, Statements, Table


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What the shared code asks of a connection; sqlite3's and psycopg's both answer."""

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> Rows: ...


C = TypeVar("C", bound=Connection)


class SqlReadModels(ABC, Generic[C]):
    """The read models in a SQL database; behaves exactly like `MemoryReadModels`."""

    def __init__(self, statements: Statements, values: Values) -> None:
        self._statements = statements
        self._values = values

    # ---------------------------------------------------------------- what a store provides

    @abstractmethod
    def _connection(self) -> AbstractContextManager[C]:
        """A connection for one call; operational failures surface as StoreUnavailable."""

    @abstractmethod
    def _transaction(self, connection: C) -> AbstractContextManager[None]:
        """A write transaction: committed when the block ends, rolled back when it raises."""

    @abstractmethod
    def _write_many(self, connection: C, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run `statement` once per row."""

    @abstractmethod
    def _replace_rows(
        self,
        connection: C,
        table: Table,
        contract_ids: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> None:
        """Delete the rows of `contract_ids` from `table` and insert `rows` (all columns)."""

    @abstractmethod
    def close(self) -> None: ...

    def _create_tables(self, connection: C) -> None:
        """Create what is missing; the store calls this once, inside its setup transaction."""
        for statement in self._statements.create:
            connection.execute(statement)

    # ---------------------------------------------------------------- the protocol

    def position(self) -> int:
        with self._connection() as connection:
            return self._position(connection, self._statements.position)

    @staticmethod
    def _position(connection: C, statement: str) -> int:
        row = connection.execute(statement).fetchone()
        return int(row[0]) if row else 0

    def advance(
        self,
        from_position: int,
        to_position: int,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> bool:
        sql = self._statements
        with self._connection() as connection, self._transaction(connection):
            if self._position(connection, sql.lock_position) != from_position:
                return False
            self._write_rows(connection, summaries, indicators)
            connection.execute(sql.store_position, (to_position,))
            return True

    def summaries(self, query: SummaryFilter) -> list[ContractSummary]:
        statement, parameters = self._statements.summaries(query, self._values.write_date)
        with self._connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        return summaries_from_page(rows, self._values)

    def visible_ids(self, org: str, on: date) -> set[str]:
        statement, parameters = self._statements.visible_ids(org, on, self._values.write_date)
        with self._connection() as connection:
            rows = connection.execute(statement, parameters).fetchall()
        return {str(row[0]) for row in rows}

    def indicators(self, contract_id: str) -> list[IndicatorRow]:
        with self._connection() as connection:
            rows = connection.execute(self._statements.indicators, (contract_id,)).fetchall()
        return [indicator_from_row(row, self._values) for row in rows]

    def clear(self) -> None:
        sql = self._statements
        with self._connection() as connection, self._transaction(connection):
            # Lock the position first, as advance does: a concurrent advance then either
            # finishes before the clear or finds position 0 and writes nothing.
            connection.execute(sql.lock_position)
            for statement in sql.delete_all:
                connection.execute(statement)
            connection.execute(sql.reset_position)

    def replace_all(
        self,
        position: int,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> None:
        sql = self._statements
        with self._connection() as connection, self._transaction(connection):
            connection.execute(sql.lock_position)  # as clear and advance do
            for statement in sql.delete_all:
                connection.execute(statement)
            self._write_rows(connection, summaries, indicators)
            connection.execute(sql.store_position, (position,))

    def _write_rows(
        self,
        connection: C,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> None:
        """Upsert the summaries (the latest per contract), replace the party, grant and
        indicator rows of the contracts they name, in the caller's transaction."""
        sql, values = self._statements, self._values
        latest = latest_per_contract(summaries)
        if latest:
            self._write_many(
                connection, sql.upsert_summary, [summary_row(s, values) for s in latest]
            )
            contract_ids = [s.contract_id for s in latest]
            self._replace_rows(connection, PARTIES, contract_ids, party_rows(latest))
            self._replace_rows(connection, GRANTS, contract_ids, grant_rows(latest, values))
        if indicators:
            rows = indicator_rows(indicators, values)
            self._replace_rows(connection, INDICATORS, list(indicators), rows)
