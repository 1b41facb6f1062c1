"""The read-model tables and the statements on them, written once for SQLite and PostgreSQL.

Each store names its `Dialect` (column types, placeholder, the few words the two databases
spell differently) and how its tables are named; `Statements` renders the rest. Every name in
a statement is one of this module's constants (or a quoted schema-qualified name the store
built from them); every value is a bound parameter.
"""

# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from application.read_models import SummaryFilter

PREFIX = "dialoog_rm_"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a logical type, one of the keys of `Dialect.types`
    constraint: str = "NOT NULL"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()  # when it spans columns; else a column's constraint
    #: one index per tuple of columns, named `<table>_by_<first column>`
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


POSITION = Table(
    PREFIX + "position",
    (
        Column("id", "smallint", "PRIMARY KEY CHECK (id = 1)"),
        Column("position", "bigint"),
    ),
)
SUMMARIES = Table(
    PREFIX + "summaries",
    (
        Column("contract_id", "key", "PRIMARY KEY"),
        Column("reference", "key"),
        Column("title", "text"),
        Column("status", "text"),
        Column("commissioner", "text"),
        Column("version", "bigint"),
        Column("updated_at", "timestamp"),
        Column("head_digest", "text"),
        Column("reference_folded", "key"),
        Column("title_folded", "key"),
    ),
    indexes=(("reference", "contract_id"), ("status", "reference", "contract_id")),
)
PARTIES = Table(
    PREFIX + "parties",
    (
        Column("contract_id", "key"),
        Column("role", "text", "NOT NULL CHECK (role IN ('commissioner', 'provider'))"),
        Column("ordinal", "integer"),
        Column("org", "text"),
    ),
    primary_key=("contract_id", "role", "ordinal"),
    indexes=(("org", "contract_id"),),
)
#: Read access the commissioner granted to an outside organisation, while not revoked: the
#: visibility filter also finds a contract through a grant whose `until` (NULL: open-ended) has
#: not passed.
GRANTS = Table(
    PREFIX + "grants",
    (
        Column("contract_id", "key"),
        Column("ordinal", "integer"),
        Column("org", "text"),
        Column("until", "date", ""),
    ),
    primary_key=("contract_id", "ordinal"),
    indexes=(("org", "contract_id"),),
)
INDICATORS = Table(
    PREFIX + "indicators",
    (
        Column("contract_id", "key"),
        Column("ordinal", "integer"),
        Column("indicator_id", "text"),
        Column("name", "text"),
        Column("version", "bigint"),
        Column("unit", "text"),
        Column("direction", "text"),
        Column("active", "boolean"),
        Column("baseline_value", "text", ""),
        Column("baseline_measured_on", "date", ""),
        Column("target_value", "text", ""),
        Column("target_due_on", "date", ""),
        Column("latest_value", "text", ""),
        Column("latest_period_end", "date", ""),
        Column("on_track", "boolean", ""),
    ),
    primary_key=("contract_id", "ordinal"),
)
TABLES = (POSITION, SUMMARIES, PARTIES, GRANTS, INDICATORS)

#: What `summaries()` selects of a summary: what a ContractSummary needs, providers aside.
PAGE_COLUMNS = SUMMARIES.column_names[:8]


@dataclass(frozen=True)
class Dialect:
    """What one database spells its own way."""

    #: logical column type → SQL type. `key` is text that is ordered or compared: it must
    #: compare by code point, as Python does.
    types: Mapping[str, str]
    placeholder: str
    #: a placeholder compared with a `key` column
    key_placeholder: str
    #: what follows the position's SELECT inside a write, to hold it until the commit
    lock_row: str
    #: the substring search function: f(haystack, needle) > 0 when found
    contains: str
    #: the LIMIT parameter that means no limit
    no_limit: int | None


