"""The server-drawn indicator chart (api/pages/charts.py) on the edges: one measurement, none,
no baseline or target, equal values, negative and tiny values, many periods, baseline and
target close together. Every case draws inside the frame and writes plain Dutch numbers."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from api.pages.charts import HEIGHT, MAX_PERIOD_LABELS, WIDTH, indicator_chart
from application.views import (
    BaselineData,
    IndicatorData,
    MeasurementData,
    PeriodData,
    TargetData,
)

START = date(2025, 1, 1)


def indicator(baseline: str | None = "60", target: str | None = "90") -> IndicatorData:
    return IndicatorData(
        indicator_id="a" * 32,
        version=1,
        name="Bereik",
        definition="Aandeel bereikt",
        unit="%",
        direction="higher_is_better",
        baseline=BaselineData(value=Decimal(baseline), measured_on=START, source="x")
        if baseline is not None
        else None,
        target=TargetData(value=Decimal(target), due_on=date(2026, 12, 31))
        if target is not None
        else None,
        frequency="quarterly",
        data_source="x",
        result_id=None,
        status="active",
    )


def measured(*values: str) -> list[MeasurementData]:
    return [
        MeasurementData(
            measurement_id=str(n),
            indicator_id="a" * 32,
            indicator_version=1,
            period=PeriodData(
                start=START + timedelta(days=30 * n), end=START + timedelta(days=30 * n + 29)
            ),
            value=Decimal(value),
            source="x",
        )
        for n, value in enumerate(values)
    ]


def inside(chart) -> bool:  # type: ignore[no-untyped-def]
    ys = [p.y for p in chart.points] + [t.y for t in chart.ticks]
    ys += [r.y for r in (chart.baseline, chart.target) if r]
    xs = [p.x for p in chart.points]
    return all(0 <= y <= HEIGHT for y in ys) and all(0 <= x <= WIDTH for x in xs)


@pytest.mark.parametrize(
    ("baseline", "target", "values"),
    [
        ("60", "90", ["75"]),
        ("60", "90", []),
        (None, None, ["3", "3", "3"]),
        ("5", "5", ["5"]),
        ("-2.5", "1", ["-3", "0", "0.5"]),
        ("0.0001", "0.0003", ["0.0002"]),
        ("1000000", "2500000", ["1200000", "1900000"]),
    ],
)
def test_every_chart_stays_inside_its_frame(
    baseline: str | None, target: str | None, values: list[str]
) -> None:
    chart = indicator_chart(indicator(baseline, target), measured(*values))
    assert inside(chart)
    assert [p.value for p in chart.points] == [v.replace(".", ",") for v in values]
    assert all("E" not in t.label and "." not in t.label for t in chart.ticks)
    assert len(chart.ticks) >= 2


def test_higher_values_are_drawn_higher_and_periods_left_to_right() -> None:
    chart = indicator_chart(indicator(), measured("70", "65", "80"))
    ys = [p.y for p in chart.points]
    assert ys[2] < ys[0] < ys[1]
    assert [p.x for p in chart.points] == sorted(p.x for p in chart.points)
    assert chart.target and chart.baseline and chart.target.y < chart.baseline.y


def test_many_periods_keep_the_labels_readable_but_every_value() -> None:
    chart = indicator_chart(indicator(), measured(*[str(60 + n) for n in range(30)]))
    labelled = [p for p in chart.points if p.label]
    assert len(labelled) <= MAX_PERIOD_LABELS and chart.points[-1].label
    assert len(chart.points) == 30 and "89" in chart.description


def test_close_baseline_and_target_labels_do_not_overlap() -> None:
    chart = indicator_chart(indicator("50", "50.5"), measured("10", "100"))
    assert chart.baseline and chart.target
    assert abs(chart.baseline.label_y - chart.target.label_y) >= 16
    assert chart.target.label_y < chart.baseline.label_y  # the higher value's label above


@pytest.mark.parametrize(
    ("values", "percent", "text"),
    [
        (["75"], 50, "50% van de weg"),
        (["95"], 117, "De streefwaarde is gehaald."),
        (["50"], -33, "slechter dan de nulmeting"),
        ([], None, "Er is nog niet gemeten."),
    ],
)
def test_progress_from_baseline_to_target(
    values: list[str], percent: int | None, text: str
) -> None:
    chart = indicator_chart(indicator(), measured(*values))
    assert chart.progress == percent
    assert text in chart.progress_text
