"""What only a durable store can show: restarts, tampering, a store that goes away, old events.

Runs on SQLite and PostgreSQL (the in-memory store forgets everything on close and cannot be
reached behind the service's back).
"""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from application.commands import IssuePublication, RegisterStakeholder
from application.errors import ReferenceTaken, StoreUnavailable
from application.service import ContractService
from infrastructure.settings import Settings
from tests.support.app import (
    AUDITOR,
    COMMISSIONER,
    PROVIDER,
    RawEvents,
    Scene,
    active_contract,
    all_versions,
    open_contract,
    service_for,
)

LIVENESS_SECONDS = 5


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """Overrides conftest's: only the durable backends."""
    name: str = request.param
    request.node.user_properties.append(("backend", name))
    return name


@pytest.fixture
def service(settings: Settings) -> Iterator[ContractService]:
    service = service_for(settings)
    yield service
    service.close()


@pytest.fixture
def scene(service: ContractService) -> Scene:
    return active_contract(service)


def publish(service: ContractService, contract_id: str, summary: str, **options: Any) -> Any:
    return service.handle(
        COMMISSIONER,
        IssuePublication(contract_id, audience="council", channel="web", summary=summary),
        **options,
    )


@pytest.fixture
def six_versions(service: ContractService, scene: Scene) -> Scene:
    publish(service, scene.contract_id, "p6")  # the scene holds five
    return scene


def reopened(settings: Settings) -> ContractService:
    return service_for(settings)


# Restart -------------------------------------------------------------------------------------


def test_close_and_reopen_gives_the_same_state_and_head_digest(
    settings: Settings, service: ContractService, six_versions: Scene
) -> None:
    cid = six_versions.contract_id
    before = service.get_contract(AUDITOR, cid)
    verified = service.verify(AUDITOR, cid)
    keyed = publish(service, cid, "keyed", idempotency_key="restart-key")
    before = service.get_contract(AUDITOR, cid)
    service.close()

    again = reopened(settings)
    try:
        assert again.get_contract(AUDITOR, cid) == before
        assert again.get_contract(AUDITOR, cid, version=6).head_digest == verified.head_digest
        after = again.verify(AUDITOR, cid)
        assert after.valid and after.head_digest == before.head_digest
        assert after.versions_checked == before.version == 7
        # A keyed repeat after the restart still replays and stores nothing.
        repeat = publish(again, cid, "keyed", idempotency_key="restart-key")
        assert repeat.replayed
        assert (repeat.version, repeat.head_digest, repeat.created_id) == (
            keyed.version,
            keyed.head_digest,
            keyed.created_id,
        )
        assert all_versions(again, cid) == list(range(1, 8))
        # The reference claim survives the restart too.
        with pytest.raises(ReferenceTaken):
            open_contract(again, "WMO-2025-01")
        # And the reopened service carries on the chain.
        assert publish(again, cid, "after restart").version == 8
        assert again.verify(AUDITOR, cid).valid
    finally:
        again.close()


# Tampering -----------------------------------------------------------------------------------


def verify_fresh(settings: Settings, contract_id: str) -> Any:
    """What an auditor's fresh process reports (no aggregate cached from before the tampering)."""
    fresh = reopened(settings)
    try:
        return fresh.verify(AUDITOR, contract_id)
    finally:
        fresh.close()


def test_untouched_chain_is_valid(settings: Settings, six_versions: Scene) -> None:
    report = verify_fresh(settings, six_versions.contract_id)
    assert (report.valid, report.versions_checked, report.first_invalid_version) == (True, 6, None)


def test_an_edited_payload_is_named(settings: Settings, six_versions: Scene) -> None:
    raw = RawEvents(settings, six_versions.contract_id)
    state = raw.state(5)
    # The summary is stored sealed (issue 12, point 4); an editor puts a text of their own there.
    assert state["payload"]["summary"]["_type_"] == "sealed"
    state["payload"]["summary"] = "first dialogue, but nicer"
    raw.set_state(5, state)
    report = verify_fresh(settings, six_versions.contract_id)
    assert not report.valid
    assert report.first_invalid_version == 5
    assert report.versions_checked == 4
    assert report.reason and "digest" in report.reason