class Statements:
    """Every statement the stores run, rendered once per store.

    `names` gives the name of each table as the store's SQL must spell it (a PostgreSQL store
    qualifies and quotes it with its schema)."""

    def __init__(self, dialect: Dialect, names: Callable[[str], str]) -> None:
        self.dialect = dialect
        self.names = {table.name: names(table.name) for table in TABLES}
        position, summaries = self.names[POSITION.name], self.names[SUMMARIES.name]
        p = dialect.placeholder

        self.position = f"SELECT position FROM {position} WHERE id = 1"
        self.lock_position = self.position + dialect.lock_row
        self.start_position = (
            f"INSERT INTO {position} (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"
        )
        self.store_position = (
            f"INSERT INTO {position} (id, position) VALUES (1, {p}) "
            "ON CONFLICT (id) DO UPDATE SET position = excluded.position"
        )
        self.reset_position = (
            f"INSERT INTO {position} (id, position) VALUES (1, 0) "
            "ON CONFLICT (id) DO UPDATE SET position = 0"
        )
        columns = SUMMARIES.column_names
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        self.upsert_summary = (
            f"INSERT INTO {summaries} ({', '.join(columns)}) "
            f"VALUES ({', '.join([p] * len(columns))}) "
            f"ON CONFLICT (contract_id) DO UPDATE SET {updates}"
        )
        self.indicators = (
            f"SELECT {', '.join(INDICATORS.column_names)} FROM {self.names[INDICATORS.name]} "
            f"WHERE contract_id = {p} ORDER BY ordinal"
        )
        self.delete_all = tuple(
            f"DELETE FROM {self.names[table.name]}"
            for table in (SUMMARIES, PARTIES, GRANTS, INDICATORS)
        )
        self.create = tuple(statement for table in TABLES for statement in self._create(table))

    def _create(self, table: Table) -> tuple[str, ...]:
        """CREATE TABLE and its indexes, and for the position its one row."""
        name = self.names[table.name]
        types = self.dialect.types
        lines = [f"{c.name} {types[c.type]} {c.constraint}".rstrip() for c in table.columns]
        if table.primary_key:
            lines.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        statements = [f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(lines)})"]
        statements += [
            f"CREATE INDEX IF NOT EXISTS {table.name}_by_{columns[0]} "
            f"ON {name} ({', '.join(columns)})"
            for columns in table.indexes
        ]
        if table is POSITION:
            statements.append(self.start_position)
        return tuple(statements)

    def visible_ids(
        self, org: str, on: date, write_date: Callable[[date | None], Any]
    ) -> tuple[str, list[Any]]:
        """The ids of the contracts `org` may see on `on`, as `summaries` selects them."""
        condition, parameters = self._visible(org, on, write_date)
        statement = f"SELECT s.contract_id FROM {self.names[SUMMARIES.name]} s WHERE {condition}"
        return statement, parameters

    def _visible(
        self, org: str, on: date | None, write_date: Callable[[date | None], Any]
    ) -> tuple[str, list[Any]]:
        """Whether summary `s` is one `org` may see: a party to it, or (`on` given) holding a
        grant on `on`."""
        p = self.dialect.placeholder
        member = (
            f"EXISTS (SELECT 1 FROM {self.names[PARTIES.name]} p "
            f"WHERE p.org = {p} AND p.contract_id = s.contract_id)"
        )
        if on is None:
            return member, [org]
        grant = (
            f"EXISTS (SELECT 1 FROM {self.names[GRANTS.name]} g "
            f"WHERE g.org = {p} AND g.contract_id = s.contract_id "
            f"AND (g.until IS NULL OR g.until >= {p}))"
        )
        return f"({member} OR {grant})", [org, org, write_date(on)]

    def summaries(
        self, query: SummaryFilter, write_date: Callable[[date | None], Any]
    ) -> tuple[str, list[Any]]:
        """The page `query` asks for, as rows of (PAGE_COLUMNS..., provider or NULL), ordered
        by reference, contract id and provider ordinal; with its parameters."""
        d, p = self.dialect, self.dialect.placeholder
        conditions: list[str] = []
        parameters: list[Any] = []
        if query.after is not None:
            conditions.append(
                f"(s.reference, s.contract_id) > ({d.key_placeholder}, {d.key_placeholder})"
            )
            parameters.extend(query.after)
        if query.visible_to is not None:
            condition, values = self._visible(query.visible_to, query.visible_on, write_date)
            conditions.append(condition)
            parameters.extend(values)
        if query.status is not None:
            conditions.append(f"s.status = {p}")
            parameters.append(query.status)
        # The folded columns hold str.casefold(), so this is Python's own case-insensitive
        # substring match (SQL lower()/LIKE/ILIKE differ from casefold(), e.g. for "ß").
        text = (query.text or "").casefold()
        if text:
            conditions.append(
                f"({d.contains}(s.reference_folded, {p}) > 0 "
                f"OR {d.contains}(s.title_folded, {p}) > 0)"
            )
            parameters.extend((text, text))
        # The memory store stops when it has `limit` rows, so a limit <= 0 never stops it.
        parameters.append(query.limit if query.limit > 0 else d.no_limit)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        statement = f"""
            WITH page AS (
                SELECT {", ".join(f"s.{c}" for c in PAGE_COLUMNS)}
                FROM {self.names[SUMMARIES.name]} s {where}
                ORDER BY s.reference, s.contract_id LIMIT {p}
            )
            SELECT page.*, p.org FROM page
            LEFT JOIN {self.names[PARTIES.name]} p
                ON p.contract_id = page.contract_id AND p.role = 'provider'
            ORDER BY page.reference, page.contract_id, p.ordinal
        """
        return statement, parameters
