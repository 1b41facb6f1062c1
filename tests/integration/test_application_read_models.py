"""Read models kept through the service, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest

from application.commands import IssuePublication, RecordMeasurement
from application.read_models import SummaryFilter
from application.service import ContractService
from domain.values import Period
from infrastructure.settings import Settings
from tests.support.app import (
    COMMISSIONER,
    OUTSIDER,
    PROVIDER,
    Scene,
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


def _many_contracts(service: ContractService, count: int, publications: int) -> list[Scene]:
    """`count` active contracts, their publications interleaved in the log."""
    scenes = [active_contract(service, f"WMO-2025-{n:03d}") for n in range(count)]
    for k in range(publications):
        for scene in scenes:
            service.handle(
                COMMISSIONER,
                IssuePublication(
                    scene.contract_id, audience="raad", channel="brief", summary=f"n{k}"
                ),
            )
    return scenes


def test_the_rebuild_makes_what_the_catch_up_made(settings: Settings) -> None:
    """Each contract loaded once, at its head: the same rows as the catch-up folded in event by
    event, and as the events make them."""
    service = service_for(settings, read_models=True)
    try:
        scenes = _many_contracts(service, 5, 3)
        ids = [scene.contract_id for scene in scenes]
        agree(service, scenes[0], indicator_addition(target="5"))
        caught_up = service.list_contracts(COMMISSIONER, SummaryFilter())
        dashboard = service.indicator_dashboard(COMMISSIONER, ids[0]).body
        processed = service.rebuild_read_models()
        assert processed >= service.notification_count()
        assert service.list_contracts(COMMISSIONER, SummaryFilter()) == caught_up
        assert service.indicator_dashboard(COMMISSIONER, ids[0]).body == dashboard
        assert service.verify_read_models() == []
        assert {s.version for s in caught_up} == {
            service.get_contract(COMMISSIONER, cid).version for cid in ids
        }
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_rebuild_while_serving_never_shows_a_half_built_list(settings: Settings) -> None:
    """Blue/green: `dialoog projections rebuild` in one process while another serves. The fold
    builds the rows aside and one transaction swaps them in, so the serving process, reading
    the stored list throughout the rebuild, always sees every contract."""
    service = service_for(settings, read_models=True)
    serving = service_for(settings, read_models=True)
    try:
        ids = _many_contracts(service, 12, 90)  # > 1,000 notifications: several batches
        assert service.notification_count() > 1000
        assert serving.projection is not None
        stored = serving.projection.store

        def listed() -> int:
            return len(stored.summaries(SummaryFilter(limit=100)))

        everyone = len(serving.list_contracts(COMMISSIONER, SummaryFilter(limit=100)))
        assert everyone == len(ids)
        seen: list[int] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                seen.append(listed())

        during_fold: list[int] = []
        reader = threading.Thread(target=read)
        reader.start()
        try:
            service.rebuild_read_models(lambda _: during_fold.append(listed()))
        finally:
            done.set()
            reader.join(30)
        assert len(during_fold) >= 2 and set(during_fold) == {everyone}
        assert seen and set(seen) == {everyone}
        assert serving.verify_read_models() == []
    finally:
        serving.close()
        service.close()
