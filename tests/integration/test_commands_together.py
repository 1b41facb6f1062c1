"""Commands queued on one contract in one process are carried out together — one load, one
atomic save — and each caller is answered as if its command had run alone (application.locks,
ContractService._carry_out); on every backend.

The tests hold the contract's turn while the commands queue, so the batch is certain."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import OperationalError

from application.commands import CorrectRecord, GiveConsent, IssuePublication
from application.contract_store import replay
from application.erasure import finish_erasures
from application.errors import (
    StoreUnavailable,
    TooMuchContention,
    VersionMismatch,
)
from application.locks import KeyedLocks, Queued
from application.rendering import contract_data
from application.service import CommandResult, ContractService
from application.views import View
from domain.errors import DomainError
from infrastructure.settings import Settings
from tests.support.app import AUDITOR, COMMISSIONER, Scene, active_contract, service_for


@pytest.fixture
def service(settings: Settings) -> Iterator[ContractService]:
    service = service_for(settings)
    yield service
    service.close()


@pytest.fixture
def scene(service: ContractService) -> Scene:
    return active_contract(service)


def publication(scene: Scene, summary: str) -> IssuePublication:
    return IssuePublication(scene.contract_id, audience="raad", channel="web", summary=summary)


def queued_behind_a_held_turn(
    service: ContractService, contract_id: str, calls: list[Callable[[], Any]]
) -> list[Future[Any]]:
    """Start `calls` on threads while the contract's turn is held; let go once all queued."""
    locks = service._contract_locks
    pool = ThreadPoolExecutor(max_workers=len(calls))
    with locks.hold(contract_id):
        futures = [pool.submit(call) for call in calls]
        deadline = time.monotonic() + 10
        while len(locks._locks[contract_id].pending) < len(calls):
            failed = [f.exception() for f in futures if f.done()]
            assert time.monotonic() < deadline, f"the commands did not queue: {failed}"
            time.sleep(0.005)
    pool.shutdown(wait=True)
    return futures


