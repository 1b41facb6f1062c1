"""Many writers on one contract, pinned versions, and idempotent repeats — on every backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any, TypeVar
from uuid import UUID

import pytest

from application.commands import IssuePublication, OpenContract, RegisterStakeholder
from application.errors import IdempotencyKeyReused, VersionMismatch
from application.service import CommandResult, ContractService
from infrastructure.settings import Settings
from tests.support.app import (
    AUDITOR,
    CEILING,
    COMMISSIONER,
    PROVIDER,
    TERM,
    Scene,
    active_contract,
    all_versions,
    open_contract,
    service_for,
)

THREADS = 16
COMMANDS_PER_THREAD = 8  # 132 versions: past the snapshot interval (50) too
T = TypeVar("T")


@pytest.fixture
def service(settings: Settings) -> Iterator[ContractService]:
    service = service_for(settings)
    yield service
    service.close()


@pytest.fixture
def scene(service: ContractService) -> Scene:
    return active_contract(service)


def all_at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """`work(0..count-1)` on `count` threads released together."""
    barrier = Barrier(count)

    def run(index: int) -> T:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def publish(
    service: ContractService, contract_id: str, summary: str, **options: Any
) -> CommandResult:
    return service.handle(
        COMMISSIONER,
        IssuePublication(contract_id, audience="council", channel="web", summary=summary),
        **options,
    )


# Concurrency ---------------------------------------------------------------------------------


def test_sixteen_threads_on_one_contract_lose_and_duplicate_nothing(
    service: ContractService, scene: Scene
) -> None:
    def work(thread: int) -> list[CommandResult]:
        return [
            publish(service, scene.contract_id, f"t{thread}-c{n}")
            for n in range(COMMANDS_PER_THREAD)
        ]

    results = [r for batch in all_at_once(THREADS, work) for r in batch]
    total = THREADS * COMMANDS_PER_THREAD
    head = 5 + total
    # Every command got its own version; together they fill 6..head without a gap.
    assert sorted(r.version for r in results) == list(range(6, head + 1))
    assert all_versions(service, scene.contract_id) == list(range(1, head + 1))
    stored = list(service.events.get(UUID(hex=scene.contract_id)))
    assert [e.originator_version for e in stored] == list(range(1, head + 1))
    contract = service.get_contract(AUDITOR, scene.contract_id)
    summaries = [p.summary for p in contract.publications]
    expected = {f"t{t}-c{n}" for t in range(THREADS) for n in range(COMMANDS_PER_THREAD)}
    assert len(summaries) == total and set(summaries) == expected
    verification = service.verify(AUDITOR, scene.contract_id)
    assert verification.valid
    assert verification.versions_checked == head
    assert verification.head_digest == contract.head_digest
    # Each result's digest is the digest the store holds for that version.
    digests = {e.originator_version: e.digest for e in stored}
    assert all(digests[r.version] == r.head_digest for r in results)


def test_a_stale_expected_version_is_a_version_mismatch(
    service: ContractService, scene: Scene
) -> None:
    publish(service, scene.contract_id, "first", expected_version=5)
    with pytest.raises(VersionMismatch) as raised:
        publish(service, scene.contract_id, "second", expected_version=5)
    assert (raised.value.expected, raised.value.actual) == (5, 6)
    assert service.get_contract(AUDITOR, scene.contract_id).version == 6


def test_racing_pinned_writers_one_wins_the_rest_mismatch(
    service: ContractService, scene: Scene
) -> None:
    def work(thread: int) -> CommandResult | VersionMismatch:
        try:
            return publish(service, scene.contract_id, f"pinned {thread}", expected_version=5)
        except VersionMismatch as mismatch:
            return mismatch

    outcomes = all_at_once(8, work)
    won = [o for o in outcomes if isinstance(o, CommandResult)]
    lost = [o for o in outcomes if isinstance(o, VersionMismatch)]
    assert len(won) == 1 and won[0].version == 6
    assert len(lost) == 7
    assert all(m.expected == 5 and m.actual == 6 for m in lost)
    assert all_versions(service, scene.contract_id) == [1, 2, 3, 4, 5, 6]


# Idempotency ---------------------------------------------------------------------------------


def test_a_repeated_keyed_command_replays_the_original_result(
    service: ContractService, scene: Scene
) -> None:
    first = publish(service, scene.contract_id, "once", idempotency_key="k-1")
    assert not first.replayed
    again = publish(service, scene.contract_id, "once", idempotency_key="k-1")
    assert again.replayed
    assert (again.contract_id, again.version, again.head_digest, again.created_id) == (
        first.contract_id,
        first.version,
        first.head_digest,
        first.created_id,
    )
    assert all_versions(service, scene.contract_id) == [1, 2, 3, 4, 5, 6]
    # The same key from another principal is another key.
    other = service.handle(
        PROVIDER,
        IssuePublication(scene.contract_id, audience="council", channel="web", summary="once"),
        idempotency_key="k-1",
    )
    assert not other.replayed and other.version == 7


def test_the_same_key_with_another_command_is_refused(
    service: ContractService, scene: Scene
) -> None:
    publish(service, scene.contract_id, "once", idempotency_key="k-2")
    with pytest.raises(IdempotencyKeyReused):
        publish(service, scene.contract_id, "something else", idempotency_key="k-2")
    with pytest.raises(IdempotencyKeyReused):
        service.handle(
            COMMISSIONER,
            RegisterStakeholder(scene.contract_id, name="n", kind="k"),
            idempotency_key="k-2",
        )
    assert service.get_contract(AUDITOR, scene.contract_id).version == 6


def test_a_keyed_open_contract_replays_instead_of_reference_taken(
    service: ContractService,
) -> None:
    first = service.handle(
        COMMISSIONER,
        OpenContract(
            reference="IDEM-1",
            title="t",
            assignment="a",
            procedure="dialogue",
            term=TERM,
            ceiling=CEILING,
            budget_period=TERM,
        ),
        idempotency_key="open-1",
    )
    again = service.handle(
        COMMISSIONER,
        OpenContract(
            reference="IDEM-1",
            title="t",
            assignment="a",
            procedure="dialogue",
            term=TERM,
            ceiling=CEILING,
            budget_period=TERM,
        ),
        idempotency_key="open-1",
    )
    assert again.replayed and again.contract_id == first.contract_id


def test_ten_threads_sending_one_keyed_command_store_one_event(
    service: ContractService, scene: Scene
) -> None:
    results = all_at_once(
        10, lambda _: publish(service, scene.contract_id, "racing", idempotency_key="k-race")
    )
    assert len({(r.version, r.head_digest, r.created_id) for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert all_versions(service, scene.contract_id) == [1, 2, 3, 4, 5, 6]
    publications = service.get_contract(AUDITOR, scene.contract_id).publications
    assert [p.summary for p in publications] == ["racing"]


def test_ten_threads_opening_one_keyed_contract_open_one(service: ContractService) -> None:
    def work(_: int) -> str:
        return open_contract(service, "RACE-1", idempotency_key="open-race")

    assert len(set(all_at_once(10, work))) == 1
