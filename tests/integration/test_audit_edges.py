"""Audit edges found in review: an altered snapshot is caught by verification, and a change
agreed later with effect from an earlier date is in force on that date."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from app_support import AUDITOR, COMMISSIONER, PROVIDER, RawEvents, active_contract

from domain.money import Adjustment
from domain.values import Allocation
from infrastructure.event_store import contract_service
from infrastructure.settings import Settings


def test_a_back_dated_adjustment_is_in_force_from_its_effective_date(settings: Settings) -> None:
    service = contract_service(settings, with_read_models=False)
    try:
        scene = active_contract(service)
        proposal = service.submit_proposal(
            PROVIDER,
            scene.contract_id,
            session_id=scene.session_id,
            change=Adjustment(
                legal_basis="art. 2.163b",
                value=Decimal("0.00"),
                effective_on=date(2025, 3, 1),
                allocations=(Allocation("zorg-a", Decimal("400000.00")),),
            ),
            rationale="allocate",
        ).created_id
        service.give_consent(COMMISSIONER, scene.contract_id, str(proposal))

        def allocated_on(day: date) -> list[tuple[str, str]]:
            view = service.get_contract(AUDITOR, scene.contract_id, in_force_on=day)
            return [(a.org, str(a.amount)) for a in view.financial_framework.allocations]

        assert allocated_on(date(2025, 2, 28)) == []
        assert allocated_on(date(2025, 6, 1)) == [("zorg-a", "400000.00")]
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_an_altered_snapshot_is_named_by_verification(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"snapshot_interval": 2})
    service = contract_service(settings, with_read_models=False)
    try:
        scene = active_contract(service)  # versions 1–4: snapshots at 2 and 4
        assert service.verify(AUDITOR, scene.contract_id).snapshots_checked == 2
        raw = RawEvents(settings, scene.contract_id)
        # A fixed table name: the library names it after the application on PostgreSQL only.
        table = "stored_snapshots" if settings.database.kind == "sqlite" else "dialoog_snapshots"
        with raw._cursor() as db:
            sql = f"SELECT state FROM {table} WHERE originator_id = ? AND originator_version = 4"  # noqa: S608
            (state,) = db.execute(raw._sql(sql), (raw._id(),)).fetchone()
            snapshot = json.loads(bytes(state))
            snapshot["state"]["title"] = "Forged title"
            update = (
                f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 4"  # noqa: S608
            )
            db.execute(raw._sql(update), (json.dumps(snapshot).encode(), raw._id()))
        reopened = contract_service(settings, with_read_models=False)
        try:
            verdict = reopened.verify(AUDITOR, scene.contract_id)
            assert not verdict.valid
            assert verdict.first_invalid_version == 4
            assert "snapshot" in (verdict.reason or "")
        finally:
            reopened.close()
    finally:
        service.close()
