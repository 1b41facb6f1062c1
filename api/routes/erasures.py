"""For privacy officers: erasing personal data from the record (AVG/GDPR art. 17) without
breaking the chain (application/erasure.py, docs/PRIVACY.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field, model_validator

from api.deps import ContractsDep
from api.responses import COMMAND_ERRORS, Out
from api.schemas import MAX_COUNT, Body, LongText, Text
from api.security import CurrentPrincipal

router = APIRouter(prefix="/erasures", tags=["privacy"])


class RecordRef(Body):
    contract_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="The contract")]
    version: Annotated[int, Field(ge=1, le=MAX_COUNT, description="The record's version")]


class ErasureCreate(Body):
    """Either `subject` (a person's stable id, the `sub` they act under: their name in every
    contract your organisation commissions) or `recordRef` (every personal text of one
    record), with the reason and the legal basis."""

    subject: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    record_ref: RecordRef | None = None
    reason: LongText
    legal_basis: Annotated[Text, Field(examples=["AVG art. 17 lid 1 onder a"])]

    @model_validator(mode="after")
    def _one_target(self) -> ErasureCreate:
        if (self.subject is None) == (self.record_ref is None):
            raise ValueError("name either a subject or a recordRef")
        return self


class ErasureDoneOut(Out):
    contract_id: str
    erasure_id: str
    #: the contract's version that records the erasure (a PersonalDataErased event)
    version: int
    keys_destroyed: int


class ErasuresOut(Out):
    erasures: list[ErasureDoneOut]


@router.post(
    "",
    status_code=201,
    response_model=ErasuresOut,
    summary="Erase a person's or a record's personal data (privacy officer of the commissioner)",
    description="Destroys the keys that seal the texts and records a PersonalDataErased event "
    "per contract naming only the keys, the reason and the legal basis. The texts read "
    "`[gewist]` from then on, everywhere; the hash chain, the transparency log and exported "
    "evidence keep verifying. Only a privacy officer of the contract's commissioner may erase; "
    "a subject is erased in every contract of that organisation. 409 nothing-to-erase when "
    "nothing of it is left.",
    responses=COMMAND_ERRORS,
)
def create_erasure(
    body: ErasureCreate, principal: CurrentPrincipal, contracts: ContractsDep
) -> JSONResponse:
    record = (
        (body.record_ref.contract_id, body.record_ref.version)
        if body.record_ref is not None
        else None
    )
    done = contracts.erase(
        principal,
        reason=body.reason,
        legal_basis=body.legal_basis,
        subject=body.subject,
        record=record,
    )
    out = ErasuresOut(
        erasures=[
            ErasureDoneOut(
                contract_id=d.contract_id,
                erasure_id=d.erasure_id,
                version=d.version,
                keys_destroyed=d.keys_destroyed,
            )
            for d in done
        ]
    )
    return JSONResponse(out.model_dump(by_alias=True), status_code=201)
