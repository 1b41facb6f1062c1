"""Time travel, history pages and diffs through the service, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from application.commands import IssuePublication, lifecycle_step
from application.errors import InvalidQuery
from application.service import ContractService
from domain.goals import ChangeAction
from domain.indicators import IndicatorChange, Target
from domain.money import Adjustment
from domain.values import Allocation, local_date
from infrastructure.settings import Settings
from tests.support.app import (
    AUDITOR,
    COMMISSIONER,
    READER,
    Scene,
    active_contract,
    agree,
    all_versions,
    indicator_addition,
    service_for,
)


@pytest.fixture
def service(settings: Settings) -> Iterator[ContractService]:
    service = service_for(settings)
    yield service
    service.close()


@pytest.fixture
def scene(service: ContractService) -> Scene:
    return active_contract(service)


def publish(service: ContractService, scene: Scene, summary: str) -> int:
    return service.handle(
        COMMISSIONER,
        IssuePublication(scene.contract_id, audience="council", channel="web", summary=summary),
    ).version


def test_state_at_a_version(service: ContractService, scene: Scene) -> None:
    for n in range(3):
        publish(service, scene, f"p{n}")
    at_6 = service.get_contract(AUDITOR, scene.contract_id, version=6)
    assert at_6.version == 6
    assert [p.summary for p in at_6.publications] == ["p0"]
    at_1 = service.get_contract(READER, scene.contract_id, version=1)
    assert (at_1.version, at_1.status, at_1.providers) == (1, "draft", [])
    now = service.get_contract(AUDITOR, scene.contract_id)
    assert service.get_contract(AUDITOR, scene.contract_id, version=now.version) == now
    # Each version's head digest is the digest stored for that version.
    digests = {
        item.version: item.digest for item in service.history(AUDITOR, scene.contract_id).items
    }
    for version in range(1, now.version + 1):
        state = service.get_contract(AUDITOR, scene.contract_id, version=version)
        assert state.head_digest == digests[version]


def test_state_at_a_version_past_a_snapshot(settings: Settings) -> None:
    # A small snapshot interval, so reads at a version start from a snapshot.
    settings = settings.model_copy(update={"snapshot_interval": 3})
    service = service_for(settings)
    try:
        scene = active_contract(service)
        for n in range(7):
            publish(service, scene, f"p{n}")
        for version in (1, 3, 4, 5, 7, 8, 11, 12):
            state = service.get_contract(AUDITOR, scene.contract_id, version=version)
            assert state.version == version
            assert len(state.publications) == max(0, version - 5)
    finally:
        service.close()


def test_state_as_recorded_at_a_moment(service: ContractService, scene: Scene) -> None:
    moments: dict[int, datetime] = {5: datetime.now(UTC)}
    for n in range(3):
        version = publish(service, scene, f"p{n}")
        moments[version] = datetime.now(UTC)
    for version, moment in moments.items():
        state = service.get_contract(AUDITOR, scene.contract_id, as_of=moment)
        assert state.version == version
    created = service.get_contract(AUDITOR, scene.contract_id, version=1).created_at
    assert service.get_contract(AUDITOR, scene.contract_id, as_of=created).version == 1
    with pytest.raises(InvalidQuery):
        service.get_contract(AUDITOR, scene.contract_id, as_of=created - timedelta(microseconds=1))
    future = datetime.now(UTC) + timedelta(days=365)
    assert service.get_contract(AUDITOR, scene.contract_id, as_of=future).version == 8


def test_state_in_force_on_a_date(service: ContractService, scene: Scene) -> None:
    later = local_date(datetime.now(UTC)) + timedelta(days=400)
    agree(
        service,
        scene,
        Adjustment(
            legal_basis="art. 2.163b",
            value=Decimal("20000.00"),
            effective_on=later,
            allocations=(Allocation("zorg-a", Decimal("300000.00")),),
        ),
    )
    now = service.get_contract(AUDITOR, scene.contract_id)
    assert [a.amount for a in now.financial_framework.allocations] == [Decimal("300000.00")]

    def allocations_on(day: date) -> list[Decimal]:
        state = service.get_contract(AUDITOR, scene.contract_id, in_force_on=day)
        return [a.amount for a in state.financial_framework.allocations]

    assert allocations_on(later - timedelta(days=1)) == []
    assert allocations_on(later) == [Decimal("300000.00")]
    assert allocations_on(later + timedelta(days=1)) == [Decimal("300000.00")]
    # The session was held on 2025-02-03: before that date it is not in force either.
    before_session = service.get_contract(AUDITOR, scene.contract_id, in_force_on=date(2025, 2, 2))
    assert before_session.sessions == []


def test_invalid_time_travel_queries(service: ContractService, scene: Scene) -> None:
    cid = scene.contract_id
    now = datetime.now(UTC)
    for query in (
        {"version": 2, "as_of": now},
        {"version": 2, "in_force_on": local_date(datetime.now(UTC))},
        {"as_of": now, "in_force_on": local_date(datetime.now(UTC))},
        {"version": 0},
        {"version": 6},
        {"version": -1},
    ):
        with pytest.raises(InvalidQuery):
            service.get_contract(AUDITOR, cid, **query)  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery):
        service.diff(AUDITOR, cid, from_version=0, to_version=5)
    with pytest.raises(InvalidQuery):
        service.diff(AUDITOR, cid, from_version=1, to_version=6)
    with pytest.raises(InvalidQuery):
        lifecycle_step("explode")
    assert service.get_contract(AUDITOR, cid).version == 5


def test_history_pages_by_cursor(service: ContractService, scene: Scene) -> None:
    for n in range(6):
        publish(service, scene, f"p{n}")  # versions 6..11
    first = service.history(AUDITOR, scene.contract_id, after=0, limit=4)
    assert [i.version for i in first.items] == [1, 2, 3, 4]
    assert first.next_cursor == 4
    assert first.items[0].type == "ContractOpened"
    assert first.items[0].prior_digest != first.items[0].digest
    second = service.history(AUDITOR, scene.contract_id, after=first.next_cursor, limit=4)
    assert [i.version for i in second.items] == [5, 6, 7, 8]
    assert second.items[0].prior_digest == first.items[-1].digest
    last = service.history(AUDITOR, scene.contract_id, after=8, limit=4)
    assert [i.version for i in last.items] == [9, 10, 11]
    assert last.next_cursor is None
    exact = service.history(AUDITOR, scene.contract_id, after=7, limit=4)
    assert [i.version for i in exact.items] == [8, 9, 10, 11]
    assert exact.next_cursor is None  # nothing after the last page, even when it is full
    beyond = service.history(AUDITOR, scene.contract_id, after=11, limit=4)
    assert (beyond.items, beyond.next_cursor) == ([], None)
    assert all_versions(service, scene.contract_id) == list(range(1, 12))
    entry = service.history(AUDITOR, scene.contract_id, after=5, limit=1).items[0]
    assert entry.type == "PublicationIssued"
    assert entry.actor.org == "gemeente-utrecht"
    assert entry.data["summary"] == "p0"


def test_diff_speaks_the_council_members_language(service: ContractService, scene: Scene) -> None:
    agree(service, scene, indicator_addition(target="5"))
    contract = service.get_contract(AUDITOR, scene.contract_id)
    before = contract.version
    indicator_id = contract.indicators[0].indicator_id
    agree(
        service,
        scene,
        IndicatorChange(
            action=ChangeAction.REVISE,
            indicator_id=indicator_id,
            target=Target(Decimal("4"), date(2026, 12, 31)),
        ),
        rationale="Sharper target",
    )
    after = service.get_contract(AUDITOR, scene.contract_id).version
    diff = service.diff(AUDITOR, scene.contract_id, from_version=before, to_version=after)
    assert (diff.from_version, diff.to_version) == (before, after)
    target = [c for c in diff.changes if c.path == f"indicators.{indicator_id}.target"]
    assert len(target) == 1
    assert target[0].summary == "Streefwaarde van indicator ‘Terugval’: 5% → 4%"
    assert target[0].why is not None
    assert target[0].why.reason == "Sharper target"
    assert target[0].why.session_held_on == date(2025, 2, 3)
    summaries = [c.summary for c in diff.changes]
    assert any("Sharper target" in s and "aangenomen" in s for s in summaries)
    # From the start: the provider's admission, the status and the session are all there.
    whole = service.diff(AUDITOR, scene.contract_id, from_version=1, to_version=5)
    whole_summaries = [c.summary for c in whole.changes]
    assert "Aanbieder Zorg A uitgenodigd" in whole_summaries
    assert "Status: in voorbereiding → actief" in whole_summaries
    assert "Dialoogsessie op 3 februari 2025: first dialogue" in whole_summaries
    english = service.diff(AUDITOR, scene.contract_id, from_version=1, to_version=5, language="en")
    assert "Session held on 2025-02-03: first dialogue" in [c.summary for c in english.changes]
    nothing = service.diff(AUDITOR, scene.contract_id, from_version=after, to_version=after)
    assert nothing.changes == []
