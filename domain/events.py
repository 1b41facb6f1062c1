"""What happens to a contract, in the words of a ledger: subject first, past tense.

Every event carries who and why (actor, effective date, session or decision, reason) and its
place in the hash chain (the prior event's digest and its own). Applying an event never raises,
because it runs again on every replay.

Event classes are stored by their import path: never rename or move one; give it a
`class_version` and an upcaster instead (see docs/EVENTS.md).

Over 400 lines on purpose: one short class per line of the ledger (25 of them), and since each
class's import path is stored with every event, they stay together in this one module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.domain import Aggregate

from domain import timeline
from domain.chain import ChainBroken
from domain.goals import ChangeAction, GoalChange, GoalLevel, apply_goal_change
from domain.indicators import IndicatorChange, Measurement, apply_indicator_change
from domain.money import FinancialFramework, apply_adjustment
from domain.proposals import (
    KIND_OF_CHANGE,
    Change,
    ChangePackage,
    Proposal,
    ProposalStatus,
    ScopeRefinement,
)
from domain.records import (
    AccessGrant,
    Correction,
    Evaluation,
    Provider,
    Publication,
    ResidentsConsultation,
    Session,
    Stakeholder,
)
from domain.timeline import Touches
from domain.values import Actor, ContractStatus, Participant, Period, ProviderStatus

R = TypeVar("R")

if TYPE_CHECKING:
    from domain.contract import Contract


class ContractEvent(Aggregate.Event):
    actor: Actor
    effective_on: date
    session_id: str | None
    decision_ref: str | None
    reason: str
    prior_digest: str
    digest: str

    def apply(self, aggregate: Any) -> None:
        """Replay: the event must follow the digest of the one before it."""
        contract: Contract = aggregate
        if self.prior_digest != contract.head_digest:
            raise ChainBroken(
                f"version {self.originator_version} does not follow the digest of the version "
                "before it"
            )
        self.apply_in_view(contract)

    def apply_in_view(self, contract: Contract) -> None:
        """What the event changes, for a view that leaves some events out (the contract in force
        on a date): the caller follows the chain over the whole history itself."""
        touches = type(self).touches(contract, vars(self))
        self.apply_to(contract)
        contract.head_digest = self.digest
        timeline.record(
            contract.marks,
            touches,
            max(self.effective_on, contract.opened_on),  # what precedes the opening waits for it
            self.originator_version,
            type(self).__name__,
        )

    def apply_to(self, contract: Contract) -> None:
        """What the event changes in the contract's state."""

    @classmethod
    def touches(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        """What the event reads and writes, by the keys of `domain.timeline`: checked before it
        is triggered (its effective date may not come before what it depends on) and noted
        when it is applied. Every event stands on the contract's opening."""
        return READS_OPENING + cls.stands_on(contract, fields)

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        """What this kind of event reads and writes besides the opening."""
        return Touches()


READS_OPENING = Touches(reads=("opening",))


# Setup -----------------------------------------------------------------------------------


class ContractOpened(ContractEvent, Aggregate.Created):
    """Version 2 records the initial value (the estimated value over the whole term) and the EU
    threshold that applied, so the modification limit never depends on today's settings; see
    docs/EVENTS.md."""

    class_version = 2

    reference: str
    title: str
    assignment: str
    procedure: str
    term: Period
    ceiling: Decimal
    budget_period: Period
    commissioner: str
    initial_value: Decimal
    threshold: Decimal | None

    @classmethod
    def touches(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(writes=("opening",))

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Version 1 counted the ceiling as the initial value and knew no threshold.
        state["initial_value"] = state["ceiling"]
        state["threshold"] = None

    def apply_to(self, contract: Contract) -> None:
        contract.reference = self.reference
        contract.title = self.title
        contract.assignment = self.assignment
        contract.procedure = self.procedure
        contract.term = self.term
        contract.commissioner = self.commissioner
        contract.opened_on = self.effective_on
        contract.status = ContractStatus.DRAFT
        contract.framework = FinancialFramework(
            ceiling=self.ceiling,
            period=self.budget_period,
            initial_value=self.initial_value,
            threshold=self.threshold,
        )


class ProviderAdmitted(ContractEvent):
    """Version 2 added `invited`: an admitted provider is invited until its own people accept
    (version 1 admissions made the provider a party at once); see docs/EVENTS.md."""

    class_version = 2

    org: str
    name: str
    rationale: str
    invited: bool

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["invited"] = False

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(writes=(f"provider:{fields['org']}",))

    def apply_to(self, contract: Contract) -> None:
        contract.providers[self.org] = Provider(
            org=self.org,
            name=self.name,
            rationale=self.rationale,
            admitted_on=self.effective_on,
            status=ProviderStatus.INVITED if self.invited else ProviderStatus.ACTIVE,
        )


class ProviderAccepted(ContractEvent):
    """The provider's own people accepted the invitation: it is a party from here on."""

    org: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(writes=(f"provider:{fields['org']}",))

    def apply_to(self, contract: Contract) -> None:
        provider = contract.providers.get(self.org)
        if provider is not None:
            provider.status = ProviderStatus.ACTIVE


class ProviderDeclined(ContractEvent):
    """The provider's own people declined the invitation."""

    org: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(writes=(f"provider:{fields['org']}",))

    def apply_to(self, contract: Contract) -> None:
        provider = contract.providers.get(self.org)
        if provider is not None:
            provider.status = ProviderStatus.DECLINED


class AccessGranted(ContractEvent):
    """The commissioner gave an outside organisation read access."""

    grant_id: str
    org: str
    role: str
    until: date | None

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(writes=(f"grant:{fields['grant_id']}",))

    def apply_to(self, contract: Contract) -> None:
        contract.access_grants[self.grant_id] = AccessGrant(
            grant_id=self.grant_id,
            org=self.org,
            role=self.role,
            until=self.until,
            reason=self.reason,
            granted_on=self.effective_on,
        )


class AccessRevoked(ContractEvent):
    grant_id: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(writes=(f"grant:{fields['grant_id']}",))

    def apply_to(self, contract: Contract) -> None:
        grant = contract.access_grants.get(self.grant_id)
        if grant is not None:
            grant.revoked_on = self.effective_on


class ProviderWithdrew(ContractEvent):
    org: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        # Its allocation is freed: the money changes too. A running contract keeps a provider
        # only if another one is active on that day: the withdrawal reads the others.
        others = tuple(f"provider:{org}" for org in contract.providers if org != fields["org"])
        return Touches(reads=others, writes=(f"provider:{fields['org']}", "money"))

    def apply_to(self, contract: Contract) -> None:
        provider = contract.providers.get(self.org)
        if provider is not None:  # absent only from a partial view (in force on a date)
            provider.status = ProviderStatus.WITHDRAWN
        contract.framework.allocations.pop(self.org, None)


class StakeholderRegistered(ContractEvent):
    """Version 2 added `contact` (who to reach at the stakeholder); see docs/EVENTS.md."""

    class_version = 2

    stakeholder_id: str
    name: str
    kind: str
    contact: str

    #: the contact (who to reach) names a person
    personal_texts = ("contact",)

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(writes=(f"stakeholder:{fields['stakeholder_id']}",))

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["contact"] = ""

    def apply_to(self, contract: Contract) -> None:
        contract.stakeholders[self.stakeholder_id] = Stakeholder(
            stakeholder_id=self.stakeholder_id,
            name=self.name,
            kind=self.kind,
            contact=self.contact,
        )


# Dialogue --------------------------------------------------------------------------------


class SessionHeld(ContractEvent):
    held_on: date
    kind: str
    participants: tuple[Participant, ...]
    minutes_ref: str
    summary: str

    personal_texts = ("participants[].name", "participants[].role", "summary")

    @classmethod
    def touches(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        # Not the opening: a session may prepare a contract before its term starts (it is held
        # between the opening's recording or effective date, whichever is earlier, and today).
        return cls.stands_on(contract, fields)

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        # Each participant's organisation was a party, an invited provider or a stakeholder.
        reads = []
        for participant in fields["participants"]:
            if participant.external:
                continue
            if participant.org in contract.providers:
                reads.append(f"provider:{participant.org}")
            elif participant.org in contract.stakeholders:
                reads.append(f"stakeholder:{participant.org}")
        return Touches(reads=tuple(reads))

    def apply_to(self, contract: Contract) -> None:
        contract.sessions[str(self.session_id)] = Session(
            session_id=str(self.session_id),
            held_on=self.held_on,
            kind=self.kind,
            participants=tuple(self.participants),
            minutes_ref=self.minutes_ref,
            summary=self.summary,
        )
        contract.correctable[str(self.originator_version)] = ["session", str(self.session_id)]


class ProposalSubmitted(ContractEvent):
    proposal_id: str
    kind: str
    change: Change
    rationale: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=("activation",), writes=(f"proposal:{fields['proposal_id']}",))

    def apply_to(self, contract: Contract) -> None:
        contract.proposals[self.proposal_id] = Proposal(
            proposal_id=self.proposal_id,
            kind=KIND_OF_CHANGE[type(self.change)],
            change=self.change,
            rationale=self.rationale,
            session_id=str(self.session_id),
            proposed_by=self.actor,
            submitted_at=self.timestamp,
            consents=[self.actor.org],
        )


class ConsentGiven(ContractEvent):
    proposal_id: str
    party: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=("activation",), writes=(f"proposal:{fields['proposal_id']}",))

    def apply_to(self, contract: Contract) -> None:
        contract.proposals[self.proposal_id].consents.append(self.party)


class ProposalRejected(ContractEvent):
    proposal_id: str
    party: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=("activation",), writes=(f"proposal:{fields['proposal_id']}",))

    def apply_to(self, contract: Contract) -> None:
        close_proposal(contract, self, ProposalStatus.REJECTED)


