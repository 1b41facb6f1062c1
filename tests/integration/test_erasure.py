"""Erasing personal data (issue 12, point 4) on the durable stores: the texts go — from reads,
history and every byte of the database files — while the chain keeps verifying.

The raw search reads the SQLite file and its WAL, or a `pg_dump` of the PostgreSQL database,
for the erased participant's name and for the bytes of every key destroyed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from application.commands import CorrectRecord, IssuePublication, TerminateContract
from application.errors import NotPermitted
from application.personal_data import ERASED
from application.principal import Principal
from application.service import ContractService
from domain import errors as rules
from infrastructure.settings import Settings
from tests.support import people
from tests.support.app import AUDITOR, COMMISSIONER, PROVIDER, Scene, active_contract, service_for
from tests.support.pgcluster import find_bindir

PRIVACY_OFFICER = Principal(
    "piet", "Piet Privacy", people.GEMEENTE_UTRECHT.id, frozenset({"privacy_officer"})
)
#: A privacy officer of a provider: the commissioner holds the record, not the provider.
PROVIDER_PRIVACY_OFFICER = Principal(
    "pia", "Pia Privacy", people.ZORG_A.id, frozenset({"privacy_officer"})
)
LEGAL_BASIS = "AVG art. 17 lid 1 onder a"


@pytest.fixture(params=("sqlite", "postgres"))
def backend(request: pytest.FixtureRequest) -> str:
    """Overrides conftest's: only the durable backends have files to search."""
    name: str = request.param
    request.node.user_properties.append(("backend", name))
    return name


@pytest.fixture
def settings_with_snapshots(settings: Settings) -> Settings:
    """Snapshots every two events, so that one holds the session's participants in the clear."""
    return settings.model_copy(update={"snapshot_interval": 2})


@pytest.fixture
def service(settings_with_snapshots: Settings) -> Iterator[ContractService]:
    service = service_for(settings_with_snapshots)
    yield service
    service.close()


@pytest.fixture
def scene(service: ContractService) -> Scene:
    scene = active_contract(service)  # v5: a session with Ann and Bob as participants
    service.handle(
        COMMISSIONER,
        IssuePublication(scene.contract_id, audience="council", channel="web", summary="p"),
    )  # v6: a snapshot after the session
    return scene


def raw_bytes(settings: Settings) -> bytes:
    """Everything the store holds on disk (SQLite) or would hand a backup (PostgreSQL)."""
    database = settings.database
    if database.kind == "sqlite":
        path = Path(str(database.path))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    dumped = subprocess.run(
        [
            str(find_bindir() / "pg_dump"),
            "--data-only",
            "--host",
            str(database.host),
            "--port",
            str(database.port),
            "--username",
            str(database.user),
            str(database.dbname),
        ],
        env={"PGPASSWORD": database.password or ""},
        capture_output=True,
        timeout=60,
        check=True,
    )
    return dumped.stdout


def key_bytes(service: ContractService, contract_id: str, **scope: object) -> list[bytes]:
    keys = service.personal_data.keys.keys_of([contract_id])
    wanted = {
        key_id
        for key_id, _ in service.personal_data.keys.find(contract_id, **scope)  # type: ignore[arg-type]
    }
    return [key for key_id, _, key in keys if key_id in wanted]


def on_disk(blob: bytes, value: bytes) -> bool:
    """A value as the stores may write it: raw bytes (SQLite, or text in pg_dump) or bytea
    hex (pg_dump)."""
    return value in blob or value.hex().encode() in blob


def test_erasing_a_record_leaves_the_names_nowhere_and_the_chain_valid(
    service: ContractService, scene: Scene, settings_with_snapshots: Settings
) -> None:
    name = people.BOB.name.encode()
    keys = key_bytes(service, scene.contract_id, version=5)
    assert keys, "the session's personal texts are sealed under keys of version 5"
    before = raw_bytes(settings_with_snapshots)
    assert all(on_disk(before, key) for key in keys)
    assert on_disk(before, name), "a snapshot held the session in the clear before the erasure"

    done = service.erase(
        PRIVACY_OFFICER,
        reason="Bob asked to be forgotten",
        legal_basis=LEGAL_BASIS,
        record=(scene.contract_id, 5),
    )

    assert [d.version for d in done] == [7] and done[0].keys_destroyed == len(keys)
    after = raw_bytes(settings_with_snapshots)
    assert not on_disk(after, name)
    assert not any(on_disk(after, key) for key in keys)
    assert service.verify(AUDITOR, scene.contract_id).valid
    page = service.history(AUDITOR, scene.contract_id)
    session = page.items[4].data
    assert {p["name"] for p in session["participants"]} == {ERASED}
    assert session["summary"] == ERASED
    erasure = page.items[6]
    assert erasure.type == "PersonalDataErased"
    assert people.BOB.name not in str(erasure.data) and "bob" not in str(erasure.data)
    view = service.get_contract(PROVIDER, scene.contract_id)
    assert {p.name for p in view.sessions[0].participants} == {ERASED}


