"""An indicator is on track when its latest measurement is at least as good as the straight line
from baseline to target says it should be by the end of the measured period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.indicators import Baseline, Direction, Indicator, Measurement, Target, on_track
from domain.values import Period

BASELINE = Baseline(Decimal("40"), date(2025, 1, 1), "CBS")
TARGET = Target(Decimal("60"), date(2025, 12, 31))  # 364 days after the baseline
HALFWAY = date(2025, 7, 2)  # 182 days: the line expects 50


def indicator(
    direction: Direction = Direction.HIGHER_IS_BETTER,
    baseline: Baseline | None = BASELINE,
    target: Target | None = TARGET,
) -> Indicator:
    return Indicator(
        indicator_id="kpi",
        version=1,
        name="Participation",
        definition="share of residents taking part",
        unit="%",
        direction=direction,
        baseline=baseline,
        target=target,
        frequency="quarterly",
        data_source="CBS",
        result_id=None,
    )


def measured(value: str, period_end: date = HALFWAY) -> Measurement:
    return Measurement(
        measurement_id="m",
        indicator_id="kpi",
        indicator_version=1,
        period=Period(min(date(2025, 1, 1), period_end), period_end),
        value=Decimal(value),
        source="CBS",
        recorded_version=5,
    )


@pytest.mark.parametrize(("value", "expected"), [("50", True), ("50.01", True), ("49.99", False)])
def test_higher_is_better_compares_with_the_line_at_the_end_of_the_period(value, expected):
    assert on_track(indicator(), measured(value)) is expected


@pytest.mark.parametrize(("value", "expected"), [("35", True), ("34", True), ("35.01", False)])
def test_lower_is_better_turns_the_comparison_round(value, expected):
    falling = indicator(Direction.LOWER_IS_BETTER, target=Target(Decimal("30"), TARGET.due_on))
    # from 40 down to 30: halfway the line expects 35
    assert on_track(falling, measured(value)) is expected


def test_before_the_baseline_the_baseline_counts_and_after_the_due_date_the_target():
    assert on_track(indicator(), measured("40", date(2024, 6, 30))) is True
    assert on_track(indicator(), measured("39", date(2024, 6, 30))) is False
    assert on_track(indicator(), measured("60", date(2027, 1, 1))) is True
    assert on_track(indicator(), measured("59.99", date(2027, 1, 1))) is False


def test_a_target_due_on_the_baseline_date_is_expected_at_once():
    same_day = Target(Decimal("60"), BASELINE.measured_on)
    assert on_track(indicator(target=same_day), measured("59")) is False
    assert on_track(indicator(target=same_day), measured("60")) is True


def test_nothing_to_compare_gives_no_verdict():
    assert on_track(indicator(), None) is None
    assert on_track(indicator(baseline=None, target=None), measured("50")) is None
    assert on_track(indicator(target=None), measured("50")) is None
