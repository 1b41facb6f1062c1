"""Read models kept through the service, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from application.commands import RecordMeasurement
from application.read_models import SummaryFilter
from domain.values import Period
from infrastructure.settings import Settings
from tests.support.app import (
    COMMISSIONER,
    OUTSIDER,
    PROVIDER,
    active_contract,
    agree,
    indicator_addition,
    service_for,
)


def test_summaries_and_dashboard_read_their_own_writes_and_survive_a_restart(
    settings: Settings,
) -> None:
    service = service_for(settings, read_models=True)
    try:
        scene = active_contract(service)
        agree(service, scene, indicator_addition(target="5"))
        indicator_id = service.get_contract(COMMISSIONER, scene.contract_id).indicators[0]
        service.handle(
            PROVIDER,
            RecordMeasurement(
                scene.contract_id,
                indicator_id=indicator_id.indicator_id,
                period=Period(date(2025, 1, 1), date(2025, 3, 31)),
                value=Decimal("4.5"),
                source="CBS",
            ),
        )
        head = service.get_contract(COMMISSIONER, scene.contract_id)
        (summary,) = service.list_contracts(PROVIDER, SummaryFilter())
        assert (summary.contract_id, summary.version, summary.head_digest) == (
            scene.contract_id,
            head.version,
            head.head_digest,
        )
        assert summary.status == "active" and summary.providers == ("zorg-a",)
        assert service.list_contracts(OUTSIDER, SummaryFilter()) == []
        (row,) = service.indicator_dashboard(COMMISSIONER, scene.contract_id).body
        assert (row.name, row.target_value, row.latest_value, row.on_track) == (
            "Terugval",
            Decimal("5"),
            Decimal("4.5"),
            True,
        )
    finally:
        service.close()
    if settings.database.kind == "memory":
        return
    again = service_for(settings, read_models=True)
    try:
        (after,) = again.list_contracts(COMMISSIONER, SummaryFilter())
        assert after == summary
    finally:
        again.close()
