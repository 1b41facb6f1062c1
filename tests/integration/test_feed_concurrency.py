"""The change feed under concurrent writers (issue 15): 8 writers × 50 commands on four contracts
of two commissioners while a reader follows `nextCursor`. The reader sees every committed event
of the contracts its organisation may see exactly once, in commit (notification) order, and none
of the others — on every backend. On the stores that outlive a process the writers share two
services, as two server workers would (each with its own connections and, on PostgreSQL, its
own group commit), so their transactions really do overlap."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from application.commands import IssuePublication
from application.feed import FeedQuery, feed_page, type_topics
from application.service import ContractService
from infrastructure.settings import Settings
from tests.support.app import (
    COMMISSIONER,
    OTHER_COMMISSIONER,
    READER,
    active_contract,
    open_contract,
    service_for,
)

WRITERS = 8
COMMANDS_PER_WRITER = 50
#: bounds of the reader's loop (count and time), far above what a passing run needs
MAX_PAGES = 20_000
MAX_SECONDS = 300


@pytest.fixture(params=[False, True], ids=["loading", "read-models"])
def service(settings: Settings, request: pytest.FixtureRequest) -> Iterator[ContractService]:
    """Visibility decided by loading each contract, or from the read models (as the API does)."""
    service = service_for(settings, read_models=request.param)
    yield service
    service.close()


@pytest.fixture
def second_worker(settings: Settings, service: ContractService) -> Iterator[ContractService]:
    """Another process's service on the same store (memory:// is one process's store)."""
    if settings.database.kind == "memory":
        yield service
        return
    other = service_for(settings, read_models=service.projection is not None)
    yield other
    other.close()


def test_a_reader_following_the_cursor_sees_each_visible_event_once_in_commit_order(
    service: ContractService, second_worker: ContractService
) -> None:
    workers = (service, second_worker)
    visible = [active_contract(service, f"WMO-{n}").contract_id for n in range(2)]
    hidden = [open_contract(service, f"OTHER-{n}", principal=OTHER_COMMISSIONER) for n in range(2)]
    targets = [(visible + hidden)[n % 4] for n in range(WRITERS)]
    owners = [COMMISSIONER if t in visible else OTHER_COMMISSIONER for t in targets]
    writing = threading.Event()
    writing.set()
    seen: list[tuple[int, str, str]] = []

    def write(writer: int) -> None:
        for n in range(COMMANDS_PER_WRITER):
            workers[writer % 2].handle(
                owners[writer],
                IssuePublication(
                    targets[writer], audience="council", channel="web", summary=f"{n}"
                ),
            )

    def read() -> None:
        after, started = 0, time.monotonic()
        for _ in range(MAX_PAGES):
            still_writing = writing.is_set()
            page = feed_page(service, READER, FeedQuery(after=after, limit=7), "urn:test")
            seen.extend((int(e["sequence"]), e["subject"], e["id"]) for e in page.items)
            after = page.next_cursor
            if not page.items and not still_writing:
                return  # an empty page read after every writer had finished: the end
            if not page.items:
                time.sleep(0.001)  # nothing new yet: the page bound is not spent spinning
            assert time.monotonic() - started < MAX_SECONDS, "the reader did not keep up"
        raise AssertionError("the reader never reached the end")

    with ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
        reader = pool.submit(read)
        writers = [pool.submit(write, index) for index in range(WRITERS)]
        for future in writers:
            future.result(timeout=MAX_SECONDS)
        writing.clear()
        reader.result(timeout=MAX_SECONDS)

    topics = set(type_topics().values())
    committed = [
        (n.id, UUID(str(n.originator_id)).hex)
        for n in service.recorder.select_notifications(start=1, limit=1_000_000)
        if n.topic in topics
    ]
    expected = [(position, contract) for position, contract in committed if contract in visible]
    assert [(position, subject) for position, subject, _ in seen] == expected
    assert len({event_id for _, _, event_id in seen}) == len(seen)  # exactly once
    assert not {subject for _, subject, _ in seen} & set(hidden)
    per_visible = WRITERS // 2 * COMMANDS_PER_WRITER
    assert len(expected) == per_visible + 2 * 5  # 5 events each to make them active
    assert len(committed) == WRITERS * COMMANDS_PER_WRITER + 2 * 5 + 2
