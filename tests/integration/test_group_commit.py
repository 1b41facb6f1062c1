"""The PostgreSQL group-commit write path: many saves share one transaction and one fsync, yet
each save succeeds or fails on its own, and the notification log stays gap-free and ordered."""

from __future__ import annotations

import json
import threading
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from application.commands import IssuePublication
from infrastructure.postgres import GroupCommitApplicationRecorder
from infrastructure.settings import Settings
from tests.support.app import AUDITOR, COMMISSIONER, active_contract, service_for

THREADS = 16


@pytest.fixture
def postgres_settings(postgres_database_url: str, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(database_url=postgres_database_url, data_dir=tmp_path, connect_timeout=2)


def stored(originator: object, version: int) -> StoredEvent:
    state = json.dumps({"n": version}).encode()
    return StoredEvent(originator_id=originator, originator_version=version, topic="t", state=state)


def test_a_conflict_fails_only_its_own_save(postgres_settings: Settings) -> None:
    service = service_for(postgres_settings)
    recorder = service.recorder
    assert isinstance(recorder, GroupCommitApplicationRecorder)
    contested = uuid4()
    barrier = threading.Barrier(THREADS)
    outcomes: list[object] = [None] * THREADS

    def save(index: int) -> None:
        # Half the threads race for version 1 of one aggregate, the rest write their own.
        originator = contested if index % 2 == 0 else uuid4()
        barrier.wait(timeout=10)
        try:
            outcomes[index] = recorder.insert_events([stored(originator, 1)])
        except IntegrityError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=save, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        conflicts = [o for o in outcomes if isinstance(o, IntegrityError)]
        successes = [o for o in outcomes if isinstance(o, list)]
        assert len(conflicts) == THREADS // 2 - 1
        assert len(successes) == THREADS // 2 + 1
        assert len(recorder.select_events(contested)) == 1
        ids = sorted(i for ids in successes for i in ids)
        notifications = recorder.select_notifications(start=1, limit=1000)
        assert [n.id for n in notifications] == ids  # nothing stored beyond the acknowledged
    finally:
        service.close()


def test_concurrent_commands_are_all_stored_once_in_order(postgres_settings: Settings) -> None:
    service = service_for(postgres_settings)
    scenes = [active_contract(service, f"WMO-{n}") for n in range(4)]
    before = service.notification_count()
    acknowledged: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for round_ in range(10):
            scene = scenes[(index + round_) % len(scenes)]
            result = service.handle(
                COMMISSIONER,
                IssuePublication(
                    scene.contract_id,
                    audience="raad",
                    channel="brief",
                    summary=f"thread {index} round {round_}",
                ),
            )
            with lock:
                acknowledged.append((result.contract_id, result.version))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert len(acknowledged) == THREADS * 10
        assert len(set(acknowledged)) == len(acknowledged)  # no version acknowledged twice
        notifications = service.recorder.select_notifications(start=before + 1, limit=10_000)
        ids = [n.id for n in notifications]
        assert ids == sorted(ids) and len(ids) == THREADS * 10
        for scene in scenes:
            versions = [e.originator_version for e in service.events.get(UUID(scene.contract_id))]
            assert versions == list(range(1, len(versions) + 1))
            assert service.verify(AUDITOR, scene.contract_id).valid
    finally:
        service.close()
