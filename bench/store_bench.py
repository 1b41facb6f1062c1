"""Store-level figures: the bare-database ceilings and the service-level benchmarks.

Ceilings (a) PostgreSQL INSERT+COMMIT, (c) raw notification-log reads, (d) raw event reads and
(e) SQLite insert+commit; seeding of the big contract and the fleet; P3/P4 at service level;
P5 (read-model rebuild) and P6 (chain verification). Imported by bench/run.py only.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from application.commands import (
    AcceptInvitation,
    ActivateContract,
    AdmitProvider,
    GiveConsent,
    HoldSession,
    IssuePublication,
    OpenContract,
    SubmitProposal,
)
from application.service import ContractService, Principal
from domain.chain import sealing
from domain.indicators import Baseline, IndicatorChange, Target
from domain.values import Participant, Period

COMMISSIONER = "gemeente-bench"
PROVIDER = "zorg-bench"
MANAGER = Principal("bench-m", "Bench Manager", COMMISSIONER, frozenset({"contract_manager"}))
PROVIDER_MANAGER = Principal("bench-p", "Bench Provider", PROVIDER, frozenset({"contract_manager"}))
AUDITOR = Principal("bench-a", "Bench Auditor", COMMISSIONER, frozenset({"auditor"}))

#: A small row, about the size of one stored event's bookkeeping (not its JSON state).
SMALL_ROW = '{"kind":"bench","n":%d,"text":"een kleine rij voor de meting"}'


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; values in any order."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class Rate:
    """A counted loop: how many, how long, and each iteration's latency in seconds."""

    count: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


def timed_loop(step: Callable[[int], Any], *, max_count: int, max_seconds: float) -> Rate:
    """Run `step(i)` until `max_count` iterations or `max_seconds` have passed."""
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + max_seconds
    i = 0
    while i < max_count:
        t0 = time.perf_counter()
        step(i)
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        i += 1
        if t1 >= deadline:
            break
    return Rate(i, time.perf_counter() - started, latencies)


# Ceilings ------------------------------------------------------------------------------------


def postgres_insert_ceiling(url: str, *, max_count: int, max_seconds: float) -> Rate:
    """(a) One connection, INSERT one small row, COMMIT, repeat — the cluster's own defaults."""
    import psycopg

    with psycopg.connect(url) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_ceiling "
            "(id bigserial PRIMARY KEY, body text NOT NULL)"
        )
        connection.commit()

        def step(i: int) -> None:
            connection.execute("INSERT INTO bench_ceiling (body) VALUES (%s)", (SMALL_ROW % i,))
            connection.commit()

        for i in range(20):  # warm up: connection, prepared statement, WAL segment
            step(i)
        rate = timed_loop(step, max_count=max_count, max_seconds=max_seconds)
        connection.execute("DROP TABLE bench_ceiling")
        connection.commit()
    return rate


def postgres_settings(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'wal_sync_method', 'server_version', "
            "'shared_buffers', 'max_connections')"
        ).fetchall()
    return dict(rows)


def create_database(url: str, name: str) -> str:
    """A new, empty database on the cluster of `url`; its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url.rsplit("/", 1)[0] + "/" + name


def log_size(url: str) -> int:
    """How many leaves the transparency log of the database at `url` holds."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM dialoog_log_leaves").fetchone()
    return int(row[0]) if row else 0


def sqlite_insert_ceiling(folder: Path, *, max_count: int, max_seconds: float) -> Rate:
    """(e) One connection to a file beside the service's, WAL journal (as the library sets it),
    SQLite's default synchronous setting; INSERT one small row and COMMIT, repeat."""
    path = folder / "ceiling.sqlite"
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE bench_ceiling (id INTEGER PRIMARY KEY, body TEXT)")

        def step(i: int) -> None:
            connection.execute("BEGIN")
            connection.execute("INSERT INTO bench_ceiling (body) VALUES (?)", (SMALL_ROW % i,))
            connection.execute("COMMIT")

        for i in range(20):
            step(i)
        return timed_loop(step, max_count=max_count, max_seconds=max_seconds)
    finally:
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def read_notifications_raw(service: ContractService, page: int) -> Rate:
    """(c) Every notification in the log, `page` at a time, as the library returns them."""
    total, pages = 0, 0
    started = time.perf_counter()
    start = 1
    while True:
        batch = service.recorder.select_notifications(start=start, limit=page)
        if not batch:
            break
        total += len(batch)
        pages += 1
        start = batch[-1].id + 1
    return Rate(total, time.perf_counter() - started, [])


def feed_rate(service: ContractService, principal: Principal, page: int) -> Rate:
    """P12: the whole change feed followed from the start, `page` CloudEvents at a time, as
    `GET /api/v1/events` reads and encodes it for `principal` (visibility, personal texts
    opened)."""
    from application.feed import FeedQuery, feed_page

    total, after = 0, 0
    started = time.perf_counter()
    while True:
        found = feed_page(service, principal, FeedQuery(after=after, limit=page), "urn:bench")
        found.to_json()  # the page as the API sends it
        total += len(found.encoded)
        if found.next_cursor is None or found.next_cursor == after:
            break
        after = found.next_cursor
    return Rate(total, time.perf_counter() - started, [])


