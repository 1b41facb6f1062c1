"""Indicators and their measurements. An agreed definition is never edited: a change makes a
new version, and each measurement binds to the version in force."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain.errors import (
    IndicatorRetired,
    IndicatorVersionSuperseded,
    InvalidValue,
    TargetNeedsBaseline,
    UnknownGoal,
    UnknownIndicator,
)
from domain.goals import ChangeAction, GoalLevel, GoalNode
from domain.values import OMITTED_AT_DEFAULT, Period


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


@dataclass(frozen=True)
class Baseline:
    value: Decimal
    measured_on: date
    source: str


@dataclass(frozen=True)
class Target:
    value: Decimal
    due_on: date


@dataclass(frozen=True)
class IndicatorChange:
    """A proposed indicator: add, revise (a new version) or retire.

    `indicator_id` is assigned when an addition is proposed. On a revision, fields left `None`
    keep the value of the version in force."""

    action: ChangeAction
    indicator_id: str | None = None
    name: str | None = None
    definition: str | None = None
    unit: str | None = None
    direction: Direction | None = None
    baseline: Baseline | None = None
    target: Target | None = None
    frequency: str | None = None
    data_source: str | None = None
    result_id: str | None = None
    #: the day the change takes effect once agreed (None: the day it is agreed)
    effective_on: date | None = field(default=None, metadata=OMITTED_AT_DEFAULT)


@dataclass
class Indicator:
    indicator_id: str
    version: int
    name: str
    definition: str
    unit: str
    direction: Direction
    baseline: Baseline | None
    target: Target | None
    frequency: str
    data_source: str
    result_id: str | None
    active: bool = True
    agreed_in_session: str | None = None
    #: earlier versions, oldest first, so that a measurement's version can be read back
    superseded: list[Indicator] = field(default_factory=list)


@dataclass
class Measurement:
    measurement_id: str
    indicator_id: str
    indicator_version: int
    period: Period
    value: Decimal
    source: str
    recorded_version: int


def check_indicator_change(
    indicators: dict[str, Indicator], goals: dict[str, GoalNode], change: IndicatorChange
) -> None:
    if change.action == ChangeAction.ADD:
        for name in ("name", "definition", "unit", "direction", "frequency", "data_source"):
            value = getattr(change, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise InvalidValue(
                    f"a new indicator needs a {name.replace('_', ' ')}", field=f"change.{name}"
                )
        if change.target is not None and change.baseline is None:
            raise TargetNeedsBaseline("agree a baseline together with the target")
        _check_direction(change.direction)
    else:
        current = indicators.get(change.indicator_id or "")
        if current is None:
            raise UnknownIndicator(f"indicator {change.indicator_id!r} is not on this contract")
        if not current.active:
            raise IndicatorRetired(f"indicator {current.name!r} has been retired")
        if change.action == ChangeAction.REVISE:
            if change.direction is not None:
                _check_direction(change.direction)
            if change.target is not None and change.baseline is None and current.baseline is None:
                raise TargetNeedsBaseline(f"indicator {current.name!r} has no baseline yet")
            for name in ("name", "definition", "unit", "frequency", "data_source"):
                value = getattr(change, name)
                if value is not None and not value.strip():
                    raise InvalidValue(
                        f"an indicator's {name.replace('_', ' ')} cannot be empty",
                        field=f"change.{name}",
                    )
    if change.result_id is not None:
        result = goals.get(change.result_id)
        if result is None or not result.active or result.level != GoalLevel.RESULT:
            raise UnknownGoal(f"{change.result_id!r} is not an active result of the goal chain")


def apply_indicator_change(
    indicators: dict[str, Indicator], change: IndicatorChange, session_id: str | None
) -> None:
    indicator_id = str(change.indicator_id)
    if change.action == ChangeAction.ADD:
        indicators[indicator_id] = Indicator(
            indicator_id=indicator_id,
            version=1,
            name=change.name or "",
            definition=change.definition or "",
            unit=change.unit or "",
            direction=Direction(change.direction or Direction.HIGHER_IS_BETTER),
            baseline=change.baseline,
            target=change.target,
            frequency=change.frequency or "",
            data_source=change.data_source or "",
            result_id=change.result_id,
            agreed_in_session=session_id,
        )
        return
    current = indicators.get(indicator_id)
    if current is None:  # absent only from a partial view of a history older than the timeline
        return
    if change.action == ChangeAction.RETIRE:
        current.active = False
        return
    previous = Indicator(**{**vars(current), "superseded": []})
    current.superseded.append(previous)
    current.version += 1
    current.agreed_in_session = session_id
    for name in (
        "name",
        "definition",
        "unit",
        "direction",
        "baseline",
        "target",
        "frequency",
        "data_source",
        "result_id",
    ):
        value = getattr(change, name)
        if value is not None:
            setattr(current, name, value)


def check_measurement(
    indicators: dict[str, Indicator], indicator_id: str, version: int | None
) -> Indicator:
    indicator = indicators.get(indicator_id)
    if indicator is None:
        raise UnknownIndicator(f"indicator {indicator_id!r} is not on this contract")
    if not indicator.active:
        raise IndicatorRetired(f"indicator {indicator.name!r} has been retired")
    if version is not None and version != indicator.version:
        raise IndicatorVersionSuperseded(
            f"indicator {indicator.name!r} is at version {indicator.version}, not {version}"
        )
    return indicator


def on_track(indicator: Indicator, latest: Measurement | None) -> bool | None:
    """Is the latest measurement at least as good as the straight line from baseline to target
    says it should be by the end of its period? None when there is nothing to compare."""
    baseline, target = indicator.baseline, indicator.target
    if latest is None or baseline is None or target is None:
        return None
    span = (target.due_on - baseline.measured_on).days
    elapsed = (latest.period.end - baseline.measured_on).days
    share = Decimal(1) if span <= 0 else Decimal(min(max(elapsed, 0), span)) / Decimal(span)
    expected = baseline.value + (target.value - baseline.value) * share
    if indicator.direction == Direction.LOWER_IS_BETTER:
        return latest.value <= expected
    return latest.value >= expected


def _check_direction(direction: object) -> None:
    try:
        Direction(direction)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidValue(f"{direction!r} is not a direction", field="change.direction") from None
