"""An indicator's progress as a chart drawn on the server: the numbers and their places in an
inline SVG (no JavaScript), which the template draws and repeats in a table beside it. The look
comes from classes in static/pages.css (the CSP allows no inline style); baseline and target
differ by dash as well as colour, and every number is written as text, not only drawn."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from application import dutch
from application.views import IndicatorData, MeasurementData

#: The drawing's own coordinates (the SVG scales to the width it gets).
WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 168, 28, 52
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
#: Room between the vertical axis (or the right end) and the first (or last) point.
INSET = 32
#: At most this many period labels under the axis (the table has them all).
MAX_PERIOD_LABELS = 8
#: Reference labels closer than this (in drawing units) are moved apart.
LABEL_GAP = 16


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    #: where the value is written, just above the point
    label_y: float
    #: the measured value as the page writes it (the table writes the same)
    value: str
    #: the period's end, short, under the axis (None: left out to make room)
    label: str | None


@dataclass(frozen=True)
class Reference:
    """A horizontal line: the baseline or the target."""

    name: str
    value: str
    on: date
    y: float
    label_y: float


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class IndicatorChart:
    key: str
    indicator: IndicatorData
    measurements: list[MeasurementData]
    points: list[Point]
    polyline: str
    baseline: Reference | None
    target: Reference | None
    ticks: list[Tick]
    title: str
    description: str
    #: how far the latest measurement is on the way from baseline to target, in whole percents
    progress: int | None
    progress_text: str

    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = LEFT + PLOT_WIDTH
    top: int = TOP
    bottom_edge: int = TOP + PLOT_HEIGHT


def number(value: Decimal) -> str:
    """A number as every public page writes it: decimal comma, as recorded."""
    return dutch.number(value)


def short_day(value: date) -> str:
    return f"{value.day}-{value.month}-{value.year}"


def _plain(value: Decimal) -> str:
    """A tick's value without exponent or trailing zeros: 2.50 → 2,5; 1E+1 → 10."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return dutch.number(text or "0")


def _scale(values: list[Decimal]) -> tuple[Decimal, Decimal, list[Decimal]]:
    """A round range around the values and the ticks that divide it (about four steps)."""
    low, high = min(values), max(values)
    if low == high:
        low, high = low - 1, high + 1
    # Room above and below, so no point or its value sits on the frame.
    pad = (high - low) / 10
    low, high = low - pad, high + pad
    raw = (high - low) / 4
    magnitude = Decimal(10) ** raw.adjusted()
    step = next(
        m * magnitude
        for m in (Decimal(1), Decimal(2), Decimal(5), Decimal(10))
        if m * magnitude >= raw
    )
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    ticks = []
    tick = first
    while tick <= last:
        ticks.append(tick)
        tick += step
    return first, last, ticks


def _progress(indicator: IndicatorData, latest: MeasurementData | None) -> tuple[int | None, str]:
    baseline, target = indicator.baseline, indicator.target
    if latest is None:
        return None, "Er is nog niet gemeten."
    if baseline is None or target is None or baseline.value == target.value:
        return None, f"De laatste meting is {number(latest.value)} {indicator.unit}."
    share = (latest.value - baseline.value) / (target.value - baseline.value) * 100
    percent = int(share.to_integral_value())
    if percent >= 100:
        return percent, "De streefwaarde is gehaald."
    if percent < 0:
        return percent, "De laatste meting is slechter dan de nulmeting."
    return percent, (
        f"De laatste meting is {percent}% van de weg van de nulmeting naar de streefwaarde."
    )


def indicator_chart(
    indicator: IndicatorData, measurements: list[MeasurementData]
) -> IndicatorChart:
    """The chart of one indicator: its measurements (every version, oldest period first)
    against the baseline and target of the version in force."""
    series = sorted(
        (m for m in measurements if m.indicator_id == indicator.indicator_id),
        key=lambda m: (m.period.end, m.period.start),
    )
    baseline, target = indicator.baseline, indicator.target
    values = [m.value for m in series]
    values += [r.value for r in (baseline, target) if r is not None]
    low, high, ticks = _scale(values or [Decimal(0)])

    def y(value: Decimal) -> float:
        return round(TOP + float((high - value) / (high - low)) * PLOT_HEIGHT, 1)

    count = len(series)
    every = max(1, math.ceil(count / MAX_PERIOD_LABELS))
    points = [
        Point(
            x=round(
                LEFT + INSET + (0.5 if count == 1 else i / (count - 1)) * (PLOT_WIDTH - 2 * INSET),
                1,
            ),
            y=y(m.value),
            label_y=round(y(m.value) - 10, 1),
            value=number(m.value),
            label=short_day(m.period.end) if (count - 1 - i) % every == 0 else None,
        )
        for i, m in enumerate(series)
    ]
    base_y = y(baseline.value) if baseline else None
    target_y = y(target.value) if target else None
    base_label, target_label = base_y, target_y
    if base_y is not None and target_y is not None and abs(base_y - target_y) < LABEL_GAP:
        middle = (base_y + target_y) / 2
        upper, lower = middle - LABEL_GAP / 2, middle + LABEL_GAP / 2
        # The higher value's label goes above.
        base_label, target_label = (upper, lower) if base_y <= target_y else (lower, upper)
    unit = indicator.unit
    title = f"{indicator.name}: metingen tegen nulmeting en streefwaarde"
    parts = [f"Lijngrafiek van {indicator.name} in {unit}."]
    if series:
        parts.append(
            f"{count} {'meting' if count == 1 else 'metingen'}, van "
            f"{dutch.day(series[0].period.end)} tot {dutch.day(series[-1].period.end)}: "
            + ", ".join(number(m.value) for m in series)
            + "."
        )
    else:
        parts.append("Nog geen metingen.")
    if baseline:
        parts.append(f"Nulmeting {number(baseline.value)}.")
    if target:
        parts.append(f"Streefwaarde {number(target.value)} op {dutch.day(target.due_on)}.")
    progress, progress_text = _progress(indicator, series[-1] if series else None)
    return IndicatorChart(
        key=f"grafiek-{indicator.indicator_id}",
        indicator=indicator,
        measurements=series,
        points=points,
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        baseline=(
            Reference("Nulmeting", number(baseline.value), baseline.measured_on, base_y, base_label)
            if baseline and base_y is not None and base_label is not None
            else None
        ),
        target=(
            Reference("Streefwaarde", number(target.value), target.due_on, target_y, target_label)
            if target and target_y is not None and target_label is not None
            else None
        ),
        ticks=[Tick(y(t), _plain(t)) for t in ticks],
        title=title,
        description=" ".join(parts),
        progress=progress,
        progress_text=progress_text,
    )
