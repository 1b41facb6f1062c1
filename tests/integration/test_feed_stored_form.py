"""The feed reads events straight from their stored form (its hot path): for every event of the
demo contract that gives exactly the CloudEvent the domain event gives, on every backend; and a
record stored under an older class version is read through its upcaster instead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from api.demo import Demo
from application.feed import cloud_event, stored_cloud_event
from application.service import ContractService
from domain.events import ContractEvent
from infrastructure.settings import Settings
from tests.support.app import service_for


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
