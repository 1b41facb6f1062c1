"""Proposals, and each party's consent, rejection or withdrawal."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Command, ContractId, ContractsDep, CurrentPrincipal, ProposalId
from api.http import respond
from api.responses import COMMAND_ERRORS, READ_ERRORS
from api.schemas import ConsentCreate, ProposalClosing, ProposalCreate, change_of
from application.commands import GiveConsent, RejectProposal, SubmitProposal, WithdrawProposal
from application.views import ProposalData, View

router = APIRouter(prefix="/contracts/{contractId}/proposals", tags=["dialogue"])


@router.post(
    "",
    status_code=201,
    response_model=ProposalData,
    summary="Propose a change: scope refinement, goal, indicator or adjustment",
    description="The proposer's own party counts as consenting. The change takes effect when "
    "the commissioner and every active provider have consented.",
    responses=COMMAND_ERRORS,
)
def submit_proposal(contract_id: ContractId, body: ProposalCreate, command: Command) -> Response:
    submit = SubmitProposal(
        contract_id,
        effective_on=body.effective_on,
        session_id=body.session_id,
        change=change_of(body),
        rationale=body.rationale,
    )
    return command.run(submit, View.PROPOSAL, status=201)


@router.get(
    "/{proposalId}",
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
    return respond(contracts.get_proposal(principal, contract_id, proposal_id))


@router.post(
    "/{proposalId}/consents",
    response_model=ProposalData,
    summary="Consent to a proposal for your own organisation",
    description="Once every party has consented the proposal is `agreed` and its change "
    "takes effect in the same save.",
    responses=COMMAND_ERRORS,
)
def give_consent(
    contract_id: ContractId, proposal_id: ProposalId, body: ConsentCreate, command: Command
) -> Response:
    consent = GiveConsent(
        contract_id,
        effective_on=body.effective_on,
        proposal_id=proposal_id,
        on_behalf_of=body.on_behalf_of,
        session_id=body.session_id,
    )
    return command.run(consent, View.PROPOSAL)


@router.post(
    "/{proposalId}/rejection",
    response_model=ProposalData,
    summary="Reject a proposal on behalf of your organisation",
    responses=COMMAND_ERRORS,
)
def reject_proposal(
    contract_id: ContractId, proposal_id: ProposalId, body: ProposalClosing, command: Command
) -> Response:
    reject = RejectProposal(
        contract_id,
        effective_on=body.effective_on,
        proposal_id=proposal_id,
        reason=body.reason,
        session_id=body.session_id,
    )
    return command.run(reject, View.PROPOSAL)


@router.post(
    "/{proposalId}/withdrawal",
    response_model=ProposalData,
    summary="Withdraw your organisation's own proposal",
    responses=COMMAND_ERRORS,
)
def withdraw_proposal(
    contract_id: ContractId, proposal_id: ProposalId, body: ProposalClosing, command: Command
) -> Response:
    withdraw = WithdrawProposal(
        contract_id,
        effective_on=body.effective_on,
        proposal_id=proposal_id,
        reason=body.reason,
        session_id=body.session_id,
    )
    return command.run(withdraw, View.PROPOSAL)
