"""Response bodies that are the API's own (lists, dashboards, problems) and the error responses
each kind of operation declares in the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from application.read_models import ContractSummary, IndicatorRow

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class InvalidParam(Out):
    name: str
    reason: str


class Problem(Out):
    """RFC 9457 problem details; `type` ends in a stable code."""

    type: str = Field(examples=["https://dialoog.example/problems/ceiling-exceeded"])
    title: str
    status: int
    detail: str
    invalid_params: list[InvalidParam] | None = None


class ContractSummaryOut(Out):
    id: str
    reference: str
    title: str
    status: str
    commissioner: str
    providers: list[str]
    version: int
    updated_at: datetime
    head_digest: str

    @classmethod
    def of(cls, row: ContractSummary) -> ContractSummaryOut:
        return cls(
            id=row.contract_id,
            reference=row.reference,
            title=row.title,
            status=row.status,
            commissioner=row.commissioner,
            providers=list(row.providers),
            version=row.version,
            updated_at=row.updated_at,
            head_digest=row.head_digest,
        )


class ContractPage(Out):
    items: list[ContractSummaryOut]
    next_cursor: str | None


class BaselineOut(Out):
    value: Decimal
    measured_on: date


class TargetOut(Out):
    value: Decimal
    due_on: date


class LatestOut(Out):
    value: Decimal
    period_end: date


class IndicatorOut(Out):
    indicator_id: str
    name: str
    version: int
    unit: str
    direction: str
    status: str
    baseline: BaselineOut | None
    target: TargetOut | None
    latest: LatestOut | None
    on_track: bool | None

    @classmethod
    def of(cls, row: IndicatorRow) -> IndicatorOut:
        return cls(
            indicator_id=row.indicator_id,
            name=row.name,
            version=row.version,
            unit=row.unit,
            direction=row.direction,
            status="active" if row.active else "retired",
            baseline=BaselineOut(value=row.baseline_value, measured_on=row.baseline_measured_on)
            if row.baseline_value is not None and row.baseline_measured_on is not None
            else None,
            target=TargetOut(value=row.target_value, due_on=row.target_due_on)
            if row.target_value is not None and row.target_due_on is not None
            else None,
            latest=LatestOut(value=row.latest_value, period_end=row.latest_period_end)
            if row.latest_value is not None and row.latest_period_end is not None
            else None,
            on_track=row.on_track,
        )


class IndicatorPage(Out):
    items: list[IndicatorOut]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


_AUTH: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid bearer token"),
    403: _problem("Your role or organisation may not do this"),
    404: _problem("No such contract (or not one your organisation is party to)"),
    503: _problem("The event store is unavailable"),
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("Invalid query parameters"),
    **_AUTH,
}
COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("Invalid body, parameters or headers; see invalidParams"),
    **_AUTH,
    409: _problem("A rule of the contract refused the command; `type` names the rule"),
    412: _problem("If-Match names a version that is no longer the latest"),
    413: _problem("The body is larger than 1 MiB"),
    422: _problem("The Idempotency-Key was used before with a different body"),
}
