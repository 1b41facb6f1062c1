"""Indicators: the dashboard, and measurements of the indicator version in force."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import Command, ContractId, ContractsDep, CurrentPrincipal, IndicatorId
from api.http import contract_headers
from api.responses import COMMAND_ERRORS, READ_ERRORS, IndicatorOut, IndicatorPage
from api.schemas import MeasurementCreate
from application.commands import RecordMeasurement
from application.views import IndicatorHistoryData, MeasurementData, View

router = APIRouter(prefix="/contracts/{contractId}/indicators", tags=["indicators"])


@router.get(
    "",
    response_model=IndicatorPage,
    summary="The indicator dashboard: baseline, target, latest measurement, on or off track",
    description="`onTrack` compares the latest measurement with the straight line from baseline "
    "to target at the end of the measured period; null when there is nothing to compare.",
    responses=READ_ERRORS,
)
def indicator_dashboard(
    contract_id: ContractId, principal: CurrentPrincipal, contracts: ContractsDep
) -> Response:
    dashboard = contracts.indicator_dashboard(principal, contract_id)
    page = IndicatorPage(items=[IndicatorOut.of(row) for row in dashboard.body])
    return JSONResponse(
        page.model_dump(mode="json", by_alias=True),
        headers=contract_headers(dashboard.version, dashboard.head_digest),
    )


@router.get(
    "/{indicatorId}/history",
    response_model=IndicatorHistoryData,
    summary="Every version of an indicator, with who proposed and consented, when, in which "
    "session, and why",
    description="Versions oldest first; a retirement is the last entry (`change: retired`). "
    "Read from the events in one call.",
    responses=READ_ERRORS,
)
def indicator_history(
    contract_id: ContractId,
    indicator_id: IndicatorId,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
) -> Response:
    found = contracts.indicator_history(principal, contract_id, indicator_id)
    return Response(
        found.body.model_dump_json(by_alias=True).encode(),
        media_type="application/json",
        headers=contract_headers(found.version, found.head_digest),
    )


@router.post(
    "/{indicatorId}/measurements",
    status_code=201,
    response_model=MeasurementData,
    summary="Record a measurement of the indicator version in force",
    responses=COMMAND_ERRORS,
)
def record_measurement(
    contract_id: ContractId, indicator_id: IndicatorId, body: MeasurementCreate, command: Command
) -> Response:
    record = RecordMeasurement(
        contract_id,
        indicator_id=indicator_id,
        period=body.period.value(),
        value=Decimal(body.value),
        source=body.source,
        indicator_version=body.indicator_version,
    )
    return command.run(record, View.MEASUREMENT, status=201)