def test_erasing_a_person_blanks_their_name_as_actor_and_nothing_else(
    service: ContractService, scene: Scene, settings_with_snapshots: Settings
) -> None:
    keys = key_bytes(service, scene.contract_id, owner=people.BOB.subject)
    assert keys

    done = service.erase(
        PRIVACY_OFFICER,
        reason="Bob left the provider",
        legal_basis=LEGAL_BASIS,
        subject=people.BOB.subject,
    )

    assert len(done) == 1
    assert not any(on_disk(raw_bytes(settings_with_snapshots), key) for key in keys)
    assert service.verify(AUDITOR, scene.contract_id).valid
    actors = {
        (e.actor.sub, e.actor.name) for e in service.history(AUDITOR, scene.contract_id).items
    }
    assert (people.BOB.subject, ERASED) in actors
    assert (people.BOB.subject, people.BOB.name) not in actors
    assert (people.ANN.subject, people.ANN.name) in actors
    # Erased once, there is nothing left of that person to erase.
    with pytest.raises(rules.NothingToErase):
        service.erase(
            PRIVACY_OFFICER, reason="again", legal_basis=LEGAL_BASIS, subject=people.BOB.subject
        )


def test_only_a_privacy_officer_of_the_commissioner_erases_and_a_refusal_stores_nothing(
    service: ContractService, scene: Scene
) -> None:
    version = service.get_contract(COMMISSIONER, scene.contract_id).version
    for who in (COMMISSIONER, AUDITOR):
        with pytest.raises(NotPermitted):
            service.erase(who, reason="r", legal_basis=LEGAL_BASIS, record=(scene.contract_id, 5))
    with pytest.raises(NotPermitted):
        service.erase(
            PROVIDER_PRIVACY_OFFICER,
            reason="r",
            legal_basis=LEGAL_BASIS,
            record=(scene.contract_id, 5),
        )
    with pytest.raises(rules.NothingToErase):  # Bob's sub in no contract Zorg A commissions
        service.erase(PROVIDER_PRIVACY_OFFICER, reason="r", legal_basis=LEGAL_BASIS, subject="bob")
    with pytest.raises(rules.InvalidValue):
        service.erase(
            PRIVACY_OFFICER, reason="r", legal_basis=LEGAL_BASIS, record=(scene.contract_id, 99)
        )
    assert service.get_contract(COMMISSIONER, scene.contract_id).version == version
    assert service.get_contract(COMMISSIONER, scene.contract_id).sessions[0].summary != ERASED


def test_a_correction_of_a_summary_destroys_the_key_of_the_text_it_replaces(
    service: ContractService, scene: Scene, settings_with_snapshots: Settings
) -> None:
    old = key_bytes(service, scene.contract_id, version=5, field="summary")
    assert old

    service.handle(
        COMMISSIONER,
        CorrectRecord(
            scene.contract_id,
            corrects_version=5,
            corrections={"summary": "eerste dialoog, gecorrigeerd"},
            reason="the summary named a resident",
        ),
    )

    assert not any(on_disk(raw_bytes(settings_with_snapshots), key) for key in old)
    view = service.get_contract(COMMISSIONER, scene.contract_id)
    assert view.sessions[0].summary == "eerste dialoog, gecorrigeerd"
    history = service.history(AUDITOR, scene.contract_id).items
    assert history[4].data["summary"] == ERASED
    assert service.verify(AUDITOR, scene.contract_id).valid


def test_retention_erases_contracts_that_ended_long_enough_ago(
    service: ContractService, scene: Scene
) -> None:
    ended = date(2025, 6, 30)
    service.handle(
        COMMISSIONER,
        TerminateContract(scene.contract_id, effective_on=ended, reason="budget ended"),
    )
    assert service.apply_retention(years=7, today=date(2032, 6, 29)) == []

    done = service.apply_retention(years=7, today=date(2032, 6, 30))

    assert [d.contract_id for d in done] == [scene.contract_id]
    left = service.personal_data.keys.find(scene.contract_id)
    assert {scope.owner for _, scope in left} == {"dialoog:retention"}  # the erasure's own actor
    history = service.history(AUDITOR, scene.contract_id).items
    assert history[-1].type == "PersonalDataErased" and history[-1].data["grounds"] == "retention"
    assert {e.actor.name for e in history[:-1]} == {ERASED}
    assert service.verify(AUDITOR, scene.contract_id).valid
    assert service.apply_retention(years=7, today=date(2033, 1, 1)) == []
