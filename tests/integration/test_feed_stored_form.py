"""The feed reads events straight from their stored form (its hot path): for every event of the
demo contract that gives exactly the CloudEvent the domain event gives, on every backend; and a
record stored under an older class version is read through its upcaster instead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
import pytest

from api.demo import Demo
from application.commands import IssuePublication
from application.feed import (
    FeedQuery,
    _entry_json,
    _from_event,
    _pieces,
    cloud_event,
    feed_entries,
    feed_page,
    stored_cloud_event,
)
from application.personal_data import ERASED
from application.principal import Principal
from application.service import ContractService
from domain.events import ContractEvent
from infrastructure import feed_entries as feed_entries_sql
from infrastructure.settings import Settings
from tests.support import people
from tests.support.app import (
    COMMISSIONER,
    OTHER_COMMISSIONER,
    PROVIDER,
    active_contract,
    open_contract,
    service_for,
)

PRIVACY_OFFICER = Principal(
    "piet", "Piet Privacy", people.GEMEENTE_UTRECHT.id, frozenset({"privacy_officer"})
)


@pytest.fixture
def service(settings: Settings) -> Iterator[ContractService]:
    service = service_for(settings)
    yield service
    service.close()


def test_the_stored_form_gives_the_same_cloudevent_as_the_domain_event(
    service: ContractService,
) -> None:
    Demo(service).load()
    compared = 0
    for notification in service.recorder.select_notifications(start=1, limit=10_000):
        event = service.mapper.to_domain_event(notification)
        if not isinstance(event, ContractEvent):
            assert stored_cloud_event(notification, "urn:t", service.personal_data) is None
            continue
        fast = stored_cloud_event(notification, "urn:t", service.personal_data)
        assert fast == cloud_event(event, notification.id, "urn:t"), type(event).__name__
        compared += 1
    assert compared > 50


def test_an_older_class_version_is_left_to_the_upcaster(service: ContractService) -> None:
    Demo(service).load()
    opened = service.recorder.select_notifications(
        start=1, limit=1, topics=["domain.events:ContractOpened"]
    )[0]
    state = json.loads(opened.state)
    state["payload"].pop("class_version", None)  # as stored before version 2
    older = replace(opened, state=json.dumps(state).encode())
    assert stored_cloud_event(older, "urn:t", service.personal_data) is None


# The feed's entries: rendered once when stored, personal texts opened when read ----------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_every_feed_entry_is_the_cloudevent_of_its_event_and_holds_no_text_in_the_clear(
    service: ContractService,
) -> None:
    Demo(service).load()
    head = service.recorder.max_notification_id()
    notifications = {n.id: n for n in service.recorder.select_notifications(start=1, limit=10_000)}
    events = {
        position: event
        for position, notification in notifications.items()
        if isinstance(event := service.mapper.to_domain_event(notification), ContractEvent)
    }
    entries = service.recorder.feed_entries(0, head, 10_000)
    assert [entry.position for entry in entries] == sorted(events), "one entry per event"
    source = orjson.dumps("urn:t")
    for entry in entries:
        event = events[entry.position]
        assert entry.body is not None
        pieces = _pieces(entry)
        keys = service.personal_data.keys_by_id(key_id.decode() for key_id in pieces[1::5])
        opener = service.personal_data.opener(keys)
        item = orjson.loads(_entry_json(entry, pieces, source, opener))
        expected = cloud_event(event, entry.position, "urn:t")
        assert item == expected, type(event).__name__
        # The stored entry keeps every personal text sealed (erasable by its key).
        name = expected["data"]["actor"]["name"]
        assert name and name.encode() not in entry.body
    assert len(entries) > 50


def test_a_text_shaped_like_a_sealed_text_stays_a_text(service: ContractService) -> None:
    scene = active_contract(service)
    forged = '{"_sealed_":["' + scene.contract_id + '.x","AAAA","AAAA","payload.summary"]}'
    service.handle(
        COMMISSIONER,
        IssuePublication(scene.contract_id, audience="raad", channel="web", summary=forged),
    )
    page = feed_page(service, COMMISSIONER, FeedQuery(contract_id=scene.contract_id), "urn:t")
    assert forged in set(_strings(page.items[-1]))


def test_an_erased_text_reads_erased_in_the_feed(service: ContractService) -> None:
    scene = active_contract(service)  # version 5: a session with Bob among its participants
    query = FeedQuery(contract_id=scene.contract_id)
    before = feed_page(service, PROVIDER, query, "urn:t").items[4]["data"]["data"]
    assert people.BOB.name in set(_strings(before))
    service.erase(
        PRIVACY_OFFICER, reason="asked", legal_basis="AVG art. 17", record=(scene.contract_id, 5)
    )
    after = feed_page(service, PROVIDER, query, "urn:t").items[4]["data"]["data"]
    assert people.BOB.name not in set(_strings(after))
    assert ERASED in set(_strings(after))


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_an_older_class_version_gets_no_rendered_body(settings: Settings) -> None:
    service = service_for(settings)
    try:
        Demo(service).load()
        opened = service.recorder.select_notifications(
            start=1, limit=1, topics=["domain.events:ContractOpened"]
        )[0]
        state = json.loads(opened.state)
        state["payload"].pop("class_version", None)
        older = replace(opened, state=json.dumps(state).encode())
        (entry,) = feed_entries([older], [opened.id])
        assert entry.body is None and entry.type == "nl.dialoog.contract.contract-opened"
        # Read at read time from its event (here the stored, current one).
        item = _from_event(service, entry, "urn:t")
        assert item is not None and orjson.loads(item)["sequence"] == str(opened.id)
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_entries_of_a_store_that_predates_them_are_rendered_when_its_tables_are_made(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_entries_sql, "BACKFILL_CHUNK", 7)  # many steps
    service = service_for(settings)  # (a store kept in memory starts empty every time)
    try:
        Demo(service).load()
        head = service.recorder.max_notification_id()
        kept = service.recorder.feed_entries(0, head, 10_000)
        with service.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {service.recorder.feed_sql.table}")  # noqa: S608
        assert service.recorder.feed_entries(0, head, 10_000) == []
        service.recorder.create_table()
        assert service.recorder.feed_entries(0, head, 10_000) == kept
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_key_kept_by_one_process_stops_opening_once_another_process_destroys_it(
    settings: Settings,
) -> None:
    reader, eraser = service_for(settings), service_for(settings)  # two processes' services
    try:
        scene = active_contract(reader)  # version 5: a session with Bob among its participants
        query = FeedQuery(contract_id=scene.contract_id)
        before = feed_page(reader, PROVIDER, query, "urn:t").items[4]["data"]["data"]
        assert people.BOB.name in set(_strings(before))
        ring = reader.personal_data.keys._keys
        session_keys = [k for k, _ in ring.find(scene.contract_id, version=5)]
        assert session_keys and set(session_keys) <= set(ring._kept), "kept after the read"
        again = feed_page(reader, PROVIDER, query, "urn:t").items[4]["data"]["data"]
        assert again == before  # opened with the kept keys
        eraser.erase(
            PRIVACY_OFFICER,
            reason="asked",
            legal_basis="AVG art. 17",
            record=(scene.contract_id, 5),
        )
        assert set(session_keys) <= set(ring._kept), "still kept: this process read nothing since"
        after = feed_page(reader, PROVIDER, query, "urn:t").items[4]["data"]["data"]
        assert people.BOB.name not in set(_strings(after))
        assert ERASED in set(_strings(after))
        assert not set(session_keys) & set(ring._kept), "the destroyed keys are no longer kept"
    finally:
        reader.close()
        eraser.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_entries_stored_whole_before_they_were_stored_split_read_the_same(
    settings: Settings,
) -> None:
    service = service_for(settings)
    try:
        scene = active_contract(service)
        query = FeedQuery(limit=500)
        split = feed_page(service, COMMISSIONER, query, "urn:t").to_json()
        head = service.recorder.max_notification_id()
        entries = service.recorder.feed_entries(0, head, 10_000)
        table, p = service.recorder.feed_sql.table, service.recorder.feed_sql.p
        with service.recorder.datastore.transaction(commit=True) as cursor:
            for entry in entries:  # as stop 26 stored them: sealed texts as JSON objects
                pieces = _pieces(entry)
                whole = [pieces[0]]
                for at in range(1, len(pieces), 5):
                    parts = b'","'.join(pieces[at : at + 4])
                    whole += (b'{"_sealed_":["' + parts + b'"]}', pieces[at + 4])
                cursor.execute(
                    f"UPDATE {table} SET body = {p} WHERE position = {p}",  # noqa: S608
                    (b"".join(whole), entry.position),
                )
        stored = service.recorder.feed_entries(0, head, 10_000)
        assert all(b"\x00" not in (entry.body or b"") for entry in stored)
        assert sum((entry.body or b"").count(b'{"_sealed_":["') for entry in stored) > 5
        assert feed_page(service, COMMISSIONER, query, "urn:t").to_json() == split
        assert scene.contract_id.encode() in split
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_without_the_erasure_count_no_key_is_kept_and_an_erasure_counts_again(
    settings: Settings,
) -> None:
    service = service_for(settings)
    try:
        scene = active_contract(service)
        ring = service.personal_data.keys._keys
        with service.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {ring._erasures}")  # noqa: S608
        query = FeedQuery(contract_id=scene.contract_id)
        page = feed_page(service, PROVIDER, query, "urn:t").items[4]["data"]["data"]
        assert people.BOB.name in set(_strings(page))
        assert ring._kept == {} and ring._kept_under is None, "nothing kept without a count"
        record = (scene.contract_id, 5)
        service.erase(PRIVACY_OFFICER, reason="asked", legal_basis="AVG art. 17", record=record)
        assert ring._read_keys([])[0] == 1, "the erasure put the count back"
        after = feed_page(service, PROVIDER, query, "urn:t").items[4]["data"]["data"]
        assert ERASED in set(_strings(after))
        assert ring._kept and ring._kept_under == 1
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_an_entry_that_shows_nothing_does_not_make_the_page_skip_the_rest_of_its_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from application import feed as feed_module

    service = service_for(settings)
    try:
        scene = active_contract(service)
        hidden = open_contract(service, "WMO-2025-77", principal=OTHER_COMMISSIONER)
        for n in range(4):  # after the contract Bob may not see: four of his
            service.handle(
                COMMISSIONER,
                IssuePublication(scene.contract_id, audience="raad", channel="web", summary=f"{n}"),
            )
        head = service.recorder.max_notification_id()
        entries_now = service.recorder.feed_entries(0, head, 10_000)
        start = next(e.position for e in entries_now if e.contract_id == hidden)
        mine = [e.position for e in entries_now if e.contract_id == scene.contract_id]
        mine = [p for p in mine if p > start]
        assert len(mine) == 4
        blank = mine[1]  # shows nothing: no body, and its event reads as nothing
        entries = service.recorder.feed._entries
        at = next(i for i, e in enumerate(entries) if e.position == blank)
        entries[at] = entries[at]._replace(body=None)
        from_event = feed_module._from_event
        monkeypatch.setattr(
            feed_module,
            "_from_event",
            lambda store, entry, source: (
                None if entry.position == blank else from_event(store, entry, source)
            ),
        )
        seen: list[int] = []
        after = start - 1  # pages of 2: the hidden one and one of Bob's, then the rest
        for _ in range(50):
            page = feed_page(service, PROVIDER, FeedQuery(after=after, limit=2), "urn:t")
            seen += [int(item["sequence"]) for item in page.items]
            if page.next_cursor == after:
                break
            after = page.next_cursor
        assert seen == [p for p in mine if p != blank]
    finally:
        service.close()
