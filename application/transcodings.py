"""How domain values are written to and read from the event store.

The library's JSON transcoder knows UUID, Decimal and datetime; we add `date` and one
transcoding per value and state class, each stored as an object of its fields under the class
name. Enums are `StrEnum`s and travel as their value. Renaming a registered class or one of its
fields changes what is stored: add a new name instead (see docs/EVENTS.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain import goals, indicators, money, proposals, records, values
from domain.values import stored_fields


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """A value or state dataclass, stored as the object of its fields."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__name__

    def encode(self, obj: Any) -> dict[str, Any]:
        return stored_fields(obj)

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


STORED_CLASSES: tuple[type, ...] = (
    *values.VALUE_TYPES,
    goals.GoalChange,
    goals.GoalNode,
    indicators.Baseline,
    indicators.Target,
    indicators.IndicatorChange,
    indicators.Indicator,
    indicators.Measurement,
    money.Adjustment,
    money.FinancialFramework,
    money.ValuedChange,
    proposals.ScopeRefinement,
    proposals.ChangePackage,
    proposals.Proposal,
    records.Provider,
    records.AccessGrant,
    records.Stakeholder,
    records.Session,
    records.Publication,
    records.ResidentsConsultation,
    records.Evaluation,
    records.Correction,
)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    transcoder.register(DateAsISO())
    for cls in STORED_CLASSES:
        transcoder.register(DataclassAsDict(cls))