class ProposalWithdrawn(ContractEvent):
    proposal_id: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=("activation",), writes=(f"proposal:{fields['proposal_id']}",))

    def apply_to(self, contract: Contract) -> None:
        close_proposal(contract, self, ProposalStatus.WITHDRAWN)


class ProposalAgreed(ContractEvent):
    """All required consents are present: the change takes effect here."""

    proposal_id: str
    kind: str
    change: Change
    change_value: Decimal

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        # Not the proposal itself: a change may take effect before the dialogue that agreed it.
        return Touches(reads=("activation",)) + change_touches(contract, fields["change"])

    def apply_to(self, contract: Contract) -> None:
        close_proposal(contract, self, ProposalStatus.AGREED)
        self.apply_change(contract)

    def apply_change(self, contract: Contract) -> None:
        """The agreed change itself (also used alone by the in-force-on-date view)."""
        apply_agreed_change(
            contract,
            self.change,
            value=self.change_value,
            proposal_id=self.proposal_id,
            session_id=self.session_id,
        )


def apply_agreed_change(
    contract: Contract,
    change: Change,
    *,
    value: Decimal,
    proposal_id: str,
    session_id: str | None,
) -> None:
    """What an agreed change does to the state (a package: each of its changes in order; its
    one adjustment is worth `value`)."""
    if isinstance(change, ChangePackage):
        for part in change.changes:
            apply_agreed_change(
                contract, part, value=value, proposal_id=proposal_id, session_id=session_id
            )
    elif isinstance(change, ScopeRefinement):
        contract.assignment = change.assignment
    elif isinstance(change, GoalChange):
        apply_goal_change(contract.goals, change)
    elif isinstance(change, IndicatorChange):
        apply_indicator_change(contract.indicators, change, session_id)
    else:
        contract.term = apply_adjustment(
            contract.framework, contract.term, change, value=value, proposal_id=proposal_id
        )


