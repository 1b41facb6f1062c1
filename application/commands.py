"""Commands as data: one frozen dataclass per use case, and what it does to the contract.

A command names its contract (except `OpenContract`, which creates one) and carries its
arguments; `execute` calls one command method of the aggregate and returns the id of the record
it created or acted on (a session, a proposal, …), if any. `ContractService.handle` loads the
contract, executes the command and saves — and computes the idempotency fingerprint from the
command itself.

`fingerprint_name` and `fingerprint_arguments` are persisted in every idempotency receipt (as a
digest): they must stay what the service used before commands were data, so a key issued then
still matches its repeat. `tests/unit/application/test_fingerprints.py` pins them.

Over 400 lines on purpose: 24 use cases of a few lines each, side by side, so their names and
fingerprints are reviewed together; splitting them by topic would scatter that one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from application.errors import InvalidQuery
from domain.contract import Contract
from domain.indicators import MeasurementReport
from domain.money import SOCIAL_SERVICES_THRESHOLD
from domain.proposals import Change
from domain.values import Actor, Participant, Period


@dataclass(frozen=True)
class CommandResult:
    """What a command leaves behind: the contract's new version and what it created."""

    contract_id: str
    version: int
    head_digest: str
    #: the id of the record the command created or acted on (session, proposal, …)
    created_id: str | None = None
    replayed: bool = False
    #: the view of the contract right after the command the caller asked for (not stored)
    view: Any = None
    #: the transparency log's leaf indexes of the events the command appended (not stored;
    #: empty for a repeat answered from its receipt)
    log_indexes: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "version": self.version,
            "head_digest": self.head_digest,
            "created_id": self.created_id,
        }


@dataclass(frozen=True)
class Command:
    """A use case's arguments. The fingerprint covers every field but the contract id (which
    the fingerprint names separately)."""

    fingerprint_name: ClassVar[str]

    @property
    def target(self) -> str:
        """The contract the command acts on ("" for one it creates)."""
        return ""

    def fingerprint_arguments(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "contract_id"
            and not (f.metadata.get("added_later") and getattr(self, f.name) == f.default)
        }


#: Field metadata for an argument a command gained later: left out of the fingerprint while it
#: has its default, so a key issued before the field existed still matches its repeat.
ADDED_LATER = {"added_later": True}


@dataclass(frozen=True, kw_only=True)
class OpenContract(Command):
    """The caller's organisation opens a contract and becomes its commissioner."""

    fingerprint_name = "open_contract"
    reference: str
    title: str
    assignment: str
    procedure: str
    term: Period
    ceiling: Decimal
    budget_period: Period
    #: the day the opening takes effect (None: the term's start)
    effective_on: date | None = field(default=None, metadata=ADDED_LATER)

    def open(self, actor: Actor, *, threshold: Decimal | None = None) -> Contract:
        """Open the contract; `threshold` is the EU threshold in force (the service's setting),
        recorded on the contract so its modification limit never moves with later settings."""
        return Contract.open(
            actor=actor,
            reference=self.reference,
            title=self.title,
            assignment=self.assignment,
            procedure=self.procedure,
            term=self.term,
            ceiling=self.ceiling,
            budget_period=self.budget_period,
            effective_on=self.effective_on,
            threshold=SOCIAL_SERVICES_THRESHOLD if threshold is None else threshold,
        )


@dataclass(frozen=True)
class ContractCommand(Command):
    """A command on an existing contract."""

    contract_id: str
    #: the day what the command records takes effect (None: the day it is recorded); commands
    #: whose fact has its own date (a session's, a measurement's period) take that instead
    effective_on: date | None = field(default=None, kw_only=True, metadata=ADDED_LATER)

    @property
    def target(self) -> str:
        return self.contract_id

    def execute(self, contract: Contract, actor: Actor) -> str | None:
        raise NotImplementedError


# Parties -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AdmitProvider(ContractCommand):
    fingerprint_name = "admit_provider"
    org: str
    name: str
    rationale: str

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.admit_provider(actor=actor, org=self.org, name=self.name, rationale=self.rationale)


@dataclass(frozen=True, kw_only=True)
class WithdrawProvider(ContractCommand):
    fingerprint_name = "withdraw_provider"
    org: str
    reason: str

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.withdraw_provider(actor=actor, org=self.org, reason=self.reason)


@dataclass(frozen=True, kw_only=True)
class AcceptInvitation(ContractCommand):
    """The invited provider's own people accept: the provider becomes a party."""

    fingerprint_name = "accept_invitation"
    #: the invited organisation (the caller's own)
    org: str

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.accept_invitation(actor=actor, org=self.org)


@dataclass(frozen=True, kw_only=True)
class DeclineInvitation(ContractCommand):
    fingerprint_name = "decline_invitation"
    org: str
    reason: str

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.decline_invitation(actor=actor, reason=self.reason, org=self.org)


