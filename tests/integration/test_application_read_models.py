"""Read models kept through the service, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

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


def test_the_catch_up_brings_the_kept_contract_forward_instead_of_loading_it_per_batch(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One contract written to across many batches of the catch-up: the contract the aggregate
    cache keeps is brought forward, not loaded from the store again for every batch — and the
    rows are those the events make."""
    service = service_for(settings, read_models=True)
    try:
        scene = active_contract(service)
        assert service.projection is not None
        service.projection.catch_up()
        for k in range(12):
            service.handle(
                COMMISSIONER,
                IssuePublication(
                    scene.contract_id, audience="raad", channel="brief", summary=f"n{k}"
                ),
            )
        loads: list[Any] = []
        load = service.repository.get

        def counted(*args: Any, **kwargs: Any) -> Any:
            loads.append(args)
            return load(*args, **kwargs)

        monkeypatch.setattr(service.repository, "get", counted)
        service.projection.batch_size = 3
        assert service.projection.catch_up() == 12  # four batches
        assert loads == []
        (summary,) = service.list_contracts(COMMISSIONER, SummaryFilter())
        assert summary.version == service.get_contract(COMMISSIONER, scene.contract_id).version
        assert service.verify_read_models() == []
    finally:
        service.close()


@pytest.mark.parametrize("kept", [0, 11, 20_000])
def test_contracts_too_short_for_a_snapshot_are_replayed_from_the_rebuilds_own_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    """With a snapshot every 8 events: the contracts of fewer events are made from the events
    the rebuild read from the log (their sealed names opened with keys read together), the
    longer ones loaded at their heads — and past `REBUILD_KEPT_EVENTS` kept events, the rest
    too. Either way the rows are those the catch-up made."""
    service = service_for(settings.model_copy(update={"snapshot_interval": 8}), read_models=True)
    try:
        # In the log: the four openings (5 events each), a publication on each, then the
        # last two grow past the snapshot interval.
        scenes = _many_contracts(service, 4, 1)
        long = scenes[3].contract_id
        for k in range(5):
            service.handle(
                COMMISSIONER,
                IssuePublication(long, audience="raad", channel="brief", summary=f"m{k}"),
            )
        agree(service, scenes[2], indicator_addition(target="5"))
        ids = [scene.contract_id for scene in scenes]
        lengths = {cid: service.get_contract(COMMISSIONER, cid).version for cid in ids}
        assert lengths[long] >= 8 and min(lengths.values()) < 8, lengths
        caught_up = service.list_contracts(COMMISSIONER, SummaryFilter())
        dashboard = service.indicator_dashboard(COMMISSIONER, scenes[2].contract_id).body
        loaded: list[str] = []
        load = service._load_for_projection

        def counted(contract_id: str) -> Any:
            loaded.append(contract_id)
            return load(contract_id)

        monkeypatch.setattr(service, "_load_for_projection", counted)
        monkeypatch.setattr(service, "REBUILD_KEPT_EVENTS", kept)
        processed = service.rebuild_read_models()
        loaded_by_rebuild = set(loaded)
        assert processed >= service.notification_count()
        assert service.list_contracts(COMMISSIONER, SummaryFilter()) == caught_up
        assert service.indicator_dashboard(COMMISSIONER, scenes[2].contract_id).body == dashboard
        assert service.verify_read_models() == []
        short = {cid for cid, length in lengths.items() if length < 8}
        assert short == {scenes[0].contract_id, scenes[1].contract_id}, lengths
        if kept == 0:
            assert loaded_by_rebuild == set(ids)
        elif kept == 20_000:
            assert loaded_by_rebuild == set(ids) - short
        else:  # 11 events kept: the first contract's fit, the second's publication did not
            assert loaded_by_rebuild == set(ids) - {scenes[0].contract_id}
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