# Monitoring and transparency -------------------------------------------------------------


class MeasurementRecorded(ContractEvent):
    measurement_id: str
    indicator_id: str
    indicator_version: int
    period: Period
    value: Decimal
    source: str

    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=(f"indicator:{fields['indicator_id']}@{fields['indicator_version']}",))

    def apply_to(self, contract: Contract) -> None:
        contract.measurements[self.measurement_id] = Measurement(
            measurement_id=self.measurement_id,
            indicator_id=self.indicator_id,
            indicator_version=self.indicator_version,
            period=self.period,
            value=self.value,
            source=self.source,
            recorded_version=self.originator_version,
        )
        contract.correctable[str(self.originator_version)] = [
            "measurement",
            self.measurement_id,
        ]


class PublicationIssued(ContractEvent):
    publication_id: str
    audience: str
    channel: str
    summary: str

    def apply_to(self, contract: Contract) -> None:
        contract.publications.append(
            Publication(
                publication_id=self.publication_id,
                issued_on=self.effective_on,
                audience=self.audience,
                channel=self.channel,
                summary=self.summary,
            )
        )
        contract.correctable[str(self.originator_version)] = ["publication", self.publication_id]


class ResidentsConsulted(ContractEvent):
    consultation_id: str
    held_on: date
    method: str
    summary: str
    participants_count: int

    #: what came of it, in free text that can name residents
    personal_texts = ("summary",)

    def apply_to(self, contract: Contract) -> None:
        contract.consultations.append(
            ResidentsConsultation(
                consultation_id=self.consultation_id,
                held_on=self.held_on,
                method=self.method,
                summary=self.summary,
                participants_count=self.participants_count,
            )
        )
        contract.correctable[str(self.originator_version)] = [
            "consultation",
            self.consultation_id,
        ]


