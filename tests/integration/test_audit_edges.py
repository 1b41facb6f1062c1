"""Audit edges found in review: an altered snapshot is caught by verification, and a change
agreed later with effect from an earlier date is in force on that date."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from application.commands import GiveConsent, SubmitProposal
from application.snapshots import seal, unseal
from domain.contract import Contract
from domain.money import Adjustment
from domain.values import Allocation
from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support.app import AUDITOR, COMMISSIONER, PROVIDER, RawEvents, active_contract


def test_a_back_dated_adjustment_is_in_force_from_its_effective_date(settings: Settings) -> None:
    service = contract_service(settings, with_read_models=False)
    try:
        scene = active_contract(service)
        proposal = service.handle(
            PROVIDER,
            SubmitProposal(
                scene.contract_id,
                session_id=scene.session_id,
                change=Adjustment(
                    legal_basis="art. 2.163b",
                    value=Decimal("0.00"),
                    effective_on=date(2025, 3, 1),
                    allocations=(Allocation("zorg-a", Decimal("400000.00")),),
                ),
                rationale="allocate",
            ),
        ).created_id
        service.handle(COMMISSIONER, GiveConsent(scene.contract_id, proposal_id=str(proposal)))

        def allocated_on(day: date) -> list[tuple[str, str]]:
            view = service.get_contract(AUDITOR, scene.contract_id, in_force_on=day)
            return [(a.org, str(a.amount)) for a in view.financial_framework.allocations]

        assert allocated_on(date(2025, 2, 28)) == []
        assert allocated_on(date(2025, 6, 1)) == [("zorg-a", "400000.00")]
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_an_altered_snapshot_is_never_read_and_is_named_by_verification(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"snapshot_interval": 2})
    service = contract_service(settings, with_read_models=False)
    try:
        scene = active_contract(service)  # versions 1–4: snapshots at 2 and 4
        assert service.verify(AUDITOR, scene.contract_id, snapshots=True).snapshots_checked == 2
        raw = RawEvents(settings, scene.contract_id)
        # A fixed table name: the library names it after the application on PostgreSQL only.
        table = "stored_snapshots" if settings.database.kind == "sqlite" else "dialoog_snapshots"
        select = f"SELECT state FROM {table} WHERE originator_id = ? AND originator_version = 4"  # noqa: S608
        update = f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 4"  # noqa: S608
        with raw._cursor() as db:
            (state,) = db.execute(raw._sql(select), (raw._id(),)).fetchone()
            sealed = bytes(state)
            seal_line, head_line, body = sealed.split(b"\n", 2)  # the seal names the head
            assert head_line.startswith(b"head:")
            snapshot = json.loads(body)
            snapshot["state"]["title"] = "Forged title"
            forged = b"\n".join((seal_line, head_line, json.dumps(snapshot).encode()))
            db.execute(raw._sql(update), (forged, raw._id()))
        reopened = contract_service(settings, with_read_models=False)
        try:
            assert reopened.get_contract(AUDITOR, scene.contract_id).title == "Wijkteams Utrecht"
            assert reopened.get_contract(AUDITOR, scene.contract_id, version=4).version == 4
            # The chain itself holds:
            assert reopened.verify(AUDITOR, scene.contract_id, snapshots=False).valid
            verdict = reopened.verify(AUDITOR, scene.contract_id, snapshots=True)
            assert not verdict.valid
            assert verdict.first_invalid_version == 4
            assert "seal" in (verdict.reason or "")
        finally:
            reopened.close()
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_resealed_snapshot_of_another_version_is_not_on_the_chain(settings: Settings) -> None:
    """Someone holding the snapshot key puts version 2's state (a draft) where version 4's
    snapshot was, sealed for version 4: the seal holds, but its head digest is not the chain's
    digest at version 4. Reads do not use it; verification (by default) names it."""
    settings = settings.model_copy(update={"snapshot_interval": 2})
    service = contract_service(settings, with_read_models=False)
    try:
        scene = active_contract(service)  # versions 1–5: snapshots at 2 and 4
        raw = RawEvents(settings, scene.contract_id)
        table = "stored_snapshots" if settings.database.kind == "sqlite" else "dialoog_snapshots"
        select = f"SELECT state FROM {table} WHERE originator_id = ? AND originator_version = ?"  # noqa: S608
        update = f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 4"  # noqa: S608
        key = service._snapshot_key
        uuid = raw._id()
        with raw._cursor() as db:
            (two,) = db.execute(raw._sql(select), (uuid, 2)).fetchone()
            state_two = unseal(key, UUID(scene.contract_id), 2, bytes(two), Contract.STATE_VERSION)
            assert state_two is not None
            document = json.loads(state_two)
            document["originator_version"] = 4
            moved = json.dumps(document).encode()
            forged = seal(key, UUID(scene.contract_id), 4, moved, Contract.STATE_VERSION)
            db.execute(raw._sql(update), (forged, uuid))
        reopened = contract_service(settings, with_read_models=False)
        try:
            now = reopened.get_contract(AUDITOR, scene.contract_id)
            assert (now.status, now.version) == ("active", 5)
            at_four = reopened.get_contract(AUDITOR, scene.contract_id, version=4)
            assert at_four.status == "active"
            verdict = reopened.verify(AUDITOR, scene.contract_id)
            assert not verdict.valid
            assert verdict.first_invalid_version == 4
            assert "does not match the chain" in (verdict.reason or "")
            assert reopened.verify(AUDITOR, scene.contract_id, snapshots=False).valid
        finally:
            reopened.close()
    finally:
        service.close()