def counting_saves(service: ContractService, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    saves: list[int] = []
    save = service._save

    def counted(*pending: Any) -> tuple[int, ...]:
        saves.append(len(pending))
        return save(*pending)

    monkeypatch.setattr(service, "_save", counted)
    return saves


def test_queued_commands_are_saved_at_once_and_each_answered_as_if_alone(
    service: ContractService, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = service.get_contract(AUDITOR, scene.contract_id).version
    saves = counting_saves(service, monkeypatch)
    calls: list[Callable[[], Any]] = [
        lambda n=n: service.handle(
            COMMISSIONER,
            publication(scene, f"p{n}"),
            idempotency_key=f"key-{n}",
            view=View.CONTRACT,
        )
        for n in range(8)
    ]
    # A command the rules refuse and one pinned to a version already gone, among them.
    calls.insert(
        3, lambda: service.handle(COMMISSIONER, GiveConsent(scene.contract_id, proposal_id="nope"))
    )
    calls.insert(
        6, lambda: service.handle(COMMISSIONER, publication(scene, "x"), expected_version=1)
    )
    futures = queued_behind_a_held_turn(service, scene.contract_id, calls)

    with pytest.raises(DomainError):
        futures[3].result()
    with pytest.raises(VersionMismatch):
        futures[6].result()
    results: list[CommandResult] = [f.result() for i, f in enumerate(futures) if i not in (3, 6)]
    assert saves == [9], "one save: the eight contract events and their eight receipts"
    assert sorted(r.version for r in results) == list(range(head + 1, head + 9))
    contract = service.get_contract(AUDITOR, scene.contract_id)
    assert contract.version == head + 8
    assert service.verify(AUDITOR, scene.contract_id).valid
    stored = {e.originator_version: e for e in service.events.get(UUID(hex=scene.contract_id))}
    for result in results:
        # Each answer is its own: its version, its digest, its view of the contract as it
        # left it, its own leaf in the transparency log (where the store keeps one).
        assert stored[result.version].digest == result.head_digest
        assert result.view.version == result.version
        assert result.view.body.counts.publications == result.version - head
    indexes = [index for result in results for index in result.log_indexes]
    if indexes:
        assert len(set(indexes)) == len(indexes) == 8
    # Each receipt holds its own answer: a repeat gets it back.
    again = service.handle(COMMISSIONER, publication(scene, "p5"), idempotency_key="key-5")
    first = next(r for r in results if r.created_id == again.created_id)
    assert again.replayed and again.version == first.version


def test_a_second_command_under_one_key_waits_for_the_first_ones_receipt(
    service: ContractService, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = service.get_contract(AUDITOR, scene.contract_id).version
    saves = counting_saves(service, monkeypatch)
    calls: list[Callable[[], Any]] = [
        lambda: service.handle(COMMISSIONER, publication(scene, "same"), idempotency_key="k")
        for _ in range(2)
    ]
    first, second = (
        f.result() for f in queued_behind_a_held_turn(service, scene.contract_id, calls)
    )
    assert {first.replayed, second.replayed} == {False, True}
    assert first.version == second.version == head + 1
    assert len(saves) == 1
    assert service.get_contract(AUDITOR, scene.contract_id).version == head + 1


def test_a_command_still_queued_at_its_deadline_is_refused_and_never_carried_out(
    service: ContractService, scene: Scene
) -> None:
    head = service.get_contract(AUDITOR, scene.contract_id).version
    service._contract_locks.timeout = 0.3
    with service._contract_locks.hold(scene.contract_id):
        with pytest.raises(TooMuchContention):
            service.handle(COMMISSIONER, publication(scene, "too late"))
        assert not service._contract_locks._locks[scene.contract_id].pending
    assert service.get_contract(AUDITOR, scene.contract_id).version == head


def test_a_failure_to_read_the_leaf_indexes_after_the_commit_answers_the_command_stored(
    service: ContractService, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = service.get_contract(AUDITOR, scene.contract_id).version

    def unreadable(recordings: Any) -> tuple[int, ...]:
        raise OperationalError("the server closed the connection")

    monkeypatch.setattr(service, "log_indexes_of", unreadable)
    result = service.handle(COMMISSIONER, publication(scene, "stored"))
    assert (result.version, result.log_indexes) == (head + 1, ())
    assert service.get_contract(AUDITOR, scene.contract_id).version == head + 1


def test_a_correction_whose_erasure_fails_is_answered_stored_and_finished_later(
    service: ContractService, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = service.get_contract(AUDITOR, scene.contract_id).version
    destroy = service.personal_data.destroy

    def unavailable(contract_id: str, key_ids: Any) -> None:
        raise StoreUnavailable("the event store is unavailable: down")

    monkeypatch.setattr(service.personal_data, "destroy", unavailable)
    correction = CorrectRecord(
        scene.contract_id,
        corrects_version=5,  # the scene's session: its summary is a personal text
        corrections={"summary": "Overleg over de indicatoren"},
        reason="naam hoort er niet in",
    )
    futures = queued_behind_a_held_turn(
        service,
        scene.contract_id,
        [
            lambda: service.handle(COMMISSIONER, correction),
            lambda: service.handle(COMMISSIONER, publication(scene, "next")),
        ],
    )
    corrected, published = futures[0].result(), futures[1].result()  # both stored, answered
    assert {corrected.version, published.version} <= set(range(before + 1, before + 4))
    contract = service._load(UUID(hex=scene.contract_id))
    assert contract.version == before + 3  # the correction, its erasure, the publication
    live = {key for key, _ in service.personal_data.keys.find(scene.contract_id)}
    assert set(contract.erased_keys) & live, "the keys it erased are still there"
    # What a retention run does first destroys them (finish_erasures).
    monkeypatch.setattr(service.personal_data, "destroy", destroy)
    assert finish_erasures(service) > 0
    live = {key for key, _ in service.personal_data.keys.find(scene.contract_id)}
    assert not set(contract.erased_keys) & live
    assert service.verify(AUDITOR, scene.contract_id).valid


# The queue itself ------------------------------------------------------------------------------


def test_a_store_failure_answers_its_turn_and_those_queued_before_it_then_recovers() -> None:
    locks = KeyedLocks(timeout=5)
    turns: list[list[str]] = []
    failing = threading.Event()
    failing.set()

    def carry_out(items: list[Queued]) -> None:
        turns.append([item.work for item in items])
        if failing.is_set():
            failing.clear()
            raise StoreUnavailable("down")
        for item in items:
            item.finish(f"done {item.work}")

    pool = ThreadPoolExecutor(max_workers=4)
    with locks.hold("c"):
        futures = [pool.submit(locks.combine, "c", f"w{n}", carry_out, most=2) for n in range(4)]
        while len(locks._locks["c"].pending) < 4:
            time.sleep(0.005)
    errors = []
    for future in futures:
        with pytest.raises(StoreUnavailable) as raised:
            future.result(timeout=10)
        errors.append(raised.value)
    # One turn met the failure; the two queued before it were answered without a try.
    assert len(turns) == 1 and len(turns[0]) == 2
    assert len({id(error) for error in errors}) == 4, "each caller raises its own copy"
    # The next command is carried out as usual.
    assert locks.combine("c", "w9", carry_out, most=2) == "done w9"
    assert not locks._locks
    pool.shutdown()


def test_an_item_put_back_waits_for_the_next_turn() -> None:
    locks = KeyedLocks(timeout=5)
    turns: list[list[str]] = []

    def carry_out(items: list[Queued]) -> None:
        turns.append([item.work for item in items])
        for n, item in enumerate(items):
            if n and item.work == "b":
                item.put_back = True
            else:
                item.finish(item.work.upper())

    pool = ThreadPoolExecutor(max_workers=3)
    futures = []
    with locks.hold("c"):
        for n, work in enumerate("abc"):  # queued in this order
            futures.append(pool.submit(locks.combine, "c", work, carry_out, most=8))
            while len(locks._locks["c"].pending) < n + 1:
                time.sleep(0.005)
    assert [f.result(timeout=10) for f in futures] == ["A", "B", "C"]
    assert turns[0] == ["a", "b", "c"] and turns[1] == ["b"]
    pool.shutdown()


def test_commands_saved_together_past_a_snapshot_interval_are_snapshotted_in_hand(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_for(settings.model_copy(update={"snapshot_interval": 5}))
    try:
        scene = active_contract(service)
        for n in range(3):
            service.handle(COMMISSIONER, publication(scene, f"alone {n}"))
        head = service.get_contract(AUDITOR, scene.contract_id).version
        assert head % 5 == 3, "two events short of a multiple of the interval"
        reloads: list[int | None] = []
        monkeypatch.setattr(
            service, "take_snapshot", lambda _id, version=None, **_: reloads.append(version)
        )
        calls: list[Callable[[], Any]] = [
            lambda n=n: service.handle(COMMISSIONER, publication(scene, f"s{n}")) for n in range(4)
        ]
        for future in queued_behind_a_held_turn(service, scene.contract_id, calls):
            future.result()
        uuid = UUID(hex=scene.contract_id)
        (latest,) = service.snapshots.recorder.select_events(uuid, desc=True, limit=1)
        # Four events (fewer than the interval) passed the multiple head + 2: one snapshot, at
        # the save's last version.
        assert latest.originator_version == head + 4
        assert reloads == []
        with service.personal_data.reading(uuid.hex):
            replayed = replay(None, service.events.get(uuid))
            (snapshot,) = service.snapshots.get(uuid, desc=True, limit=1)
            assert contract_data(snapshot.mutate(None)) == contract_data(replayed)
    finally:
        service.close()


def test_an_item_put_back_after_its_callers_deadline_is_refused_not_left_waiting() -> None:
    locks = KeyedLocks(timeout=0.3)
    finished: list[str] = []

    def carry_out(items: list[Queued]) -> None:
        for item in items:
            if item.work == "b" and "a" in finished and "b-put-back" not in finished:
                time.sleep(0.5)  # past b's deadline, while this turn holds it
                finished.append("b-put-back")
                item.put_back = True
            else:
                finished.append(item.work)
                item.finish(item.work.upper())

    pool = ThreadPoolExecutor(max_workers=2)
    futures = []
    with locks.hold("c"):
        for n, work in enumerate("ab"):  # queued in this order; one turn takes both
            futures.append(pool.submit(locks.combine, "c", work, carry_out, most=8))
            while len(locks._locks["c"].pending) < n + 1:
                time.sleep(0.005)
    assert futures[0].result(timeout=5) == "A"
    with pytest.raises(TooMuchContention):
        futures[1].result(timeout=5)  # answered, not left waiting for a turn nobody takes
    assert finished == ["a", "b-put-back"], "b is never carried out after its caller gave up"
    assert not locks._locks
    pool.shutdown()
