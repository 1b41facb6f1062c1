"""The transparency log on every store: each contract event becomes a leaf in notification
order, in the transaction that stores it; the stored nodes give the root and proofs of the
definition; concurrent writers on PostgreSQL get distinct, gap-free leaf indexes in commit order."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from datetime import UTC, datetime

import pytest

from application.commands import IssuePublication
from application.transparency_log import LogStore
from domain import merkle
from domain.chain import GENESIS_DIGEST, record_of
from domain.errors import DomainError
from infrastructure.settings import Settings
from tests.support.app import COMMISSIONER, active_contract, service_for

THREADS = 8
WRITES = 5


def _leaf_hashes_in_notification_order(service) -> list[bytes]:
    """The leaves as the definition says: contract events, in notification order."""
    hashes = []
    for notification in service.recorder.select_notifications(start=1, limit=100_000):
        if notification.topic.startswith("domain.events:"):
            # A form-2 event's digest is SHA-256 over its stored bytes.
            digest = hashlib.sha256(notification.state).hexdigest()
            hashes.append(merkle.event_leaf_hash(digest))
    return hashes


def _publication(contract_id: str, summary: str) -> IssuePublication:
    return IssuePublication(contract_id, audience="council", channel="website", summary=summary)


def test_every_contract_event_is_a_leaf_and_proofs_hold(settings: Settings) -> None:
    service = service_for(settings)
    try:
        scene = active_contract(service)
        other = active_contract(service, reference="JW-2025-02")
        result = service.handle(COMMISSIONER, _publication(scene.contract_id, "Eerste verslag"))
        assert isinstance(service.recorder, LogStore)
        log = service.merkle_log()
        leaves = _leaf_hashes_in_notification_order(service)
        size = log.size()
        assert size == len(leaves) > 0
        assert log.root(size) == merkle.tree_hash(leaves)
        # the command's receipt names its leaf, which holds its event's digest
        assert len(result.log_indexes) == 1
        leaf = service.recorder.log_leaf(result.log_indexes[0])
        assert leaf is not None
        assert (leaf.contract_id, leaf.version) == (scene.contract_id, result.version)
        assert leaf.event_digest == result.head_digest
        for old in (1, size // 2, size):
            proof = log.consistency(old, size)
            merkle.verify_consistency(old, size, log.root(old), log.root(size), proof)
        for index in range(size):
            proof = log.inclusion(index, size)
            merkle.verify_inclusion(index, size, leaves[index], proof, log.root(size))
        own = service.recorder.log_leaves_of(other.contract_id)
        assert [leaf.version for leaf in own] == list(range(1, len(own) + 1))
    finally:
        service.close()


def test_a_refused_command_appends_no_leaf(settings: Settings) -> None:
    service = service_for(settings)
    try:
        scene = active_contract(service)
        size = service.merkle_log().size()
        with pytest.raises(DomainError):
            service.handle(COMMISSIONER, _publication(scene.contract_id, ""))
        assert service.merkle_log().size() == size
    finally:
        service.close()


def test_concurrent_writers_on_postgres_get_gap_free_leaves_in_commit_order(
    postgres_database_url: str, tmp_path
) -> None:
    settings = Settings(database_url=postgres_database_url, data_dir=tmp_path, connect_timeout=2)
    opener = service_for(settings)
    scenes = [active_contract(opener, reference=f"WMO-{i}") for i in range(THREADS)]
    # a second process's service: same database, its own pool and group-commit queue
    others = [service_for(settings) for _ in range(2)]
    services = [opener, *others]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    indexes: list[int] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        service = services[i % len(services)]
        barrier.wait(timeout=10)
        try:
            for n in range(WRITES):
                result = service.handle(
                    COMMISSIONER, _publication(scenes[i].contract_id, f"verslag {n}")
                )
                with lock:
                    indexes.extend(result.log_indexes)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not errors
        assert len(indexes) == len(set(indexes)) == THREADS * WRITES
        log = opener.merkle_log()
        size = log.size()
        notifications = opener.recorder.select_notifications(start=1, limit=100_000)
        contract_events = [n for n in notifications if n.topic.startswith("domain.events:")]
        assert size == len(contract_events)
        # leaf i is the i-th contract event in notification (= commit) order
        for i, notification in enumerate(contract_events):
            leaf = opener.recorder.log_leaf(i)
            assert leaf is not None
            assert (leaf.contract_id, leaf.version) == (
                notification.originator_id.hex,
                notification.originator_version,
            )
        assert log.root(size) == merkle.tree_hash(_leaf_hashes_in_notification_order(opener))
    finally:
        for service in services:
            service.close()


@pytest.fixture(params=["sqlite", "postgres"])
def sql_settings(request: pytest.FixtureRequest, tmp_path) -> Settings:
    request.node.user_properties.append(("backend", request.param))
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_database_url")
    return Settings(database_url=url, data_dir=tmp_path)


def _forget_the_log(settings: Settings) -> None:
    """The store as a version without the log left it: events, no log tables' rows."""
    database = settings.database
    if database.kind == "sqlite":
        import sqlite3

        connection = sqlite3.connect(str(database.path))
    else:
        import psycopg

        connection = psycopg.connect(  # type: ignore[assignment]
            host=database.host,
            port=database.port,
            dbname=database.dbname,
            user=database.user,
            password=database.password,
        )
    try:
        for table in ("leaves", "nodes", "head"):
            connection.execute(f"DELETE FROM dialoog_log_{table}")  # noqa: S608 - fixed names
        connection.commit()
    finally:
        connection.close()


