"""The dialogue: sessions, proposals, and each party's consent, rejection or withdrawal."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import ContractId, ContractsDep, ProposalId
from api.http import Command, respond
from api.responses import COMMAND_ERRORS, READ_ERRORS
from api.schemas import ConsentCreate, ProposalCreate, ReasonBody, SessionCreate, change_of
from api.security import CurrentPrincipal
from application.dto import PROPOSAL_VIEW, SESSION_VIEW, ProposalData, SessionData, Viewed

router = APIRouter(prefix="/contracts/{contractId}", tags=["dialogue"])


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionData,
    summary="Record a dialogue session",
    description="Changes proposed later name this session (`sessionId`) as where they came from.",
    responses=COMMAND_ERRORS,
)
def hold_session(contract_id: ContractId, body: SessionCreate, command: Command) -> Response:
    return command.run(
        lambda **o: command.contracts.hold_session(
            command.principal,
            contract_id,
            held_on=body.held_on,
            kind=body.kind,
            participants=body.participants_value(),
            minutes_ref=body.minutes_ref,
            summary=body.summary,
            **o,
        ),
        SESSION_VIEW,
        status=201,
    )


@router.post(
    "/proposals",
    status_code=201,
    response_model=ProposalData,
    summary="Propose a change: scope refinement, goal, indicator or adjustment",
    description="The proposer's own party counts as consenting. The change takes effect when "
    "the commissioner and every active provider have consented.",
    responses=COMMAND_ERRORS,
)
def submit_proposal(contract_id: ContractId, body: ProposalCreate, command: Command) -> Response:
    return command.run(
        lambda **o: command.contracts.submit_proposal(
            command.principal,
            contract_id,
            session_id=body.session_id,
            change=change_of(body),
            rationale=body.rationale,
            **o,
        ),
        PROPOSAL_VIEW,
        status=201,
    )


@router.get(
    "/proposals/{proposalId}",
    response_model=ProposalData,
    summary="Read one proposal and whose consent it still awaits",
    responses=READ_ERRORS,
)
def get_proposal(
    contract_id: ContractId,
    proposal_id: ProposalId,
    principal: CurrentPrincipal,
    contracts: ContractsDep,
) -> Response:
    contract = contracts.get_contract(principal, contract_id)
    proposal = contracts.get_proposal(principal, contract_id, proposal_id)
    return respond(Viewed(contract.version, contract.head_digest, proposal))


@router.post(
    "/proposals/{proposalId}/consents",
    response_model=ProposalData,
    summary="Consent to a proposal for your own organisation",
    description="Once every party has consented the proposal is `agreed` and its change "
    "takes effect in the same save.",
    responses=COMMAND_ERRORS,
)
def give_consent(
    contract_id: ContractId, proposal_id: ProposalId, body: ConsentCreate, command: Command
) -> Response:
    return command.run(
        lambda **o: command.contracts.give_consent(
            command.principal,
            contract_id,
            proposal_id,
            on_behalf_of=body.on_behalf_of,
            session_id=body.session_id,
            **o,
        ),
        PROPOSAL_VIEW,
    )


@router.post(
    "/proposals/{proposalId}/rejection",
    response_model=ProposalData,
    summary="Reject a proposal on behalf of your organisation",
    responses=COMMAND_ERRORS,
)
def reject_proposal(
    contract_id: ContractId, proposal_id: ProposalId, body: ReasonBody, command: Command
) -> Response:
    return command.run(
        lambda **o: command.contracts.reject_proposal(
            command.principal, contract_id, proposal_id, reason=body.reason, **o
        ),
        PROPOSAL_VIEW,
    )


@router.post(
    "/proposals/{proposalId}/withdrawal",
    response_model=ProposalData,
    summary="Withdraw your organisation's own proposal",
    responses=COMMAND_ERRORS,
)
def withdraw_proposal(
    contract_id: ContractId, proposal_id: ProposalId, body: ReasonBody, command: Command
) -> Response:
    return command.run(
        lambda **o: command.contracts.withdraw_proposal(
            command.principal, contract_id, proposal_id, reason=body.reason, **o
        ),
        PROPOSAL_VIEW,
    )
