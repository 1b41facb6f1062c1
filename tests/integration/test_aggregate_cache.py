"""The aggregate cache (application.aggregate_cache) on SQLite and PostgreSQL: several services
on one store (as several processes are) never read a stale contract and never lose an update;
a command that fails half-way leaves nothing behind in the cache; an outage is answered as an
outage, never from memory; and the cache is used (its counters say so)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from application import aggregate_cache, queries
from application.aggregate_cache import AggregateCache
from application.commands import ContractCommand, GrantAccess, IssuePublication, RevokeAccess
from application.errors import ContractNotFound, StoreUnavailable
from application.service import ContractService
from domain.contract import Contract
from domain.errors import DomainError
from domain.values import Actor
from infrastructure.settings import Settings
from tests.integration.test_application_durable import outage
from tests.support.app import AUDITOR, COMMISSIONER, OUTSIDER, active_contract, service_for

WRITERS_PER_SERVICE = 3
WRITES = 8


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """Overrides conftest's: stores two services can share."""
    name: str = request.param
    request.node.user_properties.append(("backend", name))
    return name


CACHED = {"aggregate_cache_mb": 64}


@pytest.fixture
def cached(settings: Settings) -> Settings:
    """The settings with the cache on (the default, named: these tests are about it)."""
    return settings.model_copy(update=CACHED)


@pytest.fixture
def two(cached: Settings) -> Iterator[tuple[ContractService, ContractService]]:
    first, second = service_for(cached), service_for(cached)
    assert first.aggregate_cache is not None and second.aggregate_cache is not None
    yield first, second
    first.close()
    second.close()


def publish(service: ContractService, contract_id: str, summary: str) -> int:
    command = IssuePublication(contract_id, audience="raad", channel="web", summary=summary)
    return service.handle(COMMISSIONER, command).version


def summaries(service: ContractService, contract_id: str) -> list[str]:
    return [p.summary for p in service.get_contract(AUDITOR, contract_id).publications]


def test_a_write_elsewhere_is_read_here_and_never_overwritten(
    two: tuple[ContractService, ContractService],
) -> None:
    here, elsewhere = two
    contract_id = active_contract(here).contract_id
    summaries(here, contract_id)  # cached here
    summaries(elsewhere, contract_id)  # and there

    version = publish(elsewhere, contract_id, "daar")
    assert here.get_contract(AUDITOR, contract_id).version == version  # brought forward
    assert publish(here, contract_id, "hier") == version + 1  # on top, not instead
    assert summaries(elsewhere, contract_id) == ["daar", "hier"]
    assert summaries(here, contract_id) == ["daar", "hier"]
    assert here.aggregate_cache is not None and elsewhere.aggregate_cache is not None
    assert here.aggregate_cache.caught_up >= 1 and elsewhere.aggregate_cache.caught_up >= 1
    assert here.aggregate_cache.hits >= 1
    assert here.verify(AUDITOR, contract_id).valid


