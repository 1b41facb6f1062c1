"""The read-model stores: SQLite and PostgreSQL behave exactly like MemoryReadModels.

`store` runs every test once per backend (memory, sqlite, postgres) on a clean store from the
shared `settings` fixture; without DIALOOG_TEST_DATABASE_URL the postgres runs fail."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from application.errors import StoreUnavailable
from application.read_models import (
    ContractSummary,
    IndicatorRow,
    ReadModelStore,
    SummaryFilter,
)
from infrastructure.read_models import MemoryReadModels, PostgresReadModels, SqliteReadModels
from infrastructure.settings import Settings
from tests.support.pgcluster import PASSWORD, PgCluster

T0 = datetime(2025, 5, 12, 9, 30, tzinfo=UTC)


def open_store(settings: Settings, **postgres: str) -> ReadModelStore:
    database = settings.database
    if database.kind == "memory":
        return MemoryReadModels()
    if database.kind == "sqlite":
        assert database.path is not None
        return SqliteReadModels(str(database.path), lock_timeout=settings.lock_timeout)
    return PostgresReadModels(
        settings.database_url,
        pool_size=settings.pool_size,
        connect_timeout=settings.connect_timeout,
        **postgres,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[ReadModelStore]:
    opened = open_store(settings)
    try:
        yield opened
    finally:
        opened.close()


def summary(contract_id: str, reference: str = "", **changes: object) -> ContractSummary:
    values: dict[str, object] = {
        "contract_id": contract_id,
        "reference": reference or f"REF-{contract_id}",
        "title": f"Contract {contract_id}",
        "status": "active",
        "commissioner": "gemeente",
        "providers": ("zorg-a",),
        "version": 1,
        "updated_at": T0,
        "head_digest": "d" * 64,
    }
    values.update(changes)
    return ContractSummary(**values)  # type: ignore[arg-type]


def indicator(contract_id: str, indicator_id: str, **changes: object) -> IndicatorRow:
    values: dict[str, object] = {
        "contract_id": contract_id,
        "indicator_id": indicator_id,
        "name": f"Indicator {indicator_id}",
        "version": 1,
        "unit": "%",
        "direction": "lower_is_better",
        "active": True,
        "baseline_value": Decimal("12.50"),
        "baseline_measured_on": date(2025, 1, 1),
        "target_value": Decimal("4.00"),
        "target_due_on": date(2026, 12, 31),
        "latest_value": Decimal("9.125"),
        "latest_period_end": date(2025, 6, 30),
        "on_track": True,
    }
    values.update(changes)
    return IndicatorRow(**values)  # type: ignore[arg-type]


ALL = SummaryFilter(limit=1000)


# --------------------------------------------------------------------------- position, advance


def test_position_starts_at_zero_and_nothing_is_stored(store: ReadModelStore) -> None:
    assert store.position() == 0
    assert store.summaries(ALL) == []
    assert store.indicators("c1") == []


def test_advance_writes_rows_and_position(store: ReadModelStore) -> None:
    rows = [indicator("c1", "i1"), indicator("c1", "i2", name="Another")]
    assert store.advance(0, 7, [summary("c1"), summary("c2")], {"c1": rows})
    assert store.position() == 7
    assert store.summaries(ALL) == [summary("c1"), summary("c2")]
    assert store.indicators("c1") == rows
    assert store.indicators("c2") == []


def test_advance_from_a_stale_position_returns_false_and_writes_nothing(
    store: ReadModelStore,
) -> None:
    assert store.advance(0, 5, [summary("c1")], {"c1": [indicator("c1", "i1")]})
    assert not store.advance(
        3, 9, [summary("c1", title="changed"), summary("c2")], {"c1": [], "c2": []}
    )
    assert not store.advance(0, 9, [summary("c3")], {})
    assert store.position() == 5
    assert store.summaries(ALL) == [summary("c1")]
    assert store.indicators("c1") == [indicator("c1", "i1")]


def test_upsert_replaces_a_summary_and_its_providers(store: ReadModelStore) -> None:
    store.advance(0, 1, [summary("c1", providers=("a", "b", "c"))], {})
    replaced = summary(
        "c1",
        reference="NEW",
        title="Renamed",
        status="suspended",
        commissioner="provincie",
        providers=("d",),
        version=9,
        updated_at=T0 + timedelta(days=3),
        head_digest="e" * 64,
    )
    assert store.advance(1, 2, [replaced], {})
    assert store.summaries(ALL) == [replaced]
    assert store.summaries(SummaryFilter(visible_to="a")) == []
    assert store.summaries(SummaryFilter(visible_to="gemeente")) == []
    assert store.summaries(SummaryFilter(visible_to="provincie")) == [replaced]
    assert store.summaries(SummaryFilter(visible_to="d")) == [replaced]


def test_the_last_summary_of_a_contract_in_one_batch_wins(store: ReadModelStore) -> None:
    first, last = summary("c1", title="first"), summary("c1", title="last", providers=())
    assert store.advance(0, 1, [first, last], {})
    assert store.summaries(ALL) == [last]


def test_indicator_rows_are_replaced_per_contract(store: ReadModelStore) -> None:
    store.advance(
        0,
        1,
        [],
        {"c1": [indicator("c1", "i1"), indicator("c1", "i2")], "c2": [indicator("c2", "j1")]},
    )
    assert store.advance(1, 2, [], {"c1": [indicator("c1", "i3", name="B")]})
    assert store.indicators("c1") == [indicator("c1", "i3", name="B")]
    assert store.indicators("c2") == [indicator("c2", "j1")]  # untouched
    assert store.advance(2, 3, [], {"c2": []})
    assert store.indicators("c2") == []


def test_values_dates_and_datetimes_round_trip_exactly(store: ReadModelStore) -> None:
    amsterdam = timezone(timedelta(hours=2))
    when = datetime(2025, 6, 1, 23, 59, 59, 123456, tzinfo=amsterdam)
    odd_values = [Decimal("12.50"), Decimal("0.000"), Decimal("-3.1415926535897932384626")]
    odd_values += [Decimal("1E+3"), Decimal("-0.00"), Decimal("123456789012345678901234.5")]
    rows = [
        indicator(
            "c1",
            f"i{n}",
            name=f"n{n}",
            baseline_value=value,
            target_value=None if n % 2 else value,
            latest_value=value,
            baseline_measured_on=date(1, 1, 1) if n == 0 else date(2025, 2, 28),
            target_due_on=date(9999, 12, 31),
            latest_period_end=None,
            active=bool(n % 2),
            on_track=[True, False, None][n % 3],
        )
        for n, value in enumerate(odd_values)
    ]
    store.advance(0, 1, [summary("c1", updated_at=when, version=2**40)], {"c1": rows})

    [stored] = store.summaries(ALL)
    assert stored == summary("c1", updated_at=when, version=2**40)
    assert stored.updated_at.utcoffset() is not None
    assert stored.updated_at.astimezone(UTC) == when.astimezone(UTC)
    back = store.indicators("c1")
    assert back == rows
    for got, want in zip(back, rows, strict=True):
        assert str(got.baseline_value) == str(want.baseline_value)  # '12.50' stays '12.50'
        assert type(got.active) is bool
        assert got.on_track is want.on_track
        assert type(got.target_due_on) is date


SQL_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])


@pytest.fixture
def counted(backend: str, request: pytest.FixtureRequest) -> None:
    """For tests that narrow `backend` to the SQL stores: still counted per backend."""
    if ("backend", backend) not in request.node.user_properties:
        request.node.user_properties.append(("backend", backend))


@SQL_BACKENDS
@pytest.mark.usefixtures("counted")
def test_a_naive_updated_at_is_refused(store: ReadModelStore) -> None:
    # The memory store keeps whatever it is given; a database needs to know the instant.
    with pytest.raises(ValueError, match="timezone-aware"):
        store.advance(0, 1, [summary("c1", updated_at=datetime(2025, 1, 1))], {})
    assert store.position() == 0


def test_clear_forgets_rows_and_position(store: ReadModelStore) -> None:
    store.advance(0, 4, [summary("c1")], {"c1": [indicator("c1", "i1")]})
    store.clear()
    assert store.position() == 0
    assert store.summaries(ALL) == []
    assert store.summaries(SummaryFilter(visible_to="zorg-a")) == []
    assert store.indicators("c1") == []
    assert store.advance(0, 2, [summary("c2")], {})
    assert store.summaries(ALL) == [summary("c2")]


def race_to_advance(store: ReadModelStore, names: list[str]) -> list[bool]:
    """Every name advances from the current position at the same moment; the outcomes."""
    start = store.position()
    barrier = threading.Barrier(len(names))
    results: list[bool] = []
    errors: list[BaseException] = []

    def advance(name: str) -> None:
        try:
            barrier.wait()
            rows = {name: [indicator(name, "i1")]}
            results.append(store.advance(start, start + 10, [summary(name)], rows))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=advance, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return results


def test_two_threads_advancing_from_the_same_position_exactly_one_wins(
    store: ReadModelStore,
) -> None:
    for round_ in range(5):
        start = store.position()
        results = race_to_advance(store, [f"r{round_}-a", f"r{round_}-b"])
        assert sorted(results) == [False, True]
        assert store.position() == start + 10
        [winner] = [s for s in store.summaries(ALL) if s.contract_id.startswith(f"r{round_}-")]
        assert store.indicators(winner.contract_id) == [indicator(winner.contract_id, "i1")]
        loser = f"r{round_}-b" if winner.contract_id.endswith("a") else f"r{round_}-a"
        assert store.indicators(loser) == []


# --------------------------------------------------------------------------- filters, pages


def test_filters(store: ReadModelStore) -> None:
    rows = [
        summary("c1", reference="WMO-2025-001", title="Huishoudelijke hulp", providers=("a",)),
        summary("c2", reference="JW-2025-002", title="Jeugdzorg Noord", status="suspended"),
        summary("c3", reference="wmo-2025-003", title="Vervoer 100%_korting", commissioner="x"),
        summary("c4", reference="STRASSE", title="Straße", providers=("b", "c")),
    ]
    store.advance(0, 1, rows, {})

    def ids(**query: object) -> list[str]:
        return [s.contract_id for s in store.summaries(SummaryFilter(**query))]  # type: ignore[arg-type]

    assert ids() == ["c2", "c4", "c1", "c3"]  # code point order: upper case before lower
    assert ids(visible_to="gemeente") == ["c2", "c4", "c1"]
    assert ids(visible_to="x") == ["c3"]
    assert ids(visible_to="c") == ["c4"]
    assert ids(visible_to="nobody") == []
    assert ids(status="suspended") == ["c2"]
    assert ids(text="wmo") == ["c1", "c3"]
    assert ids(text="NOORD") == ["c2"]
    assert ids(text="%") == ["c3"]
    assert ids(text="0%_k") == ["c3"]
    assert ids(text="_") == ["c3"]
    assert ids(text="2025_") == []
    assert ids(text="strasse") == ["c4"]  # casefold: ß matches ss, in title and reference
    assert ids(text="ß") == ["c4"]
    assert ids(text="") == ["c2", "c4", "c1", "c3"]
    assert ids(text="wmo", visible_to="gemeente", status="active") == ["c1"]
    assert ids(limit=2) == ["c2", "c4"]
    assert ids(after=("STRASSE", "c4"), limit=2) == ["c1", "c3"]
    assert ids(after=("STRASSE", "c3")) == ["c4", "c1", "c3"]
    assert store.summaries(SummaryFilter(visible_to="b"))[0].providers == ("b", "c")


references = st.text(alphabet="aAbB-%_\\ßSs É", max_size=4)
orgs = st.sampled_from(["org-a", "org-b", "org-c", "Org-A"])
summaries_strategy = st.lists(
    st.builds(
        ContractSummary,
        contract_id=st.text(alphabet="0123abc", min_size=1, max_size=3),
        reference=references,
        title=references,
        status=st.sampled_from(["draft", "active", "suspended"]),
        commissioner=orgs,
        providers=st.lists(orgs, max_size=3).map(tuple),  # unsorted and repeated on purpose
        version=st.integers(1, 2**40),
        updated_at=st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]),
        ),
        head_digest=st.text(alphabet="0123456789abcdef", min_size=1, max_size=8),
    ),
    max_size=25,
)
queries = st.builds(
    SummaryFilter,
    visible_to=st.none() | orgs,
    status=st.none() | st.sampled_from(["draft", "active", "suspended"]),
    text=st.none() | st.text(alphabet="aAbB%_\\ßSs É", max_size=3),
    after=st.none() | st.tuples(references, st.text(alphabet="0123abc", max_size=3)),
    limit=st.integers(-1, 6),
)


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(summaries_strategy, min_size=1, max_size=3), query=queries)
def test_summaries_match_the_memory_store(
    store: ReadModelStore, batches: list[list[ContractSummary]], query: SummaryFilter
) -> None:
    store.clear()
    reference = MemoryReadModels()
    for position, batch in enumerate(batches):
        assert store.advance(position, position + 1, batch, {})
        reference.advance(position, position + 1, batch, {})

    assert store.summaries(query) == reference.summaries(query)
    if query.visible_to is not None:
        day = date(2026, 6, 1)
        assert store.visible_ids(query.visible_to, day) == reference.visible_ids(
            query.visible_to, day
        )

    # Walk every page with the keyset cursor: the same rows, in the same order.
    pages: list[list[ContractSummary]] = []
    cursor = None
    for _ in range(100):
        page_query = SummaryFilter(
            visible_to=query.visible_to, status=query.status, text=query.text, after=cursor, limit=2
        )
        page = store.summaries(page_query)
        assert page == reference.summaries(page_query)
        if not page:
            break
        pages.append(page)
        cursor = (page[-1].reference, page[-1].contract_id)
    unpaged = SummaryFilter(visible_to=query.visible_to, status=query.status, text=query.text)
    walked = [row for page in pages for row in page]
    assert walked == reference.summaries(SummaryFilter(**{**vars(unpaged), "limit": 10_000}))


# --------------------------------------------------------------------------- setup, failures


@SQL_BACKENDS
@pytest.mark.usefixtures("counted")
def test_stores_opened_at_the_same_moment_all_start(settings: Settings) -> None:
    barrier = threading.Barrier(4)
    opened: list[ReadModelStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            barrier.wait()
            opened.append(open_store(settings))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        assert len(opened) == 4
        assert opened[0].advance(0, 1, [summary("c1")], {})
        assert [s.summaries(ALL) for s in opened] == [[summary("c1")]] * 4
    finally:
        for one in opened:
            one.close()


def test_postgres_schemas_keep_stores_apart(postgres_database_url: str) -> None:
    one = PostgresReadModels(postgres_database_url, pool_size=2, connect_timeout=2, schema="one")
    two = PostgresReadModels(postgres_database_url, pool_size=2, connect_timeout=2, schema="two")
    try:
        assert one.advance(0, 3, [summary("c1")], {"c1": [indicator("c1", "i1")]})
        assert two.position() == 0
        assert two.summaries(ALL) == []
        assert two.indicators("c1") == []
        assert one.summaries(ALL) == [summary("c1")]
    finally:
        one.close()
        two.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_postgres_where_nothing_listens_is_unavailable_within_5_seconds() -> None:
    url = f"postgresql://app:secret-pw@127.0.0.1:{closed_port()}/dialoog"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        PostgresReadModels(url, pool_size=2, connect_timeout=2)
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert "secret-pw" not in message
    assert "127.0.0.1" in message
    assert "refused" in message.lower()  # the reason, not only the pool's timeout
    assert raised.value.__cause__ is None


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_server_killed_between_calls_is_unavailable_within_5_seconds() -> None:
    with PgCluster() as cluster:
        store = PostgresReadModels(cluster.url, pool_size=2, connect_timeout=2)
        try:
            assert store.advance(0, 1, [summary("c1")], {})
            os.kill(cluster.postmaster_pid(), signal.SIGKILL)
            # A backend may outlive its postmaster for a moment and still answer; within 5 s
            # every call must fail fast instead.
            killed, position = time.monotonic(), 1
            while True:
                started = time.monotonic()
                try:
                    store.advance(position, position + 1, [summary(f"c{position}")], {})
                except StoreUnavailable as error:
                    assert time.monotonic() - started < 5
                    assert PASSWORD not in str(error)
                    break
                position += 1
                assert time.monotonic() - killed < 5, "still answering 5 s after the kill"
                time.sleep(0.05)
        finally:
            store.close()


def test_postgres_store_that_went_away_is_unavailable(postgres_database_url: str) -> None:
    store = PostgresReadModels(postgres_database_url, pool_size=2, connect_timeout=2)
    store.close()
    with pytest.raises(StoreUnavailable):
        store.position()


def test_sqlite_write_lock_held_elsewhere_is_unavailable_after_lock_timeout(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = str(tmp_path / "rm.sqlite")
    store = SqliteReadModels(path, lock_timeout=0.5)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.advance(0, 1, [summary("c1")], {})
        assert 0.4 < time.monotonic() - started < 5
        assert store.position() == 0  # readers are not blocked by a writer in WAL mode
        blocker.execute("ROLLBACK")
        assert store.advance(0, 1, [summary("c1")], {})
    finally:
        blocker.close()
        store.close()


def test_a_grant_shows_the_contract_in_its_grantees_list_until_it_ends(
    store: ReadModelStore,
) -> None:
    last_day = date(2026, 12, 31)
    rows = [
        summary("c1", grants=(("rekenkamer-utrecht", last_day),)),
        summary("c2", grants=(("accountant-bdo", None),)),
        summary("c3"),
    ]
    store.advance(0, 1, rows, {})

    def ids(org: str, day: date | None) -> list[str]:
        query = SummaryFilter(visible_to=org, visible_on=day)
        found = [s.contract_id for s in store.summaries(query)]
        if day is not None:  # the feed's read: the same contracts, ids only
            assert store.visible_ids(org, day) == set(found)
        return found

    assert ids("rekenkamer-utrecht", last_day) == ["c1"]
    assert ids("rekenkamer-utrecht", last_day + timedelta(days=1)) == []
    assert ids("rekenkamer-utrecht", None) == []  # no day: grants give no access
    assert ids("accountant-bdo", date(2099, 1, 1)) == ["c2"]
    assert ids("gemeente", last_day) == ["c1", "c2", "c3"]
    # A later summary without the grant (revoked) takes it away.
    store.advance(1, 2, [summary("c1", version=2)], {})
    assert ids("rekenkamer-utrecht", last_day) == []
    # The summary keeps its own fields; grants only decide who sees it.
    (row,) = store.summaries(SummaryFilter(visible_to="accountant-bdo", visible_on=last_day))
    assert (row.contract_id, row.providers, row.commissioner) == ("c2", ("zorg-a",), "gemeente")