def signed_in_pages(port: int, subject: str) -> Any:
    """An httpx client signed in to the pages of the server on `port` through the development
    sign-in (DIALOOG_DEV_SIGNIN=1) as the demo person `subject`: the session cookie it got."""
    import re

    import httpx

    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    form = client.get("/aanmelden")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if form.status_code != 200 or found is None:
        raise RuntimeError(f"no sign-in form: {form.status_code}")
    done = client.post("/aanmelden/ontwikkeling", data={"csrf": found.group(1), "persoon": subject})
    if done.status_code not in (302, 303):
        raise RuntimeError(f"the development sign-in answered {done.status_code}")
    return client


def timed_gets(client: Any, path: str, repeats: int, headers: dict[str, str]) -> Rate:
    """`repeats` GETs of `path`, one at a time, each checked for 200."""
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers)
        latencies.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
    return Rate(repeats, time.perf_counter() - started, latencies)


def read_events_raw(service: ContractService, contract_id: str, page: int) -> Rate:
    """(d) Every stored event of one contract, `page` at a time, as the library returns them."""
    uuid = UUID(hex=contract_id)
    total, version = 0, 0
    started = time.perf_counter()
    while True:
        batch = service.recorder.select_events(uuid, gt=version, limit=page)
        if not batch:
            break
        total += len(batch)
        version = batch[-1].originator_version
    return Rate(total, time.perf_counter() - started, [])


