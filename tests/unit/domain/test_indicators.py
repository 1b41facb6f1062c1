"""Indicators and measurements (rule 6): agreed definitions are versioned, never edited; each
measurement binds to the version in force; a target needs a baseline."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain import errors
from domain.events import ConsentGiven, MeasurementRecorded, ProposalAgreed, ProposalSubmitted
from domain.goals import ChangeAction
from domain.indicators import Baseline, Direction, IndicatorChange, Target
from domain.values import Period
from tests.support.builders import (
    COMMISSIONER,
    OUTSIDER,
    PROVIDER_A,
    active_contract,
    agreed,
    assert_rejected,
    given,
    goal_chain,
    indicator_added,
    new_indicator,
    proposed,
    terminated,
    then_events,
)

Q2 = Period(date(2025, 4, 1), date(2025, 6, 30))


def _submit(scene, change, by=COMMISSIONER):
    return scene.c.submit_proposal(
        actor=by, session_id=scene["s1"], change=change, rationale="indicator work"
    )


# add ----------------------------------------------------------------------------------------


def test_an_agreed_indicator_starts_at_version_one_and_remembers_its_session():
    scene = given(*active_contract(), *goal_chain())
    change = new_indicator(result_id=scene["result"])

    proposal_id = _submit(scene, change)
    (submitted,) = then_events(scene.c, ProposalSubmitted)
    indicator_id = submitted.change.indicator_id
    assert submitted.kind == "indicator"
    assert indicator_id and indicator_id not in scene.c.indicators

    scene.c.give_consent(actor=PROVIDER_A, proposal_id=proposal_id)

    _, agreement = then_events(scene.c, ConsentGiven, ProposalAgreed)
    assert agreement.change.indicator_id == indicator_id
    indicator = scene.c.indicators[indicator_id]
    assert indicator.version == 1
    assert indicator.name == "Zelfredzaamheid"
    assert indicator.direction == Direction.HIGHER_IS_BETTER
    assert indicator.baseline == change.baseline
    assert indicator.target == change.target
    assert indicator.result_id == scene["result"]
    assert indicator.agreed_in_session == scene["s1"]
    assert indicator.active and indicator.superseded == []


def test_an_indicator_without_target_needs_no_baseline():
    scene = given(*active_contract())
    agreed("p", new_indicator(baseline=None, target=None))(scene)
    (indicator,) = scene.c.indicators.values()
    assert indicator.baseline is None and indicator.target is None


def test_a_target_without_a_baseline_is_refused():
    scene = given(*active_contract())
    error = assert_rejected(
        scene.c, errors.TargetNeedsBaseline, lambda: _submit(scene, new_indicator(baseline=None))
    )
    assert error.code == "target-needs-baseline"


@pytest.mark.parametrize(
    "missing", ["name", "definition", "unit", "direction", "frequency", "data_source"]
)
def test_a_new_indicator_needs_its_whole_definition(missing):
    scene = given(*active_contract())
    change = new_indicator(**{missing: None})
    assert_rejected(scene.c, errors.InvalidValue, lambda: _submit(scene, change))
    blank = new_indicator(**{missing: " "}) if missing != "direction" else change
    assert_rejected(scene.c, errors.InvalidValue, lambda: _submit(scene, blank))


def test_an_indicator_measures_an_active_result_only():
    scene = given(*active_contract(), *goal_chain())
    for node in ("effect", "performance"):
        assert_rejected(
            scene.c,
            errors.UnknownGoal,
            lambda node=node: _submit(scene, new_indicator(result_id=scene[node])),
        )
    assert_rejected(
        scene.c, errors.UnknownGoal, lambda: _submit(scene, new_indicator(result_id="nope"))
    )


def test_an_unknown_direction_is_refused_before_anything_is_recorded():
    """BUG (domain/indicators.py check_indicator_change): a direction that is no `Direction`
    passes the check, and `apply_indicator_change` raises ValueError while applying
    ProposalAgreed — after ConsentGiven was already recorded and the proposal marked agreed."""
    scene = given(*active_contract())
    change = new_indicator(direction="sideways")
    assert_rejected(scene.c, errors.InvalidValue, lambda: _submit(scene, change))


# revise -------------------------------------------------------------------------------------


def test_a_revision_makes_a_new_version_and_keeps_the_old_one():
    scene = given(*active_contract(), indicator_added("kpi"))
    new_target = Target(Decimal("75"), date(2028, 6, 30))
    change = IndicatorChange(
        action=ChangeAction.REVISE, indicator_id=scene["kpi"], target=new_target
    )

    agreed("revise", change, by=PROVIDER_A)(scene)

    _, _, agreement = then_events(scene.c, ProposalSubmitted, ConsentGiven, ProposalAgreed)
    assert agreement.change == change
    indicator = scene.c.indicators[scene["kpi"]]
    assert indicator.version == 2
    assert indicator.target == new_target
    assert indicator.baseline == new_indicator().baseline  # kept from version 1
    (version_1,) = indicator.superseded
    assert version_1.version == 1
    assert version_1.target == new_indicator().target
    assert version_1.superseded == []


def test_a_revision_may_set_a_target_on_an_indicator_that_has_a_baseline():
    scene = given(*active_contract(), indicator_added("kpi", target=None))
    change = IndicatorChange(
        action=ChangeAction.REVISE,
        indicator_id=scene["kpi"],
        target=Target(Decimal("70"), date(2027, 1, 1)),
    )
    agreed("p", change)(scene)
    assert scene.c.indicators[scene["kpi"]].target is not None


def test_a_revision_that_adds_a_target_without_any_baseline_is_refused():
    scene = given(*active_contract(), indicator_added("kpi", target=None, baseline=None))
    change = IndicatorChange(
        action=ChangeAction.REVISE,
        indicator_id=scene["kpi"],
        target=Target(Decimal("70"), date(2027, 1, 1)),
    )
    assert_rejected(scene.c, errors.TargetNeedsBaseline, lambda: _submit(scene, change))
    with_baseline = IndicatorChange(
        action=ChangeAction.REVISE,
        indicator_id=scene["kpi"],
        baseline=Baseline(Decimal("50"), date(2025, 1, 1), "intake"),
        target=Target(Decimal("70"), date(2027, 1, 1)),
    )
    _submit(scene, with_baseline)


def test_a_revision_cannot_blank_a_field():
    scene = given(*active_contract(), indicator_added("kpi"))
    change = IndicatorChange(action=ChangeAction.REVISE, indicator_id=scene["kpi"], unit=" ")
    assert_rejected(scene.c, errors.InvalidValue, lambda: _submit(scene, change))


@pytest.mark.parametrize("action", [ChangeAction.REVISE, ChangeAction.RETIRE])
def test_changing_an_unknown_indicator_is_refused(action):
    scene = given(*active_contract())
    change = IndicatorChange(action=action, indicator_id="nope")
    error = assert_rejected(scene.c, errors.UnknownIndicator, lambda: _submit(scene, change))
    assert error.code == "unknown-indicator"


# retire -------------------------------------------------------------------------------------


def test_retiring_an_indicator_stops_measurements_and_changes():
    scene = given(*active_contract(), indicator_added("kpi"))
    agreed("retire", IndicatorChange(action=ChangeAction.RETIRE, indicator_id=scene["kpi"]))(scene)
    then_events(scene.c, ProposalSubmitted, ConsentGiven, ProposalAgreed)
    assert scene.c.indicators[scene["kpi"]].active is False

    for action in (ChangeAction.REVISE, ChangeAction.RETIRE):
        change = IndicatorChange(action=action, indicator_id=scene["kpi"], name="x")
        error = assert_rejected(
            scene.c, errors.IndicatorRetired, lambda c=change: _submit(scene, c)
        )
        assert error.code == "indicator-retired"
    assert_rejected(
        scene.c,
        errors.IndicatorRetired,
        lambda: scene.c.record_measurement(
            actor=PROVIDER_A, indicator_id=scene["kpi"], period=Q2, value="1", source="s"
        ),
    )


# record_measurement -------------------------------------------------------------------------


def test_a_measurement_binds_to_the_version_in_force():
    scene = given(*active_contract(), indicator_added("kpi"))

    measurement_id = scene.c.record_measurement(
        actor=PROVIDER_A, indicator_id=scene["kpi"], period=Q2, value="63.25", source="ZRM Q2"
    )

    (event,) = then_events(scene.c, MeasurementRecorded)
    assert event.measurement_id == measurement_id
    assert event.indicator_version == 1
    assert event.value == Decimal("63.25")
    assert event.effective_on == Q2.end
    assert event.period == Q2
    measurement = scene.c.measurements[measurement_id]
    assert measurement.value == Decimal("63.25")
    assert measurement.recorded_version == event.originator_version
    assert scene.c.correctable[str(event.originator_version)] == ["measurement", measurement_id]


def test_a_measurement_of_a_superseded_version_is_refused():
    scene = given(*active_contract(), indicator_added("kpi"))
    agreed(
        "revise",
        IndicatorChange(
            action=ChangeAction.REVISE,
            indicator_id=scene["kpi"],
            frequency="monthly",
            effective_on=Q2.start,
        ),
    )(scene)
    scene.c.collect_events()

    error = assert_rejected(
        scene.c,
        errors.IndicatorVersionSuperseded,
        lambda: scene.c.record_measurement(
            actor=PROVIDER_A,
            indicator_id=scene["kpi"],
            period=Q2,
            value="1",
            source="s",
            indicator_version=1,
        ),
    )
    assert error.code == "indicator-version-superseded"
    scene.c.record_measurement(
        actor=PROVIDER_A,
        indicator_id=scene["kpi"],
        period=Q2,
        value="1",
        source="s",
        indicator_version=2,
    )
    (event,) = then_events(scene.c, MeasurementRecorded)
    assert event.indicator_version == 2


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", 1.5, True, None])
def test_a_measurement_value_is_a_finite_decimal(value):
    scene = given(*active_contract(), indicator_added("kpi"))
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.record_measurement(
            actor=PROVIDER_A, indicator_id=scene["kpi"], period=Q2, value=value, source="s"
        ),
    )


def test_measurement_refusals():
    scene = given(*active_contract(), indicator_added("kpi"))
    assert_rejected(
        scene.c,
        errors.UnknownIndicator,
        lambda: scene.c.record_measurement(
            actor=PROVIDER_A, indicator_id="nope", period=Q2, value="1", source="s"
        ),
    )
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.record_measurement(
            actor=PROVIDER_A, indicator_id=scene["kpi"], period=Q2, value="1", source=" "
        ),
    )
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.record_measurement(
            actor=OUTSIDER, indicator_id=scene["kpi"], period=Q2, value="1", source="s"
        ),
    )
    terminated()(scene)
    assert_rejected(
        scene.c,
        errors.ContractClosed,
        lambda: scene.c.record_measurement(
            actor=PROVIDER_A, indicator_id=scene["kpi"], period=Q2, value="1", source="s"
        ),
    )


def test_an_indicator_proposal_is_rechecked_at_the_last_consent():
    """Retired while a revision was open: the revision's last consent is refused."""
    scene = given(*active_contract(), indicator_added("kpi"))
    proposed(
        "revise",
        IndicatorChange(action=ChangeAction.REVISE, indicator_id=scene["kpi"], unit="‰"),
    )(scene)
    agreed("retire", IndicatorChange(action=ChangeAction.RETIRE, indicator_id=scene["kpi"]))(scene)
    scene.c.collect_events()
    assert_rejected(
        scene.c,
        errors.IndicatorRetired,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["revise"]),
    )