def test_concurrent_writers_in_two_services_lose_nothing(
    two: tuple[ContractService, ContractService],
) -> None:
    contract_id = active_contract(two[0]).contract_id
    start = threading.Barrier(2 * WRITERS_PER_SERVICE)
    failures: list[BaseException] = []

    def write(service: ContractService, name: str) -> None:
        try:
            start.wait(timeout=10)
            for n in range(WRITES):
                publish(service, contract_id, f"{name}-{n}")
        except BaseException as error:
            failures.append(error)

    threads = [
        threading.Thread(target=write, args=(service, f"s{s}w{w}"))
        for s, service in enumerate(two)
        for w in range(WRITERS_PER_SERVICE)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    expected = {
        f"s{s}w{w}-{n}" for s in (0, 1) for w in range(WRITERS_PER_SERVICE) for n in range(WRITES)
    }
    for service in two:
        written = summaries(service, contract_id)
        assert len(written) == len(expected) and set(written) == expected
    assert two[1].verify(AUDITOR, contract_id).valid


@dataclass(frozen=True, kw_only=True)
class PublishThenFail(ContractCommand):
    """Triggers an event, then breaks a rule: the command fails after changing the contract."""

    fingerprint_name = "test_publish_then_fail"

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.issue_publication(actor=actor, audience="raad", channel="web", summary="half")
        raise DomainError("refused after the first event")


def test_a_command_that_fails_half_way_leaves_the_cache_as_it_was(cached: Settings) -> None:
    service = service_for(cached)
    try:
        contract_id = active_contract(service).contract_id
        before = service.get_contract(AUDITOR, contract_id)
        with pytest.raises(DomainError):
            service.handle(COMMISSIONER, PublishThenFail(contract_id))
        after = service.get_contract(AUDITOR, contract_id)
        assert (after.version, after.publications) == (before.version, before.publications)
        assert service.aggregate_cache is not None and service.aggregate_cache.hits >= 2
    finally:
        service.close()


def test_an_outage_is_an_outage_never_an_answer_from_memory(
    postgres_database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """PostgreSQL refuses every session (on SQLite an exclusive lock stops writers, not
    readers: reads there are no outage)."""
    settings = Settings(
        database_url=postgres_database_url,
        data_dir=tmp_path,
        connect_timeout=2,
        lock_timeout=2,
        **CACHED,
    )
    service = service_for(settings)
    try:
        contract_id = active_contract(service).contract_id
        service.get_contract(AUDITOR, contract_id)  # cached
        with outage(settings, request), pytest.raises(StoreUnavailable):
            service.get_contract(AUDITOR, contract_id)
    finally:
        service.close()


def test_a_small_cache_keeps_the_most_recent_contracts_within_its_bytes(
    settings: Settings,
) -> None:
    service = service_for(settings.model_copy(update={"aggregate_cache_mb": 1}))
    try:
        cache = service.aggregate_cache
        assert cache is not None
        ids = [active_contract(service, f"WMO-{n:04d}").contract_id for n in range(3)]
        for contract_id in ids:
            service.get_contract(AUDITOR, contract_id)
        assert 0 < cache.size_bytes <= 1024 * 1024
    finally:
        service.close()


def test_an_entry_is_dropped_once_it_is_too_old_and_none_is_kept_with_zero_bytes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_for(settings.model_copy(update={"aggregate_cache_mb": 0}))
    try:
        assert service.aggregate_cache is None
        first, second = (UUID(active_contract(service, f"WMO-{n}").contract_id) for n in range(2))
        a, b = service._load(first), service._load(second)  # reads work without the cache
    finally:
        service.close()
    now = [1000.0]
    monkeypatch.setattr(aggregate_cache.time, "monotonic", lambda: now[0])
    cache = AggregateCache(1024 * 1024, max_age=100)
    cache.put(a)
    now[0] = 1099
    assert cache.get(a.id) is not None  # 99 s old: young enough
    cache.put(b)
    now[0] = 1101
    assert cache.get(a.id) is None  # 101 s old
    assert cache.get(b.id) is not None
    now[0] = 1250  # b is 151 s old; nobody asks for it, but the next put sweeps
    cache.put(a)
    kept = cache.get(a.id)
    assert kept is not None and cache.size_bytes == len(kept.blob)


def _state(service: ContractService, principal: Any, contract_id: str) -> dict[str, Any]:
    viewed = service.contract_state_json(principal, contract_id)
    body: dict[str, Any] = json.loads(viewed.body)
    assert body["version"] == viewed.version
    return body


def test_the_rendered_state_is_read_at_the_head_by_those_who_may(
    two: tuple[ContractService, ContractService], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, elsewhere = two
    cache = here.aggregate_cache
    assert cache is not None
    contract_id = active_contract(here).contract_id
    first = _state(here, AUDITOR, contract_id)
    assert _state(here, COMMISSIONER, contract_id) == first
    assert cache.rendered_hits == 1  # the second read rendered nothing
    assert first == json.loads(
        here.contract_state(AUDITOR, contract_id).model_dump_json(by_alias=True)
    )

    # The pages' full view likewise: one rendering per version, shared.
    full = here.get_contract(AUDITOR, contract_id)
    assert here.get_contract(COMMISSIONER, contract_id) is full
    assert cache.rendered_hits == 2

    # A write in another process: the next read here is at the new head, not the kept one.
    version = publish(elsewhere, contract_id, "daar")
    again = _state(here, AUDITOR, contract_id)
    assert again["version"] == version and again["counts"]["publications"] == 1
    assert [p.summary for p in here.get_contract(AUDITOR, contract_id).publications] == ["daar"]
    assert cache.rendered_hits == 2

    # Who may read is decided on every read, the kept rendering included.
    for _ in range(2):
        with pytest.raises(ContractNotFound):
            here.contract_state_json(OUTSIDER, contract_id)
    grant = GrantAccess(
        contract_id, org=OUTSIDER.org, role="reader", reason="rekenkamer", until=date(2030, 1, 1)
    )
    grant_id = elsewhere.handle(COMMISSIONER, grant).created_id
    assert grant_id is not None
    assert _state(here, OUTSIDER, contract_id)["version"] == version + 1
    assert _state(here, OUTSIDER, contract_id)["version"] == version + 1
    hits = cache.rendered_hits
    assert hits >= 2
    # The grant lapses with the date, even with nothing written since.
    monkeypatch.setattr(queries, "local_date", lambda _: date(2030, 1, 2))
    with pytest.raises(ContractNotFound):
        here.contract_state_json(OUTSIDER, contract_id)
    monkeypatch.undo()
    elsewhere.handle(COMMISSIONER, RevokeAccess(contract_id, grant_id=grant_id, reason="klaar"))
    with pytest.raises(ContractNotFound):
        here.contract_state_json(OUTSIDER, contract_id)


def test_readers_beside_writers_in_one_process_never_see_a_contract_half_changed(
    cached: Settings,
) -> None:
    """Commands hand the contract they saved to the next command as it is (no copy); readers
    pickle it first. Every read must show a whole version: one publication per event since."""
    service = service_for(cached)
    try:
        contract_id = active_contract(service).contract_id
        base = service.contract_state(AUDITOR, contract_id).version
        start = threading.Barrier(2 * WRITERS_PER_SERVICE)
        torn: list[str] = []
        done = threading.Event()

        def write(name: str) -> None:
            start.wait(timeout=30)
            for k in range(WRITES):
                publish(service, contract_id, f"{name}-{k}")

        def read(full: bool) -> None:
            start.wait(timeout=30)
            for _ in range(200):
                if full:
                    data = service.get_contract(AUDITOR, contract_id)
                    version, count = data.version, len(data.publications)
                else:
                    body = _state(service, AUDITOR, contract_id)
                    version, count = body["version"], body["counts"]["publications"]
                if count != version - base:
                    torn.append(f"version {version} with {count} publications")
                if done.is_set():
                    return

        writers = [
            threading.Thread(target=write, args=(f"w{n}",)) for n in range(WRITERS_PER_SERVICE)
        ]
        readers = [
            threading.Thread(target=read, args=(n % 2 == 0,)) for n in range(WRITERS_PER_SERVICE)
        ]
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        done.set()
        for thread in readers:
            thread.join(timeout=120)
        assert torn == []
        final = service.contract_state(AUDITOR, contract_id)
        assert final.version == base + WRITERS_PER_SERVICE * WRITES
        assert final.counts.publications == WRITERS_PER_SERVICE * WRITES
        assert service.verify(AUDITOR, contract_id).valid
    finally:
        service.close()