def test_an_edited_field_of_the_first_event_is_named(
    settings: Settings, six_versions: Scene
) -> None:
    raw = RawEvents(settings, six_versions.contract_id)
    state = raw.state(1)
    assert state["payload"]["title"] == "Wijkteams Utrecht"
    state["payload"]["title"] = "Wijkteams Zeist"
    raw.set_state(1, state)
    report = verify_fresh(settings, six_versions.contract_id)
    assert (report.valid, report.first_invalid_version, report.versions_checked) == (False, 1, 0)
    assert report.reason


def test_a_deleted_row_is_named(settings: Settings, six_versions: Scene) -> None:
    raw = RawEvents(settings, six_versions.contract_id)
    raw.delete(3)
    report = verify_fresh(settings, six_versions.contract_id)
    assert not report.valid
    assert report.first_invalid_version == 3
    assert report.reason and "missing" in report.reason


def test_two_swapped_payloads_are_named(settings: Settings, six_versions: Scene) -> None:
    raw = RawEvents(settings, six_versions.contract_id)
    five, six = raw.state(5), raw.state(6)
    raw.set_state(5, six)
    raw.set_state(6, five)
    report = verify_fresh(settings, six_versions.contract_id)
    assert not report.valid
    assert report.first_invalid_version == 5
    assert report.reason


def test_a_forged_row_at_the_end_is_named(settings: Settings, six_versions: Scene) -> None:
    raw = RawEvents(settings, six_versions.contract_id)
    versions = raw.rows()
    _, topic, _ = versions[-1]
    forged = raw.state(6)
    forged["payload"]["summary"] = "forged"
    forged["version"] = 7
    # Linked to the real head, and hashed like any record: the chain holds, the log does not.
    forged["priorDigest"] = hashlib.sha256(versions[-1][2]).hexdigest()
    raw.insert(7, topic, forged)
    report = verify_fresh(settings, six_versions.contract_id)
    assert not report.valid
    assert report.first_invalid_version == 7
    assert report.versions_checked == 6
    assert report.reason and "transparency log" in report.reason


# The store goes away -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_store_goes_away_mid_session(
    settings: Settings, service: ContractService, scene: Scene, request: pytest.FixtureRequest
) -> None:
    cid = scene.contract_id
    publish(service, cid, "before the outage")
    history = service.history(AUDITOR, cid, limit=100)
    with outage(settings, request):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            publish(service, cid, "during the outage")
        assert time.monotonic() - started < LIVENESS_SECONDS
    # The store is back: nothing was half-written, and the service carries on.
    assert eventually(lambda: service.history(AUDITOR, cid, limit=100)) == history
    fresh = reopened(settings)
    try:
        assert fresh.history(AUDITOR, cid, limit=100) == history
        assert fresh.verify(AUDITOR, cid).valid
    finally:
        fresh.close()
    assert publish(service, cid, "after the outage").version == 7


def eventually(read: Any, within: float = 15.0) -> Any:
    """The service's answer once it has reconnected (a pool may back off before retrying)."""
    deadline = time.monotonic() + within
    while True:
        try:
            answer = read()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        return answer