@dataclass(frozen=True, kw_only=True)
class GrantAccess(ContractCommand):
    """The commissioner lets an outside organisation read the contract (an auditor or a
    reader), until a date or until revoked."""

    fingerprint_name = "grant_access"
    org: str
    role: str
    reason: str
    until: date | None = None

    def execute(self, contract: Contract, actor: Actor) -> str:
        return contract.grant_access(
            actor=actor, org=self.org, role=self.role, reason=self.reason, until=self.until
        )


@dataclass(frozen=True, kw_only=True)
class RevokeAccess(ContractCommand):
    fingerprint_name = "revoke_access"
    grant_id: str
    reason: str

    def execute(self, contract: Contract, actor: Actor) -> str:
        contract.revoke_access(actor=actor, grant_id=self.grant_id, reason=self.reason)
        return self.grant_id


@dataclass(frozen=True, kw_only=True)
class RegisterStakeholder(ContractCommand):
    fingerprint_name = "register_stakeholder"
    name: str
    kind: str
    contact: str = ""

    def execute(self, contract: Contract, actor: Actor) -> str:
        return contract.register_stakeholder(
            actor=actor, name=self.name, kind=self.kind, contact=self.contact
        )


# Dialogue ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HoldSession(ContractCommand):
    fingerprint_name = "hold_session"
    held_on: date
    kind: str
    participants: tuple[Participant, ...]
    minutes_ref: str
    summary: str

    def execute(self, contract: Contract, actor: Actor) -> str:
        return contract.hold_session(
            actor=actor,
            held_on=self.held_on,
            kind=self.kind,
            participants=self.participants,
            minutes_ref=self.minutes_ref,
            summary=self.summary,
        )


@dataclass(frozen=True, kw_only=True)
class SubmitProposal(ContractCommand):
    fingerprint_name = "submit_proposal"
    session_id: str | None
    change: Change
    rationale: str

    def execute(self, contract: Contract, actor: Actor) -> str:
        return contract.submit_proposal(
            actor=actor, session_id=self.session_id, change=self.change, rationale=self.rationale
        )


@dataclass(frozen=True, kw_only=True)
class GiveConsent(ContractCommand):
    """A party consents, in the session the caller names (if any)."""

    fingerprint_name = "give_consent"
    proposal_id: str
    on_behalf_of: str | None = None
    session_id: str | None = None

    def execute(self, contract: Contract, actor: Actor) -> str:
        contract.give_consent(
            actor=actor,
            proposal_id=self.proposal_id,
            on_behalf_of=self.on_behalf_of,
            session_id=self.session_id,
        )
        return self.proposal_id


@dataclass(frozen=True, kw_only=True)
class RejectProposal(ContractCommand):
    fingerprint_name = "reject_proposal"
    proposal_id: str
    reason: str
    session_id: str | None = field(default=None, metadata=ADDED_LATER)

    def execute(self, contract: Contract, actor: Actor) -> str:
        contract.reject_proposal(
            actor=actor,
            proposal_id=self.proposal_id,
            reason=self.reason,
            session_id=self.session_id,
        )
        return self.proposal_id


@dataclass(frozen=True, kw_only=True)
class WithdrawProposal(ContractCommand):
    fingerprint_name = "withdraw_proposal"
    proposal_id: str
    reason: str
    session_id: str | None = field(default=None, metadata=ADDED_LATER)

    def execute(self, contract: Contract, actor: Actor) -> str:
        contract.withdraw_proposal(
            actor=actor,
            proposal_id=self.proposal_id,
            reason=self.reason,
            session_id=self.session_id,
        )
        return self.proposal_id


# Monitoring and transparency -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordMeasurement(ContractCommand):
    fingerprint_name = "record_measurement"
    indicator_id: str
    period: Period
    value: Decimal
    source: str
    indicator_version: int | None = None

    def execute(self, contract: Contract, actor: Actor) -> str:
        return contract.record_measurement(
            actor=actor,
            indicator_id=self.indicator_id,
            period=self.period,
            value=self.value,
            source=self.source,
            indicator_version=self.indicator_version,
        )


@dataclass(frozen=True, kw_only=True)
class RecordMeasurementBatch(ContractCommand):
    """Up to 1,000 measurements of agreed indicators in one all-or-nothing command."""

    fingerprint_name = "record_measurement_batch"
    reports: tuple[MeasurementReport, ...]

    def execute(self, contract: Contract, actor: Actor) -> str:
        # The created records, in the batch's order: their ids joined by commas.
        return ",".join(contract.record_measurements(actor=actor, reports=self.reports))


