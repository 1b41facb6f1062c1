"""The tamper table for the stored form, on SQLite and PostgreSQL: a record edited in the store
by someone with write access — a type tag wrapped around a value or changed, a field added or
removed, a record moved to another version — is named by verification, and no read serves the
tampered value (reads refuse with HistoryCorrupt). Each forger writes canonical bytes, as the
service does. (Snapshots and read models have their own tables: tests/integration/
test_audit_edges.py and test_read_model_tampering.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from application.commands import IssuePublication
from application.errors import HistoryCorrupt
from application.service import ContractService
from infrastructure.settings import Settings
from tests.support.app import AUDITOR, COMMISSIONER, RawEvents, active_contract, service_for

Document = dict[str, Any]
HEAD = 7


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """Overrides conftest's: only the stores someone can edit behind the service's back."""
    name: str = request.param
    request.node.user_properties.append(("backend", name))
    return name


@pytest.fixture
def published(settings: Settings) -> Iterator[str]:
    """A contract of seven versions: the scene's five and two publications (6 and 7)."""
    service = service_for(settings)
    try:
        contract_id = active_contract(service).contract_id
        for summary in ("p6", "p7"):
            service.handle(
                COMMISSIONER,
                IssuePublication(contract_id, audience="raad", channel="web", summary=summary),
            )
    finally:
        service.close()
    yield contract_id


def wrap_type_tag(document: Document) -> None:
    """A text (32 hex digits) wrapped as a UUID: the same characters, another type."""
    payload = document["payload"]
    payload["publication_id"] = {"_type_": "uuid_hex", "_data_": payload["publication_id"]}


def change_type_tag(document: Document) -> None:
    """The effective date's tag changed to a date-time (the same ISO text parses as one)."""
    document["metadata"]["effective_on"]["_type_"] = "datetime_iso"


def add_field(document: Document) -> None:
    document["payload"]["approved_by_council"] = True


def remove_field(document: Document) -> None:
    del document["payload"]["channel"]


def edit_value(document: Document) -> None:
    document["payload"]["summary"] = "p6, but nicer"


TAMPERS: dict[str, Callable[[Document], None]] = {
    "type tag wrapped": wrap_type_tag,
    "type tag changed": change_type_tag,
    "field added": add_field,
    "field removed": remove_field,
    "value edited": edit_value,
}


@pytest.mark.parametrize("version", [6, 7], ids=["inside the chain", "at the head"])
@pytest.mark.parametrize("tamper", list(TAMPERS), ids=list(TAMPERS))
def test_a_tampered_record_is_named_and_never_served(
    settings: Settings, published: str, tamper: str, version: int
) -> None:
    raw = RawEvents(settings, published)
    document = json.loads(next(b for v, _, b in raw.rows() if v == version))
    TAMPERS[tamper](document)
    raw.set_state(version, document)  # canonical bytes (RFC 8785), as the service writes

    service = service_for(settings)
    try:
        verdict = service.verify(AUDITOR, published)
        assert (verdict.valid, verdict.first_invalid_version, verdict.versions_checked) == (
            False,
            version,
            version - 1,
        )
        assert verdict.reason
        if tamper != "value edited":
            # Strict decoding: the record is not an event of its class.
            _assert_never_served(service, published, version)
            with pytest.raises(HistoryCorrupt):
                service.history(AUDITOR, published, limit=100)
        elif version < HEAD:
            # Well typed, but the next record no longer follows its digest: replay refuses.
            _assert_never_served(service, published, version + 1)
        else:
            # At the head only the transparency log holds the digest it had: verification (and
            # the auditor's own checks against the log) name it; reads do not consult the log.
            assert service.get_contract(AUDITOR, published).version == HEAD
    finally:
        service.close()


def test_a_record_moved_to_another_version_is_named(settings: Settings, published: str) -> None:
    """Version 7's record stored as version 6 (and 6's as 7): each names where it belongs."""
    raw = RawEvents(settings, published)
    rows = {v: b for v, _, b in raw.rows()}
    raw.set_state(6, rows[7])
    raw.set_state(7, rows[6])
    service = service_for(settings)
    try:
        verdict = service.verify(AUDITOR, published)
        assert (verdict.valid, verdict.first_invalid_version) == (False, 6)
        assert verdict.reason
        _assert_never_served(service, published, 6)
    finally:
        service.close()


def _assert_never_served(service: ContractService, contract_id: str, version: int) -> None:
    """Reading the contract refuses, naming the version where the history breaks."""
    with pytest.raises(HistoryCorrupt, match=f"version {version} "):
        service.get_contract(AUDITOR, contract_id)