def test_a_store_that_predates_the_log_gets_its_leaves_on_start(sql_settings: Settings) -> None:
    service = service_for(sql_settings)
    try:
        scene = active_contract(service)
        active_contract(service, reference="JW-2025-02")
        expected = _leaf_hashes_in_notification_order(service)
    finally:
        service.close()
    _forget_the_log(sql_settings)
    service = service_for(sql_settings)
    try:
        log = service.merkle_log()
        assert log.size() == len(expected) == 10
        assert log.root(10) == merkle.tree_hash(expected)
        result = service.handle(COMMISSIONER, _publication(scene.contract_id, "Na de upgrade"))
        assert result.log_indexes == (10,)
    finally:
        service.close()


def test_racing_saves_on_postgres_leave_leaves_only_for_what_was_stored(
    postgres_database_url: str, tmp_path
) -> None:
    """Half the saves race for version 1 of one contract: the group commit falls back to one
    savepoint per save, and only the saves that were stored have leaves, gap-free."""
    from uuid import uuid4

    from eventsourcing.persistence import IntegrityError, StoredEvent

    settings = Settings(database_url=postgres_database_url, data_dir=tmp_path, connect_timeout=2)
    service = service_for(settings)
    recorder = service.recorder
    contested = uuid4()
    barrier = threading.Barrier(THREADS)
    stored: list[tuple[int, str, int]] = []

    def save(index: int) -> None:
        originator = contested if index % 2 == 0 else uuid4()
        record = record_of(  # a form-2 record: its digest is the hash of these bytes
            topic="domain.events:Probe",
            contract_id=originator.hex,
            version=1,
            fields={"timestamp": datetime.now(UTC), "prior_digest": GENESIS_DIGEST, "n": index},
        )
        event = StoredEvent(
            originator_id=originator,
            originator_version=1,
            topic="domain.events:Probe",
            state=record,
        )
        barrier.wait(timeout=10)
        with contextlib.suppress(IntegrityError):
            (notification_id,) = recorder.insert_events([event])
            stored.append((notification_id, originator.hex, 1))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Threads return in any order; the log appends in the order of the notification ids.
    stored.sort()
    try:
        assert len(stored) == THREADS // 2 + 1
        assert recorder.log_size() == len(stored)
        assert recorder.log_leaf_indexes(stored) == list(range(len(stored)))
        recorder.leaf_cache = type(recorder.leaf_cache)()  # as another process would look up
        assert recorder.log_leaf_indexes(stored) == list(range(len(stored)))
        assert service.merkle_log().root(len(stored)) == merkle.tree_hash(
            _leaf_hashes_in_notification_order(service)
        )
    finally:
        service.close()
