"""Monitoring and transparency: RecordMeasurement, IssuePublication, ConsultResidents,
RecordEvaluation, CorrectRecord — on the in-memory store."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from application.commands import (
    ConsultResidents,
    CorrectRecord,
    IssuePublication,
    RecordEvaluation,
    RecordMeasurement,
)
from application.views import MeasurementData, PublicationData, View
from domain.errors import InvalidCorrection, InvalidValue, UnknownIndicator
from domain.values import Period
from tests.support.app import AUDITOR, COMMISSIONER, PROVIDER
from tests.support.use_cases import Case, Checks, World

Q2 = Period(date(2025, 4, 1), date(2025, 6, 30))


def measurement(world: World, indicator_id: str | None = None) -> RecordMeasurement:
    return RecordMeasurement(
        world.contract_id,
        indicator_id=indicator_id or world.indicator_id,
        period=Q2,
        value=Decimal("6.1"),
        source="CBS",
    )


CASES = [
    Case(
        "record_measurement",
        PROVIDER,
        lambda w: measurement(w),
        View.MEASUREMENT,
        refused=lambda w: measurement(w, indicator_id="no-such-indicator"),
        refused_with=UnknownIndicator,
    ),
    Case(
        "issue_publication",
        COMMISSIONER,
        lambda w: IssuePublication(
            w.contract_id, audience="council", channel="raadsbrief", summary="Q1 results"
        ),
        View.PUBLICATION,
        refused=lambda w: IssuePublication(
            w.contract_id, audience="", channel="raadsbrief", summary="Q1 results"
        ),
        refused_with=InvalidValue,
    ),
    Case(
        "consult_residents",
        PROVIDER,
        lambda w: ConsultResidents(
            w.contract_id,
            held_on=date(2025, 4, 2),
            method="kitchen table",
            summary="what residents said",
            participants_count=12,
        ),
        View.CONTRACT,
        refused=lambda w: ConsultResidents(
            w.contract_id,
            held_on=date(2025, 4, 2),
            method="kitchen table",
            summary="what residents said",
            participants_count=-1,
        ),
        refused_with=InvalidValue,
    ),
    Case(
        "record_evaluation",
        COMMISSIONER,
        lambda w: RecordEvaluation(
            w.contract_id, held_on=date(2025, 6, 1), summary="half year", conclusions="on track"
        ),
        View.CONTRACT,
        refused=lambda w: RecordEvaluation(
            w.contract_id, held_on=date(2025, 6, 1), summary=" ", conclusions="on track"
        ),
        refused_with=InvalidValue,
    ),
    Case(
        "correct",
        PROVIDER,
        lambda w: CorrectRecord(
            w.contract_id,
            corrects_version=w.measurement_version,
            corrections={"value": "6.4"},
            reason="typo in the report",
        ),
        View.CONTRACT,
        refused=lambda w: CorrectRecord(
            w.contract_id,
            corrects_version=w.measurement_version,
            corrections={"colour": "blue"},
            reason="no such field",
        ),
        refused_with=InvalidCorrection,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_refusal_stores_nothing(checks: Checks, case: Case) -> None:
    checks.refusal_stores_nothing(case)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_repeat_under_the_same_key_is_answered_once(checks: Checks, case: Case) -> None:
    checks.repeat_is_answered_once(case)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_stale_version_is_refused(checks: Checks, case: Case) -> None:
    checks.stale_version_is_refused(case)


def test_a_measurement_is_answered_as_the_record_created(world: World) -> None:
    result = world.service.handle(PROVIDER, measurement(world), view=View.MEASUREMENT)
    assert result.view.body == MeasurementData(
        measurement_id=str(result.created_id),
        indicator_id=world.indicator_id,
        indicator_version=1,
        period={"start": Q2.start, "end": Q2.end},
        value=Decimal("6.1"),
        source="CBS",
    )


def test_a_publication_is_answered_as_the_record_created(world: World) -> None:
    result = world.service.handle(
        COMMISSIONER,
        IssuePublication(world.contract_id, audience="residents", channel="web", summary="news"),
        view=View.PUBLICATION,
    )
    assert isinstance(result.view.body, PublicationData)
    assert (result.view.body.publication_id, result.view.body.audience) == (
        result.created_id,
        "residents",
    )


def test_consultations_evaluations_and_corrections_enter_the_history(world: World) -> None:
    for case in CASES[2:]:
        world.service.handle(case.by, case.make(world))
    page = world.service.history(AUDITOR, world.contract_id, after=world.measurement_version)
    assert [item.type for item in page.items][-3:] == [
        "ResidentsConsulted",
        "EvaluationRecorded",
        "RecordCorrected",
    ]
    measured = world.service.get_contract(AUDITOR, world.contract_id).measurements[0]
    assert measured.value == Decimal("6.4")
