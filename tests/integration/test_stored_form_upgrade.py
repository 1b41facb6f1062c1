"""A store written before form 2 (tests/fixtures/store-form1, made by the release before it)
verifies and serves after the upgrade, and takes new events in form 2 that chain onto its head."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from api.demo import AUDITOR, MUNICIPALITY, PEOPLE
from application.commands import GiveConsent, IssuePublication
from application.errors import HistoryCorrupt, ReferenceTaken
from application.personal_data import Sealed, SealedAsDict
from application.stored_form import read_record
from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support.app import RawEvents

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store-form1"
CONTRACT = "946e02ecadeb4ca4a5decdc8e446eba4"
VERSIONS = 68
#: The head digest the release before form 2 reported for the fixture's contract.
FORM_1_HEAD = "5c70050ec3fed3476f87e21abdf85b11ae92a9fe4a3a4e72e34576bb63eb22d5"


def _fixture_rows() -> list[tuple[str, int, str, bytes]]:
    with sqlite3.connect(FIXTURE / "dialoog.sqlite") as db:
        rows = db.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "ORDER BY rowid"
        ).fetchall()
    return [(str(i), int(v), str(t), bytes(s)) for i, v, t, s in rows]


@pytest.fixture(params=["sqlite", "postgres"])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The fixture's store under today's code: the SQLite file itself, or its rows copied one
    for one into a fresh PostgreSQL database (the leaves are made as they are stored)."""
    shutil.copy(FIXTURE / "snapshot-key", tmp_path / "snapshot-key")
    if request.param == "sqlite":
        shutil.copy(FIXTURE / "dialoog.sqlite", tmp_path / "dialoog.sqlite")
        url = f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
        return Settings(database_url=url, data_dir=tmp_path, connect_timeout=2)
    url = request.getfixturevalue("postgres_database_url")
    settings = Settings(database_url=url, data_dir=tmp_path, connect_timeout=2)
    service = contract_service(settings)
    try:
        service.recorder.insert_events(
            [
                StoredEvent(originator_id=UUID(i), originator_version=v, topic=t, state=s)
                for i, v, t, s in _fixture_rows()
            ]
        )
    finally:
        service.close()
    return settings


def _stored(settings: Settings, version: int) -> bytes:
    return next(b for v, _, b in RawEvents(settings, CONTRACT).rows() if v == version)


def test_the_fixture_is_a_form_1_store() -> None:
    rows = [r for r in _fixture_rows() if r[2].startswith("domain.events:")]
    assert len(rows) == VERSIONS
    assert all("form" not in json.loads(state) for *_, state in rows)
    assert json.loads(rows[-1][3])["digest"] == FORM_1_HEAD


def test_a_form_1_store_verifies_serves_and_takes_new_events(upgraded: Settings) -> None:
    service = contract_service(upgraded)
    try:
        verdict = service.verify(AUDITOR, CONTRACT)
        assert (verdict.valid, verdict.versions_checked, verdict.head_digest) == (
            True,
            VERSIONS,
            FORM_1_HEAD,
        )
        contract = service.get_contract(AUDITOR, CONTRACT)
        assert (contract.version, contract.status, len(contract.measurements)) == (
            VERSIONS,
            "active",
            12,
        )
        with pytest.raises(ReferenceTaken):  # the reference claim came along
            from api.demo import Demo

            Demo(service)._open("WMO-2025-017")

        result = service.handle(
            PEOPLE[MUNICIPALITY],
            IssuePublication(CONTRACT, audience="raad", channel="website", summary="na de upgrade"),
        )
        assert result.version == VERSIONS + 1
        record = read_record(_stored(upgraded, VERSIONS + 1))
        assert record.form == 2
        assert record.prior_digest == FORM_1_HEAD  # chained onto the form-1 head
        assert record.digest == hashlib.sha256(_stored(upgraded, VERSIONS + 1)).hexdigest()

        verdict = service.verify(AUDITOR, CONTRACT)
        assert (verdict.valid, verdict.versions_checked, verdict.head_digest) == (
            True,
            VERSIONS + 1,
            record.digest,
        )
        assert service.get_contract(AUDITOR, CONTRACT).version == VERSIONS + 1
    finally:
        service.close()


