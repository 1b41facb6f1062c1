"""The access log's stores on every backend: entries come back in order and filtered as an
auditor may see them; the database itself refuses to change or delete an entry; the buffer
writes everything it took by the time it is closed."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from application.access_log import AccessEntry, AccessQuery
from infrastructure.access_log import BufferedAccessLog, access_log_store
from infrastructure.settings import Settings

A, B = "a" * 32, "b" * 32
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def entry(org: str, contract_id: str | None, n: int = 0) -> AccessEntry:
    return AccessEntry(
        at=T0 + timedelta(seconds=n),
        subject=f"person-{n}",
        organisation=org,
        roles="auditor,reader",
        contract_id=contract_id,
        operation="get_contract",
        status=200,
        trace_id=f"{n:032x}",
    )


def test_entries_round_trip_and_filter_as_an_auditor_may_see_them(settings: Settings) -> None:
    store = access_log_store(settings)
    try:
        store.append([entry("gemeente", A, 1), entry("zorg-a", A, 2), entry("zorg-a", B, 3)])
        store.append([entry("elders", None, 4)])
        mine = store.entries(AccessQuery("gemeente", commissioned=frozenset({A})))
        assert [(e.id, e.organisation, e.contract_id) for e in mine] == [
            (1, "gemeente", A),
            (2, "zorg-a", A),
        ]
        assert mine[0].at == T0 + timedelta(seconds=1) and mine[0].at.tzinfo is not None
        assert mine[0].roles == "auditor,reader" and mine[0].trace_id == f"{1:032x}"
        theirs = store.entries(AccessQuery("zorg-a", commissioned=frozenset()))
        assert [e.id for e in theirs] == [2, 3]
        assert [e.id for e in store.entries(AccessQuery("zorg-a", frozenset(), after=2))] == [3]
        only_b = AccessQuery("zorg-a", frozenset(), contract_id=B)
        assert [e.id for e in store.entries(only_b)] == [3]
        assert [e.id for e in store.entries(AccessQuery("zorg-a", frozenset(), limit=1))] == [2]
    finally:
        store.close()


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        AccessEntry(
            at=datetime(2026, 1, 1),
            subject="s",
            organisation="o",
            roles="reader",
            contract_id=None,
            operation="op",
            status=200,
            trace_id="",
        )


def test_the_buffer_writes_every_entry_by_the_time_it_closes(settings: Settings) -> None:
    buffered = BufferedAccessLog(access_log_store(settings), interval=60)
    for n in range(1, 1201):
        buffered.record(entry("gemeente", A, n))
    buffered.close()  # long before the 60 s interval: closing flushes
    # Read straight from the store (the buffer's own reads would flush first).
    found = buffered.store.entries(AccessQuery("gemeente", frozenset(), limit=500, after=700))
    assert [e.id for e in found] == list(range(701, 1201))


def test_sqlite_refuses_to_change_or_delete_an_entry(tmp_path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'dialoog.sqlite'}")
    access_log_store(settings).append([entry("gemeente", A, 1)])
    connection = sqlite3.connect(tmp_path / "dialoog.sqlite")
    try:
        for statement in (
            "UPDATE dialoog_access_log SET subject = 'someone-else'",
            "DELETE FROM dialoog_access_log WHERE id = 1",
            "DELETE FROM dialoog_access_log",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                connection.execute(statement)
        assert connection.execute("SELECT subject FROM dialoog_access_log").fetchall() == [
            ("person-1",)
        ]
    finally:
        connection.close()


@pytest.mark.postgres
def test_postgres_refuses_to_change_delete_or_truncate_an_entry(postgres_database_url) -> None:
    import psycopg

    access_log_store(Settings(database_url=postgres_database_url)).append([entry("g", A, 1)])
    with psycopg.connect(postgres_database_url, autocommit=True) as connection:
        for statement in (
            "UPDATE dialoog_access_log SET subject = 'someone-else'",
            "DELETE FROM dialoog_access_log WHERE id = 1",
            "TRUNCATE dialoog_access_log",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                connection.execute(statement)
        rows = connection.execute("SELECT subject FROM dialoog_access_log").fetchall()
        assert rows == [("person-1",)]


@pytest.mark.postgres
def test_postgres_batches_share_one_connection_and_a_lost_one_is_replaced(
    postgres_database_url,
) -> None:
    import psycopg

    store = access_log_store(Settings(database_url=postgres_database_url))
    try:
        store.append([entry("g", A, 1)])
        store.append([entry("g", A, 2)])
        with psycopg.connect(postgres_database_url, autocommit=True) as admin:
            writers = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
            assert len(writers) == 1, writers  # one connection wrote both batches
            admin.execute("SELECT pg_terminate_backend(%s)", writers[0])
        with pytest.raises(psycopg.OperationalError):
            store.append([entry("g", A, 3)])  # the lost connection: this batch fails…
        store.append([entry("g", A, 3)])  # …and the next opens a new one
        with psycopg.connect(postgres_database_url, autocommit=True) as admin:
            rows = admin.execute("SELECT subject FROM dialoog_access_log ORDER BY id").fetchall()
        assert [r[0] for r in rows] == ["person-1", "person-2", "person-3"]
    finally:
        store.close()
