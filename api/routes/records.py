"""What the parties record beside the dialogue: residents consulted, evaluations held, and
corrections of records that were wrong (a correction is a new event; nothing is edited)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId
from api.responses import COMMAND_ERRORS
from api.schemas import ConsultationCreate, CorrectionCreate, EvaluationCreate
from application.commands import ConsultResidents, CorrectRecord, RecordEvaluation
from application.views import ConsultationData, CorrectionData, EvaluationData, View

router = APIRouter(prefix="/contracts/{contractId}", tags=["contracts"])


@router.post(
    "/consultations",
    status_code=201,
    response_model=ConsultationData,
    summary="Record that residents were consulted, and what came of it",
    description="Takes effect on the day of the consultation. Any party may record one.",
    responses=COMMAND_ERRORS,
    operation_id="consultResidents",
)
def consult_residents(
    contract_id: ContractId, body: ConsultationCreate, command: Command
) -> Response:
    consult = ConsultResidents(
        contract_id,
        held_on=body.held_on,
        method=body.method,
        summary=body.summary,
        participants_count=body.participants_count,
    )
    return command.run(consult, View.CONSULTATION, status=201)


@router.post(
    "/evaluations",
    status_code=201,
    response_model=EvaluationData,
    summary="Record an evaluation of the contract and its conclusions",
    description="Takes effect on the day of the evaluation. Any party may record one.",
    responses=COMMAND_ERRORS,
    operation_id="recordEvaluation",
)
def record_evaluation(
    contract_id: ContractId, body: EvaluationCreate, command: Command
) -> Response:
    evaluate = RecordEvaluation(
        contract_id, held_on=body.held_on, summary=body.summary, conclusions=body.conclusions
    )
    return command.run(evaluate, View.EVALUATION, status=201)


@router.post(
    "/corrections",
    status_code=201,
    response_model=CorrectionData,
    summary="Correct a mistaken record (session, measurement, publication, consultation, "
    "evaluation)",
    description="Names the version that recorded the mistake and the corrected fields. The "
    "record then shows the corrected values; the history keeps both the mistake and the "
    "correction, with its reason.",
    responses=COMMAND_ERRORS,
    operation_id="correctRecord",
)
def correct_record(contract_id: ContractId, body: CorrectionCreate, command: Command) -> Response:
    correct = CorrectRecord(
        contract_id,
        effective_on=body.effective_on,
        corrects_version=body.corrects_version,
        corrections=body.corrections_value(),
        reason=body.reason,
    )
    return command.run(correct, View.CORRECTION, status=201)