def _wrap_proposal_id(state: dict[str, Any]) -> None:
    state["proposal_id"] = {"_type_": "uuid_hex", "_data_": state["proposal_id"]}


def test_a_type_tag_wrapped_in_a_form_1_record_is_named_and_never_read(
    upgraded: Settings,
) -> None:
    """The attack that form 1 let through: a rejected proposal's id wrapped as a UUID left the
    form-1 digest as it was (it is computed without type information), reopened the proposal
    and let a new consent agree it. Now verification names it and no read or command uses it."""
    raw = RawEvents(upgraded, CONTRACT)
    rejected = next(v for v, t, _ in raw.rows() if t.endswith(":ProposalRejected"))
    state = json.loads(_stored(upgraded, rejected))
    proposal = state["proposal_id"]
    _wrap_proposal_id(state)
    raw.set_state(rejected, json.dumps(state).encode())

    service = contract_service(upgraded)
    try:
        verdict = service.verify(AUDITOR, CONTRACT)
        assert (verdict.valid, verdict.first_invalid_version) == (False, rejected)
        assert verdict.reason and "type information" in verdict.reason
        with pytest.raises(HistoryCorrupt, match=f"version {rejected} "):
            service.get_contract(AUDITOR, CONTRACT)
        with pytest.raises(HistoryCorrupt):
            service.handle(PEOPLE[MUNICIPALITY], GiveConsent(CONTRACT, proposal_id=proposal))
        assert len(raw.rows()) == VERSIONS  # nothing was recorded
    finally:
        service.close()


def test_a_form_1_record_after_a_form_2_record_is_named(upgraded: Settings) -> None:
    """A downgrade: the newest (form-2) record rewritten in form 1 with a digest that holds
    under the form-1 rule, after another form-2 record. Verification refuses a form-1 record
    after a form-2 one (form 1 leaves type information out of the digest)."""
    from domain.chain import digest_of

    service = contract_service(upgraded)
    try:
        for summary in ("nieuw", "nog een"):
            service.handle(
                PEOPLE[MUNICIPALITY],
                IssuePublication(CONTRACT, audience="raad", channel="website", summary=summary),
            )
    finally:
        service.close()
    version = VERSIONS + 2
    record = read_record(_stored(upgraded, version))
    document = json.loads(_stored(upgraded, version))
    as_form_1 = {
        **document["payload"],
        **document["metadata"],
        "timestamp": {"_type_": "datetime_iso", "_data_": record.recorded_at},
        "prior_digest": record.prior_digest,
        "digest": digest_of(
            topic=document["type"],
            contract_id=CONTRACT,
            version=version,
            recorded_at=record.recorded_at,
            payload=_unsealed_forms(record.payload),
            metadata=_unsealed_forms(record.metadata),
            prior_digest=record.prior_digest,
        ),
    }
    RawEvents(upgraded, CONTRACT).set_state(version, json.dumps(as_form_1).encode())
    service = contract_service(upgraded)
    try:
        verdict = service.verify(AUDITOR, CONTRACT)
        assert (verdict.valid, verdict.first_invalid_version) == (False, version)
        assert verdict.reason and "old form" in verdict.reason
    finally:
        service.close()


def _unsealed_forms(value: Any) -> Any:
    """A record's values with each sealed text as the plain mapping form 1 would have hashed
    (form 1 drops type wrappers)."""
    if isinstance(value, Sealed):
        return SealedAsDict().encode(value)
    if isinstance(value, dict):
        return {k: _unsealed_forms(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unsealed_forms(v) for v in value]
    return value