def best_of(runs: int, measure: Callable[[], Rate]) -> Rate:
    """The median run by rate (the machine is shared: one run can be unlucky either way)."""
    results = sorted((measure() for _ in range(runs)), key=lambda r: r.per_second)
    return results[len(results) // 2]


# Seeding -------------------------------------------------------------------------------------


def open_active_contract(
    service: ContractService,
    reference: str,
    *,
    manager: Principal = MANAGER,
    provider_manager: Principal = PROVIDER_MANAGER,
) -> str:
    """A contract with one provider, activated: ready for sessions and proposals (4 events)."""
    opened = service.handle(
        manager,
        OpenContract(
            reference=reference,
            title=f"Wijkondersteuning {reference}",
            assignment="Integrale ondersteuning in de wijk, samen met bewoners.",
            procedure="dialogue",
            term=Period(date(2025, 1, 1), date(2028, 12, 31)),
            ceiling=Decimal("1250000.00"),
            budget_period=Period(date(2025, 1, 1), date(2025, 12, 31)),
        ),
    )
    cid = opened.contract_id
    # Everything takes effect on the term's first day, as the demo's story does.
    start = date(2025, 1, 1)
    provider = provider_manager.org
    service.handle(
        manager,
        AdmitProvider(cid, org=provider, name="Zorg Bench", rationale="fit", effective_on=start),
    )
    service.handle(provider_manager, AcceptInvitation(cid, org=provider, effective_on=start))
    service.handle(manager, ActivateContract(cid, effective_on=start))
    return cid


def publication(contract_id: str, summary: str) -> IssuePublication:
    return IssuePublication(
        contract_id, audience="council", channel="raadsinformatiebrief", summary=summary
    )


def seed_fleet(service: ContractService, count: int, prefix: str) -> list[str]:
    return [open_active_contract(service, f"{prefix}-{n:05d}") for n in range(count)]


class Grower:
    """Grows one active contract with a realistic mix of facts — sessions, publications,
    resident consultations and measurements of an indicator agreed first through the service —
    made by the aggregate's own command methods, so the hash chain, the sealed personal texts
    and the snapshots (taken at the service's interval when saved) are the real ones."""

    def __init__(
        self,
        service: ContractService,
        contract_id: str,
        *,
        manager: Principal = MANAGER,
        provider_manager: Principal = PROVIDER_MANAGER,
    ) -> None:
        self.service = service
        self.contract_id = contract_id
        self.commissioner, self.provider = manager.org, provider_manager.org
        session = service.handle(
            manager,
            HoldSession(
                contract_id,
                held_on=date(2025, 2, 1),
                kind="dialogue",
                participants=(Participant("Gea", self.commissioner, "contract manager"),),
                minutes_ref="M-1",
                summary="Startsessie",
            ),
        ).created_id
        proposal = service.handle(
            manager,
            SubmitProposal(
                contract_id,
                session_id=session,
                change=IndicatorChange(
                    action="add",
                    name="Terugval",
                    definition="Aandeel cliënten dat binnen een jaar terugvalt",
                    unit="%",
                    direction="lower_is_better",
                    baseline=Baseline(Decimal("5"), date(2025, 1, 1), "CBS"),
                    target=Target(Decimal("4"), date(2026, 1, 1)),
                    frequency="quarterly",
                    data_source="CBS",
                    effective_on=date(2025, 2, 1),  # agreed in the session of that day
                ),
                rationale="KPI",
            ),
        ).created_id
        assert proposal is not None
        service.handle(provider_manager, GiveConsent(contract_id, proposal_id=proposal))
        self.manager, self.provider_actor = manager.actor(), provider_manager.actor()
        with service.personal_data.reading(contract_id):
            self.contract: Any = service.repository.get(UUID(hex=contract_id))
        self.indicator_id = next(iter(self.contract.indicators))
        self.today = datetime.now(UTC).date()
        self.quarters = [  # the quarters that have ended: a measurement's period has
            Period(date(y, m, 1), date(y, m + 2, 28))
            for y in range(2025, self.today.year + 1)
            for m in (1, 4, 7, 10)
            if date(y, m + 2, 28) < self.today
        ]
        self.day = date(2025, 3, 1)

    @property
    def version(self) -> int:
        return int(self.contract.version)

    def grow(self, until: int, *, batch: int = 250) -> None:
        """Add facts until the contract has `until` events, saving every `batch` events and at
        the end. What the service does around every command is done here too: the contract's
        keys at hand, personal texts sealed as events are triggered (their digests cover the
        sealed form)."""
        service, contract = self.service, self.contract
        with service.personal_data.reading(self.contract_id), sealing(service.personal_data):
            while contract.version < until:
                self._next_fact()
                if contract.version % batch == 0 or contract.version >= until:
                    service.save(contract)

    def _next_fact(self) -> None:
        contract, n = self.contract, self.contract.version
        kind = n % 10
        if kind == 0:
            contract.hold_session(
                actor=self.manager,
                held_on=self.day,
                kind="dialogue",
                participants=(
                    Participant("Gea", self.commissioner, "contract manager"),
                    Participant("Piet", self.provider, "contract manager"),
                ),
                minutes_ref=f"M-{n}",
                summary="Voortgang besproken; verwachtingen gedeeld.",
            )
        elif kind == 1:
            contract.issue_publication(
                actor=self.manager,
                audience="council",
                channel="raadsinformatiebrief",
                summary="Stand",
            )
        elif kind == 2:
            contract.consult_residents(
                actor=self.manager,
                held_on=self.day,
                method="wijkavond",
                summary="Bewoners gehoord",
                participants_count=40,
            )
        else:
            contract.record_measurement(
                actor=self.provider_actor,
                indicator_id=self.indicator_id,
                period=self.quarters[n % len(self.quarters)],
                value=Decimal(5) - Decimal(n % 20) / 10,
                source="CBS",
            )
        # sessions are not held in the future
        self.day = min(self.day + timedelta(days=1), self.today)


def seed_big_contract(service: ContractService, events: int, *, batch: int = 250) -> str:
    """A contract of `events` events (`Grower`), saved `batch` events per transaction."""
    cid = open_active_contract(service, "BIG-00001")
    Grower(service, cid).grow(events, batch=batch)
    if service.projection is not None:  # the read models follow, as after any command
        service.projection.catch_up()
    return cid


# Service-level figures -----------------------------------------------------------------------


def latency(call: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def time_travel_latencies(
    service: ContractService, contract_id: str, head: int, repeats: int, seed: int = 6
) -> tuple[list[float], list[float]]:
    """P3 at service level: get_contract at random versions and moments vs the current state."""
    rng = random.Random(seed)
    first = service.get_contract(AUDITOR, contract_id, version=1).created_at
    last = service.get_contract(AUDITOR, contract_id).updated_at
    span = (last - first).total_seconds()

    def at_random() -> Any:
        if rng.random() < 0.5:
            return service.get_contract(AUDITOR, contract_id, version=rng.randint(1, head))
        moment = first + timedelta(seconds=rng.uniform(0, span))
        return service.get_contract(AUDITOR, contract_id, as_of=moment.astimezone(UTC))

    service.get_contract(AUDITOR, contract_id)  # warm the cache as a live server would be
    current = latency(lambda: service.get_contract(AUDITOR, contract_id), repeats)
    travelled = latency(at_random, repeats)
    return travelled, current


def history_latencies(
    service: ContractService, contract_id: str, head: int, repeats: int, limit: int = 50
) -> tuple[list[float], list[float]]:
    """P4 at service level: the last history page vs the first."""
    first = latency(lambda: service.history(AUDITOR, contract_id, after=0, limit=limit), repeats)
    last = latency(
        lambda: service.history(AUDITOR, contract_id, after=head - limit, limit=limit), repeats
    )
    return last, first


def rebuild_rate(service: ContractService) -> Rate:
    """P5: the read models rebuilt from the whole notification log."""
    started = time.perf_counter()
    processed = service.rebuild_read_models()
    return Rate(processed, time.perf_counter() - started, [])


def verify_rate(service: ContractService, contract_id: str, *, snapshots: bool = True) -> Rate:
    """P6: the chain of one contract verified from its stored records (P6s: and its
    snapshots)."""
    started = time.perf_counter()
    result = service.verify(AUDITOR, contract_id, snapshots=snapshots)
    elapsed = time.perf_counter() - started
    if not result.valid:
        raise RuntimeError(f"the seeded chain does not verify: {result}")
    return Rate(result.versions_checked, elapsed, [])


def now() -> datetime:
    return datetime.now(UTC)