class outage:
    """The store refuses service: PostgreSQL drops every session and admits no new ones;
    SQLite is held under an exclusive lock by another connection."""

    def __init__(self, settings: Settings, request: pytest.FixtureRequest) -> None:
        self.settings = settings
        self.request = request
        self.held: sqlite3.Connection | None = None

    def __enter__(self) -> None:
        database = self.settings.database
        if database.kind == "sqlite":
            self.held = sqlite3.connect(str(database.path), isolation_level=None, timeout=0)
            self.held.execute("BEGIN EXCLUSIVE")
            return
        self._admin(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
        )

    def __exit__(self, *_: object) -> None:
        if self.held is not None:
            self.held.execute("ROLLBACK")
            self.held.close()
            return
        self._admin("ALTER DATABASE {} ALLOW_CONNECTIONS true")

    def _admin(self, *statements: str) -> None:
        import psycopg
        from psycopg import sql

        admin_url: str = self.request.getfixturevalue("postgres_admin_url")
        name = self.settings.database.dbname
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            for statement in statements:
                if "{}" in statement:
                    admin.execute(sql.SQL(statement).format(sql.Identifier(name)))
                else:
                    admin.execute(statement, (name,))  # type: ignore[arg-type]


def test_a_store_that_is_not_there_is_unavailable_within_the_bound(
    settings: Settings, tmp_path: Path
) -> None:
    if settings.database.kind == "sqlite":
        # A directory where the database file should be: it can never be opened.
        blocked = tmp_path / "blocked.sqlite"
        blocked.mkdir()
        url = f"sqlite:///{blocked}"
    else:
        url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/nothing"
    dead = settings.model_copy(update={"database_url": url})
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        service = service_for(dead)
        try:
            service.get_contract(AUDITOR, "0" * 32)
        finally:
            service.close()
    assert time.monotonic() - started < LIVENESS_SECONDS


def test_concurrent_writers_during_an_outage_each_fail_fast(
    settings: Settings, service: ContractService, scene: Scene, request: pytest.FixtureRequest
) -> None:
    """Every request waiting on the dead store gets its answer within the bound, not only the
    first: four writers at once must not queue behind each other's timeouts."""
    cid = scene.contract_id
    outcomes: list[tuple[BaseException | None, float]] = []
    barrier = threading.Barrier(4)

    def write(n: int) -> None:
        barrier.wait(timeout=30)
        started = time.monotonic()
        try:
            publish(service, cid, f"during {n}")
        except BaseException as error:
            outcomes.append((error, time.monotonic() - started))
        else:
            outcomes.append((None, time.monotonic() - started))

    with outage(settings, request):
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert [type(error) for error, _ in outcomes] == [StoreUnavailable] * 4, outcomes
    slowest = max(elapsed for _, elapsed in outcomes)
    assert slowest < LIVENESS_SECONDS, sorted(round(e, 2) for _, e in outcomes)
    assert eventually(lambda: all_versions(service, cid)) == [1, 2, 3, 4, 5]


# Upcasting -----------------------------------------------------------------------------------


def test_a_stored_v1_stakeholder_event_is_read_through_the_upcaster(
    settings: Settings, service: ContractService, scene: Scene
) -> None:
    cid = scene.contract_id
    registered = service.handle(
        PROVIDER,
        RegisterStakeholder(
            cid, name="Wijkraad Oost", kind="residents", contact="wijkraad@example.nl"
        ),
    )
    service.close()
    raw = RawEvents(settings, cid)
    state = raw.state(registered.version)
    assert state["payload"]["contact"]["_type_"] == "sealed"  # personal (issue 12, point 4)
    assert state["payload"].get("class_version") == 2
    # Rewrite the stored row to the shape version 1 of StakeholderRegistered had. A real v1
    # row was hashed as v1 when it was recorded, so its digest held; this rewritten one's
    # does not (we changed its stored payload), so only the read-back is asserted here.
    del state["payload"]["contact"]
    del state["payload"]["class_version"]
    raw.set_state(registered.version, state)

    again = reopened(settings)
    try:
        contract = again.get_contract(AUDITOR, cid)
        assert [(s.name, s.kind, s.contact) for s in contract.stakeholders] == [
            ("Wijkraad Oost", "residents", "")
        ]
        entry = again.history(AUDITOR, cid, after=registered.version - 1, limit=1).items[0]
        assert entry.type == "StakeholderRegistered"
        assert entry.data.get("contact") == ""
    finally:
        again.close()