# Lifecycle -------------------------------------------------------------------------------


class ContractActivated(ContractEvent):
    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        # The providers that were parties when delivery started (at least one).
        accepted = [
            f"provider:{org}"
            for org in sorted(contract.active_providers)
            if str(contract.marks.get(f"provider:{org}", [""])[0])
            <= fields["effective_on"].isoformat()
        ]
        return Touches(reads=tuple(accepted), writes=("activation", "status"))

    def apply_to(self, contract: Contract) -> None:
        contract.status = ContractStatus.ACTIVE


class ContractSuspended(ContractEvent):
    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=("activation",), writes=("status",))

    def apply_to(self, contract: Contract) -> None:
        contract.status = ContractStatus.SUSPENDED


class ContractResumed(ContractEvent):
    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=("activation",), writes=("status",))

    def apply_to(self, contract: Contract) -> None:
        contract.status = ContractStatus.ACTIVE


class ContractTerminated(ContractEvent):
    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=("activation",), writes=("status",))

    def apply_to(self, contract: Contract) -> None:
        contract.status = ContractStatus.TERMINATED
        contract.ended_on = self.effective_on


class ContractCompleted(ContractEvent):
    @classmethod
    def stands_on(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches(reads=("activation",), writes=("status",))

    def apply_to(self, contract: Contract) -> None:
        contract.status = ContractStatus.COMPLETED
        contract.ended_on = self.effective_on


class EvaluationRecorded(ContractEvent):
    evaluation_id: str
    held_on: date
    summary: str
    conclusions: str

    personal_texts = ("summary", "conclusions")

    def apply_to(self, contract: Contract) -> None:
        contract.evaluations.append(
            Evaluation(
                evaluation_id=self.evaluation_id,
                held_on=self.held_on,
                summary=self.summary,
                conclusions=self.conclusions,
            )
        )
        contract.correctable[str(self.originator_version)] = ["evaluation", self.evaluation_id]


class RecordCorrected(ContractEvent):
    """A mistaken record is corrected by a new event that names the one it corrects."""

    corrects_version: int
    corrections: dict[str, str]

    #: a corrected free text is as personal as the text it replaces
    personal_texts = ("corrections.summary", "corrections.conclusions")

    def apply_to(self, contract: Contract) -> None:
        contract.corrections.append(
            Correction(
                corrects_version=self.corrects_version,
                corrections=dict(self.corrections),
                reason=self.reason,
                recorded_in_version=self.originator_version,
            )
        )
        kind, record_id = contract.correctable.get(str(self.corrects_version), ["", ""])
        # A record left out of a partial view (in force on a date) is simply not corrected.
        if kind == "session":
            session = contract.sessions.get(record_id)
            if session is not None:
                for name, value in self.corrections.items():
                    setattr(session, name, value)
        elif kind == "measurement":
            measurement = contract.measurements.get(record_id)
            if measurement is not None:
                for name, value in self.corrections.items():
                    setattr(measurement, name, Decimal(value) if name == "value" else value)
        elif kind == "publication":
            contract.publications = _corrected(
                contract.publications, "publication_id", record_id, self.corrections
            )
        elif kind == "consultation":
            contract.consultations = _corrected(
                contract.consultations, "consultation_id", record_id, self.corrections
            )
        elif kind == "evaluation":
            contract.evaluations = _corrected(
                contract.evaluations, "evaluation_id", record_id, self.corrections
            )


def change_touches(contract: Contract, change: Change) -> Touches:
    """What an agreed change reads and writes (see `domain.timeline`)."""
    if isinstance(change, ChangePackage):
        touches = Touches()
        for part in change.changes:
            touches += change_touches(contract, part)
        return touches
    if isinstance(change, ScopeRefinement):
        return Touches(writes=("assignment",))
    if isinstance(change, GoalChange):
        node = contract.goals.get(str(change.node_id))
        parents = {change.parent_id, node.parent_id if node is not None else None} - {None}
        writes: tuple[str, ...] = (f"goal:{change.node_id}",)
        if change.level == GoalLevel.VISION:
            writes += ("vision",)
        return Touches(reads=tuple(f"goal:{p}" for p in sorted(map(str, parents))), writes=writes)
    if isinstance(change, IndicatorChange):
        current = contract.indicators.get(str(change.indicator_id))
        results = {change.result_id, current.result_id if current is not None else None} - {None}
        writes = (f"indicator:{change.indicator_id}",)
        if change.action != ChangeAction.RETIRE:
            version = 1 if current is None else current.version + 1
            writes += (f"indicator:{change.indicator_id}@{version}",)
        return Touches(reads=tuple(f"goal:{r}" for r in sorted(map(str, results))), writes=writes)
    # An adjustment (anything else was refused before this is asked).
    orgs = sorted({a.org for a in getattr(change, "allocations", None) or ()})
    return Touches(reads=tuple(f"provider:{org}" for org in orgs), writes=("money",))


# Openness (Woo active disclosure) ----------------------------------------------------------


class ContractMadePublic(ContractEvent):
    """The commissioner disclosed the contract: its public part (application/publicity.py) may
    be shown to anyone, and is published as open data."""

    def apply_to(self, contract: Contract) -> None:
        contract.public = True


class DisclosureWithdrawn(ContractEvent):
    """The commissioner withdrew the disclosure: the contract is no longer shown in public."""

    def apply_to(self, contract: Contract) -> None:
        contract.public = False


# Personal data (AVG/GDPR, Archiefwet) -----------------------------------------------------


class PersonalDataErased(ContractEvent):
    """Personal texts in the record were erased: the keys that sealed them were destroyed, so
    they read "[gewist]" from now on while the chain, which covers the sealed texts, still
    holds. The event names no person: only the keys' ids, why (`grounds`: an erasure request,
    the retention period, a rectification), the legal basis and, for one record, its version."""

    erasure_id: str
    grounds: str
    legal_basis: str
    record_version: int | None
    key_ids: tuple[str, ...]

    @classmethod
    def touches(cls, contract: Contract, fields: Mapping[str, Any]) -> Touches:
        return Touches()  # stands on nothing: data may be erased whatever else happened

    def apply_to(self, contract: Contract) -> None:
        contract.erased_keys += [k for k in self.key_ids if k not in contract.erased_keys]


def _corrected(records: list[R], id_field: str, record_id: str, fields: dict[str, str]) -> list[R]:
    """The list with the record named `record_id` replaced by its corrected copy (these records
    are immutable values)."""
    typed = {k: int(v) if k == "participants_count" else v for k, v in fields.items()}
    return [
        dataclasses.replace(r, **typed) if getattr(r, id_field) == record_id else r  # type: ignore[type-var]
        for r in records
    ]


def close_proposal(contract: Contract, event: ContractEvent, status: ProposalStatus) -> None:
    proposal = contract.proposals.get(getattr(event, "proposal_id"))  # noqa: B009
    if proposal is None:  # absent only from a partial view (in force on a date)
        return
    proposal.status = status
    proposal.closed_by = event.actor
    proposal.closing_reason = event.reason or None
    proposal.closed_in_version = event.originator_version