@dataclass(frozen=True, kw_only=True)
class IssuePublication(ContractCommand):
    fingerprint_name = "issue_publication"
    audience: str
    channel: str
    summary: str

    def execute(self, contract: Contract, actor: Actor) -> str:
        return contract.issue_publication(
            actor=actor, audience=self.audience, channel=self.channel, summary=self.summary
        )


@dataclass(frozen=True, kw_only=True)
class ConsultResidents(ContractCommand):
    fingerprint_name = "consult_residents"
    held_on: date
    method: str
    summary: str
    participants_count: int

    def execute(self, contract: Contract, actor: Actor) -> str:
        return contract.consult_residents(
            actor=actor,
            held_on=self.held_on,
            method=self.method,
            summary=self.summary,
            participants_count=self.participants_count,
        )


@dataclass(frozen=True, kw_only=True)
class RecordEvaluation(ContractCommand):
    fingerprint_name = "record_evaluation"
    held_on: date
    summary: str
    conclusions: str

    def execute(self, contract: Contract, actor: Actor) -> str:
        return contract.record_evaluation(
            actor=actor, held_on=self.held_on, summary=self.summary, conclusions=self.conclusions
        )


@dataclass(frozen=True, kw_only=True)
class CorrectRecord(ContractCommand):
    """Correct a mistaken record by a new event; nothing is edited or deleted."""

    fingerprint_name = "correct"
    corrects_version: int
    corrections: Mapping[str, str]
    reason: str

    def execute(self, contract: Contract, actor: Actor) -> str:
        contract.correct(
            actor=actor,
            corrects_version=self.corrects_version,
            corrections=dict(self.corrections),
            reason=self.reason,
        )
        # The correction is known by the version that records it.
        return str(contract.version)


# The lifecycle -------------------------------------------------------------------------------
# Fingerprints of lifecycle steps always named `reason` and `decision_ref` (one use case served
# all five steps); steps without a decision reference fingerprint it as None.


@dataclass(frozen=True, kw_only=True)
class ActivateContract(ContractCommand):
    """Delivery and dialogue start together: draft → active."""

    fingerprint_name = "activate"
    reason: str = ""
    decision_ref: str | None = None

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.activate(actor=actor, reason=self.reason, decision_ref=self.decision_ref)


@dataclass(frozen=True, kw_only=True)
class SuspendContract(ContractCommand):
    fingerprint_name = "suspend"
    reason: str
    decision_ref: str | None = None

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.suspend(actor=actor, reason=self.reason, decision_ref=self.decision_ref)


@dataclass(frozen=True, kw_only=True)
class ResumeContract(ContractCommand):
    fingerprint_name = "resume"
    reason: str
    decision_ref: str | None = None

    def fingerprint_arguments(self) -> dict[str, Any]:
        # The fingerprint always named a decision reference (None before one was accepted).
        return {"reason": self.reason, "decision_ref": self.decision_ref}

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.resume(actor=actor, reason=self.reason, decision_ref=self.decision_ref)


@dataclass(frozen=True, kw_only=True)
class TerminateContract(ContractCommand):
    """End the contract early; the reason is the ground for termination."""

    fingerprint_name = "terminate"
    reason: str
    decision_ref: str | None = None

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.terminate(actor=actor, reason=self.reason, decision_ref=self.decision_ref)


@dataclass(frozen=True, kw_only=True)
class CompleteContract(ContractCommand):
    fingerprint_name = "complete"
    reason: str
    decision_ref: str | None = None

    def fingerprint_arguments(self) -> dict[str, Any]:
        # The fingerprint always named a decision reference (None before one was accepted).
        return {"reason": self.reason, "decision_ref": self.decision_ref}

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.complete(actor=actor, reason=self.reason, decision_ref=self.decision_ref)


@dataclass(frozen=True, kw_only=True)
class DiscloseContract(ContractCommand):
    """The commissioner makes the contract public (Woo active disclosure)."""

    fingerprint_name = "disclose"
    reason: str

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.disclose(actor=actor, reason=self.reason)


@dataclass(frozen=True, kw_only=True)
class WithdrawDisclosure(ContractCommand):
    fingerprint_name = "withdraw_disclosure"
    reason: str

    def execute(self, contract: Contract, actor: Actor) -> None:
        contract.withdraw_disclosure(actor=actor, reason=self.reason)


LIFECYCLE_STEPS: tuple[type[ContractCommand], ...] = (
    ActivateContract,
    SuspendContract,
    ResumeContract,
    TerminateContract,
    CompleteContract,
)


def lifecycle_step(name: str) -> type[ContractCommand]:
    """The lifecycle command a step's name stands for ("activate", "suspend", …)."""
    for step in LIFECYCLE_STEPS:
        if step.fingerprint_name == name:
            return step
    raise InvalidQuery(f"{name!r} is not a lifecycle transition")
