"""Issue 11, point 8: when the connection breaks while a group commit is being committed, each
caller of the batch is answered with what the store really kept.

The connection is cut on PostgreSQL itself (`pg_terminate_backend` of the backend that ran the
insert): once right after its COMMIT (the rows are durable, the caller saw only an error) and
once before it (nothing is durable). A third case makes the store unreachable for the lookup
too: the caller is told the outcome is unknown."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

import infrastructure.postgres as pg
from application.commands import IssuePublication
from application.errors import CommitOutcomeUnknown, NotStored, StoreUnavailable
from application.service import ContractService
from infrastructure.settings import Settings
from tests.support.app import AUDITOR, COMMISSIONER, active_contract, service_for

THREADS = 6


@pytest.fixture
def service(postgres_database_url: str, tmp_path: Path) -> Iterator[ContractService]:
    settings = Settings(database_url=postgres_database_url, data_dir=tmp_path, connect_timeout=2)
    service = service_for(settings)
    try:
        yield service
    finally:
        service.close()


def _terminate(admin_url: str, pid: int) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _cutting(admin_url: str, *, after_commit: bool) -> Callable[..., Any]:
    """A stand-in for the library's insert that runs it on a connection of its own and then
    kills that connection's backend: after the COMMIT, or before it (mid-transaction)."""
    real = pg._stock_insert

    def insert(recorder: Any, events: Any, **kwargs: Any) -> Any:
        if after_commit:
            with recorder.datastore.get_connection() as connection:
                pid = connection.info.backend_pid
            real(recorder, events, **kwargs)  # commits (the pool hands back the same one)
            _terminate(admin_url, pid)
            raise OperationalError("server closed the connection unexpectedly")
        with recorder.datastore.get_connection() as connection, connection.transaction():
            pid = connection.info.backend_pid
            with connection.cursor() as cursor:
                recorder._lock_table(cursor)
                pg.PostgresAggregateRecorder._insert_stored_events(recorder, cursor, events)
                _terminate(admin_url, pid)
                try:
                    cursor.execute("SELECT 1")
                except psycopg.Error as error:
                    raise OperationalError(str(error)) from error
        raise AssertionError("the backend survived pg_terminate_backend")

    return insert


def _publish_concurrently(service: ContractService, contract_id: str, prefix: str) -> list[object]:
    """THREADS publications at once (so the group commit batches several of them)."""
    barrier = threading.Barrier(THREADS)
    outcomes: list[object] = [None] * THREADS

    def publish(index: int) -> None:
        barrier.wait(timeout=10)
        try:
            outcomes[index] = service.handle(
                COMMISSIONER,
                IssuePublication(
                    contract_id, audience="council", channel="web", summary=f"{prefix}-{index}"
                ),
            )
        except Exception as error:  # the outcome under test
            outcomes[index] = error

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def _stored_summaries(service: ContractService, contract_id: str) -> list[str]:
    page = service.history(AUDITOR, contract_id, after=0, limit=500)
    return [item.data["summary"] for item in page.items if item.type == "PublicationIssued"]


def test_rows_committed_before_the_connection_broke_are_answered_as_success(
    service: ContractService,
    postgres_admin_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene = active_contract(service)
    monkeypatch.setattr(pg, "_stock_insert", _cutting(postgres_admin_url, after_commit=True))
    outcomes = _publish_concurrently(service, scene.contract_id, "after-commit")
    monkeypatch.undo()
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert not errors, errors  # every row was durable: every caller succeeded
    stored = _stored_summaries(service, scene.contract_id)
    assert sorted(stored) == sorted(f"after-commit-{i}" for i in range(THREADS))
    versions = sorted(o.version for o in outcomes)  # type: ignore[attr-defined]
    assert len(set(versions)) == THREADS
    assert service.verify(AUDITOR, scene.contract_id).valid


def test_rows_lost_with_the_connection_are_answered_as_not_stored(
    service: ContractService,
    postgres_admin_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene = active_contract(service)
    before = _stored_summaries(service, scene.contract_id)
    monkeypatch.setattr(pg, "_stock_insert", _cutting(postgres_admin_url, after_commit=False))
    outcomes = _publish_concurrently(service, scene.contract_id, "before-commit")
    monkeypatch.undo()
    assert all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes
    assert any(isinstance(o, NotStored) for o in outcomes), outcomes
    assert not any(isinstance(o, CommitOutcomeUnknown) for o in outcomes), outcomes
    assert _stored_summaries(service, scene.contract_id) == before
    # Safe to retry: the same command now succeeds, once.
    service.handle(
        COMMISSIONER,
        IssuePublication(scene.contract_id, audience="council", channel="web", summary="again"),
    )
    assert _stored_summaries(service, scene.contract_id) == [*before, "again"]


def test_an_outcome_nobody_can_tell_is_answered_as_unknown(
    service: ContractService,
    postgres_admin_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene = active_contract(service)
    monkeypatch.setattr(pg, "_stock_insert", _cutting(postgres_admin_url, after_commit=True))

    def unreachable(self: Any, batch: Any) -> Any:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(pg.GroupCommitApplicationRecorder, "_stored", unreachable)
    with pytest.raises(CommitOutcomeUnknown) as raised:
        service.handle(
            COMMISSIONER,
            IssuePublication(scene.contract_id, audience="council", channel="web", summary="?"),
        )
    assert "Idempotency-Key" in str(raised.value)
