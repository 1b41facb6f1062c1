"""The contract aggregate: one dialogue-based assignment and the history of what was agreed.

Command methods are imperative (`hold_session`, `give_consent`) and check every rule *before*
they trigger an event; events are past tense (`SessionHeld`, `ConsentGiven`) and applying one
never raises, because it runs again on every replay. Every event carries who and why (actor,
effective date, session or decision, reason) and the digest of its predecessor.

Event classes are stored by their import path: never rename or move one (see docs/EVENTS.md).

Why this module is over ~400 lines: it is one aggregate, the consistency boundary of a contract,
and its command methods share the checks they make against its state. The rules that stand on
their own already live beside it (goals, indicators, money, proposals, records, and the chain's
stamping in `domain.chain.ChainedAggregate`); `Contract`'s own topic is stored, so the class
stays here.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast
from uuid import UUID, uuid4

from domain import errors, timeline
from domain.chain import GENESIS_DIGEST, ChainedAggregate
from domain.events import (
    AccessGranted,
    AccessRevoked,
    ConsentGiven,
    ContractActivated,
    ContractCompleted,
    ContractMadePublic,
    ContractOpened,
    ContractResumed,
    ContractSuspended,
    ContractTerminated,
    DisclosureWithdrawn,
    EvaluationRecorded,
    MeasurementRecorded,
    PersonalDataErased,
    ProposalAgreed,
    ProposalRejected,
    ProposalSubmitted,
    ProposalWithdrawn,
    ProviderAccepted,
    ProviderAdmitted,
    ProviderDeclined,
    ProviderWithdrew,
    PublicationIssued,
    RecordCorrected,
    ResidentsConsulted,
    SessionHeld,
    StakeholderRegistered,
    apply_agreed_change,
)
from domain.goals import ChangeAction, GoalChange, GoalNode, check_goal_change
from domain.indicators import (
    MAX_MEASUREMENT_BATCH,
    Indicator,
    IndicatorChange,
    Measurement,
    MeasurementReport,
    check_indicator_change,
    check_measurement,
)
from domain.money import (
    SOCIAL_SERVICES_THRESHOLD,
    ZERO,
    Adjustment,
    FinancialFramework,
    check_adjustment,
    initial_value,
    value_of_adjustment,
)
from domain.proposals import (
    KIND_OF_CHANGE,
    MAX_PACKAGE,
    Change,
    ChangePackage,
    Proposal,
    ProposalStatus,
    ScopeRefinement,
    SingleChange,
    adjustment_in,
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
    access_on,
)
from domain.values import (
    AccessRole,
    Actor,
    ContractStatus,
    Participant,
    Period,
    ProcedureKind,
    ProviderStatus,
    euros,
    local_date,
    org_id,
    required_text,
)

CLOSED = (ContractStatus.TERMINATED, ContractStatus.COMPLETED)
#: Why personal data is erased: a data subject's request (AVG art. 17), the end of the
#: retention period (Archiefwet), or a rectification (the old text of a corrected record).
ERASURE_GROUNDS = ("request", "retention", "rectification")
#: Fields of a record a correction may replace, by the kind of record.
CORRECTABLE_FIELDS = {
    "session": ("minutes_ref", "summary"),
    "measurement": ("value", "source"),
    "publication": ("audience", "channel", "summary"),
    "consultation": ("method", "summary", "participants_count"),
    "evaluation": ("summary", "conclusions"),
}


def new_id() -> str:
    return uuid4().hex


class Contract(ChainedAggregate):
    """A contract that grows through dialogue."""

    #: The shape and meaning of the state below. Bump it whenever what an event does to the
    #: state changes, so snapshots taken under the old rules are no longer used (they are
    #: caches; the events are the record).
    STATE_VERSION = 5

    #: Disclosed by the commissioner (Woo). A class default rather than state set in
    #: `__init__`: snapshots from before disclosure existed stay valid (they are all private).
    public: bool = False

    # State -----------------------------------------------------------------------------------

    def __init__(self) -> None:
        # The state starts empty; `Opened` fills it in (and so does every replay).
        self.reference = ""
        self.title = ""
        self.assignment = ""
        self.procedure = ""
        self.term: Period  # set by Opened
        self.commissioner = ""
        self.status = ContractStatus.DRAFT
        self.framework: FinancialFramework  # set by Opened
        self.providers: dict[str, Provider] = {}
        self.stakeholders: dict[str, Stakeholder] = {}
        self.sessions: dict[str, Session] = {}
        self.proposals: dict[str, Proposal] = {}
        self.goals: dict[str, GoalNode] = {}
        self.indicators: dict[str, Indicator] = {}
        self.measurements: dict[str, Measurement] = {}
        self.publications: list[Publication] = []
        self.consultations: list[ResidentsConsultation] = []
        self.evaluations: list[Evaluation] = []
        self.corrections: list[Correction] = []
        #: the ids of destroyed personal-data keys (what they sealed reads "[gewist]")
        self.erased_keys: list[str] = []
        #: the day the contract ended (terminated or completed), from which retention counts
        self.ended_on: date | None = None
        self.access_grants: dict[str, AccessGrant] = {}
        #: version (as text) → [kind, id] of the records a correction may change
        self.correctable: dict[str, list[str]] = {}
        self.head_digest = GENESIS_DIGEST
        #: when what each event read and wrote took effect (`domain.timeline`)
        self.marks: timeline.Marks = {}
        #: the date the opening took effect (the term's start unless said otherwise)
        self.opened_on: date  # set by Opened

    @property
    def parties(self) -> set[str]:
        """The organisations whose consent a proposal needs: commissioner and active providers."""
        return {self.commissioner} | self.active_providers

    @property
    def active_providers(self) -> set[str]:
        return {p.org for p in self.providers.values() if p.status == ProviderStatus.ACTIVE}

    @property
    def invited_providers(self) -> set[str]:
        return {p.org for p in self.providers.values() if p.status == ProviderStatus.INVITED}

    @property
    def members(self) -> set[str]:
        """The organisations that see the contract as their own: the parties and the providers
        invited to become one (an invited provider is not asked for consent)."""
        return self.parties | self.invited_providers

    def access_of(self, org: str, day: date) -> str | None:
        """The role an outside organisation reads the contract in on `day`, if any grant holds."""
        return access_on(self.access_grants.values(), org, day)

    # Commands: setup ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        actor: Actor,
        reference: str,
        title: str,
        assignment: str,
        procedure: ProcedureKind | str,
        term: Period,
        ceiling: Decimal,
        budget_period: Period,
        reason: str = "",
        decision_ref: str | None = None,
        effective_on: date | None = None,
        contract_id: UUID | None = None,
        threshold: Decimal = SOCIAL_SERVICES_THRESHOLD,
    ) -> Contract:
        """The commissioner opens a contract in a financial framework with a global assignment."""
        fields: dict[str, Any] = {
            "reference": required_text(reference, "the reference"),
            "title": required_text(title, "the title"),
            "assignment": required_text(assignment, "the assignment"),
            "procedure": _kind_of(ProcedureKind, procedure, "procedure"),
            "term": term,
            "ceiling": euros(ceiling),
            "budget_period": budget_period,
            "commissioner": required_text(actor.org, "the commissioner's organisation"),
        }
        if fields["ceiling"] <= ZERO:
            raise errors.InvalidValue(
                "the ceiling must be positive", field="financial_framework.ceiling"
            )
        if euros(threshold) <= ZERO:
            raise errors.InvalidValue("the EU threshold must be positive")
        fields["initial_value"] = initial_value(fields["ceiling"], budget_period, term)
        fields["threshold"] = euros(threshold)
        contract_id = contract_id or uuid4()
        timestamp = ContractOpened.create_timestamp()
        fields.update(
            actor=actor,
            effective_on=effective_on or term.start,
            session_id=None,
            decision_ref=decision_ref,
            reason=reason,
            timestamp=timestamp,
        )
        return cls._create_chained(ContractOpened, id=contract_id, **fields)

    @contextmanager
    def taking_effect_on(self, day: date | None) -> Iterator[None]:
        """The facts the commands in the block record take effect on `day` (None: the day they
        are recorded), unless their own date says otherwise (a session's, a measurement's
        period, an agreed change's). A fact recorded now cannot take effect after today."""
        if day is not None:
            today = local_date(ContractOpened.create_timestamp())
            if day > today:
                raise errors.InvalidValue(
                    f"a fact recorded today ({today}) cannot take effect later ({day}); "
                    "only an agreed change can, by its own effectiveOn",
                    field="effective_on",
                )
        self.__dict__["_taking_effect_on"] = day
        try:
            yield
        finally:
            self.__dict__.pop("_taking_effect_on", None)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        """Stamp the event with its recorded time and effective date, after checking that it
        does not take effect before a fact it depends on; `ChainedAggregate` adds its place in
        the chain."""
        timestamp = event_class.create_timestamp()
        fields: dict[str, Any] = {
            "session_id": None,
            "decision_ref": None,
            "reason": "",
            "effective_on": None,
            **kwargs,
            "timestamp": timestamp,
        }
        if fields["effective_on"] is None:
            fields["effective_on"] = self._effective_default(timestamp)
        self._check_effective(event_class, fields)
        super().trigger_event(event_class, **fields)

    def _effective_default(self, timestamp: Any = None) -> date:
        """The day a fact recorded now takes effect unless it says otherwise: the day given to
        the command, else the day it is recorded — or the opening's, for a fact recorded while
        the contract is prepared before its term starts."""
        given: date | None = self.__dict__.get("_taking_effect_on")
        if given is not None:
            return given
        today = local_date(timestamp or ContractOpened.create_timestamp())
        opened_on: date | None = self.__dict__.get("opened_on")
        return max(today, opened_on) if opened_on is not None else today

    def _check_effective(self, event_class: Any, fields: dict[str, Any]) -> None:
        # A session held to prepare the contract before it takes effect stands from the opening.
        effective_on: date = max(fields["effective_on"], self.opened_on)
        touches = event_class.touches(self, fields)
        dependency = timeline.conflict(self.marks, touches, effective_on)
        if dependency is not None:
            raise errors.EffectiveBeforeDependency(event_class.__name__, effective_on, dependency)

    def admit_provider(
        self, *, actor: Actor, org: str, name: str, rationale: str, effective_on: date | None = None
    ) -> None:
        """Invite a preselected provider, recording why it was chosen (DNA, track record, fit);
        it becomes a party when its own people accept."""
        self._check_commissioner(actor)
        self._check_not_closed()
        org = org_id(org, "the provider's organisation id")
        if org == self.commissioner:
            raise errors.InvalidValue("the commissioner cannot be its own provider", field="org")
        if org in self.active_providers or org in self.invited_providers:
            raise errors.ProviderAlreadyAdmitted(f"{org!r} is already a provider or invited")
        self.trigger_event(
            ProviderAdmitted,
            actor=actor,
            org=org,
            invited=True,
            name=required_text(name, "the provider's name"),
            rationale=required_text(rationale, "the preselection rationale"),
            reason=rationale,
            effective_on=effective_on,
        )

    def accept_invitation(
        self, *, actor: Actor, org: str | None = None, effective_on: date | None = None
    ) -> None:
        """The invited provider's own people accept: the provider becomes a party."""
        self._check_invited(actor, org)
        self.trigger_event(ProviderAccepted, actor=actor, org=actor.org, effective_on=effective_on)

    def decline_invitation(self, *, actor: Actor, reason: str, org: str | None = None) -> None:
        """The invited provider's own people decline, saying why."""
        self._check_invited(actor, org)
        self.trigger_event(
            ProviderDeclined, actor=actor, org=actor.org, reason=required_text(reason, "a reason")
        )

    def _check_invited(self, actor: Actor, org: str | None) -> None:
        if org is not None and org != actor.org:
            raise errors.ConsentNotYours(
                f"{actor.name} acts for {actor.org!r} and cannot answer {org!r}'s invitation"
            )
        self._check_not_closed()
        if actor.org not in self.invited_providers:
            raise errors.NotInvited(f"{actor.org!r} has no open invitation to this contract")

    def withdraw_provider(self, *, actor: Actor, org: str, reason: str) -> None:
        """A provider leaves (its own decision or the commissioner's); its allocation is freed.
        The commissioner may also withdraw an invitation that was not yet answered."""
        if org in self.invited_providers and actor.org == self.commissioner:
            self._check_not_closed()
            self.trigger_event(
                ProviderWithdrew, actor=actor, org=org, reason=required_text(reason, "a reason")
            )
            return
        self._check_party(actor)
        self._check_not_closed()
        if org not in self.active_providers:
            raise errors.UnknownProvider(f"{org!r} is not an active provider")
        if actor.org not in (org, self.commissioner):
            raise errors.CommissionerOnly(
                "only the provider itself or the commissioner may do this"
            )
        if self.status != ContractStatus.DRAFT and self.active_providers == {org}:
            raise errors.NoProviders("the last provider cannot leave; terminate the contract")
        self.trigger_event(
            ProviderWithdrew, actor=actor, org=org, reason=required_text(reason, "a reason")
        )
        self._agree_proposals_now_complete(actor)

    def register_stakeholder(
        self, *, actor: Actor, name: str, kind: str, contact: str = "", reason: str = ""
    ) -> str:
        self._check_party(actor)
        self._check_not_closed()
        stakeholder_id = new_id()
        self.trigger_event(
            StakeholderRegistered,
            actor=actor,
            stakeholder_id=stakeholder_id,
            name=required_text(name, "the stakeholder's name"),
            kind=required_text(kind, "the kind of stakeholder"),
            contact=contact.strip(),
            reason=reason,
        )
        return stakeholder_id

    def grant_access(
        self,
        *,
        actor: Actor,
        org: str,
        role: AccessRole | str,
        reason: str,
        until: date | None = None,
    ) -> str:
        """The commissioner lets an outside organisation (a rekenkamer, an accountant) read the
        contract, until a date or until revoked; it can never write or consent."""
        self._check_commissioner(actor)
        org = org_id(org, "the organisation id")
        if org in self.members:
            raise errors.InvalidValue(
                f"{org!r} is a party already: it needs no access grant", field="org"
            )
        today = local_date(AccessGranted.create_timestamp())
        if until is not None and until < today:
            raise errors.InvalidValue(
                f"a grant until {until} would have ended already", field="until"
            )
        grant_id = new_id()
        self.trigger_event(
            AccessGranted,
            actor=actor,
            grant_id=grant_id,
            org=org,
            role=_kind_of(AccessRole, role, "role of an access grant"),
            until=until,
            reason=required_text(reason, "a reason"),
        )
        return grant_id

    def revoke_access(self, *, actor: Actor, grant_id: str, reason: str) -> None:
        self._check_commissioner(actor)
        grant = self.access_grants.get(grant_id)
        if grant is None or grant.revoked_on is not None:
            raise errors.UnknownGrant(f"no access grant {grant_id!r} in force on this contract")
        self.trigger_event(
            AccessRevoked, actor=actor, grant_id=grant_id, reason=required_text(reason, "a reason")
        )

    # Commands: dialogue ---------------------------------------------------------------------

    def hold_session(
        self,
        *,
        actor: Actor,
        held_on: date,
        kind: str,
        participants: tuple[Participant, ...] | list[Participant],
        minutes_ref: str,
        summary: str,
    ) -> str:
        """Record a dialogue session; later changes name it as their provenance."""
        self._check_party(actor)
        self._check_not_closed()
        if not participants:
            raise errors.InvalidValue("a session has participants", field="participants")
        earliest = min(self.opened_on, local_date(self.created_on))
        today = local_date(SessionHeld.create_timestamp())
        if not earliest <= held_on <= today:
            raise errors.InvalidValue(
                f"a session is held between the contract's opening ({earliest}) and today "
                f"({today}), not on {held_on}",
                field="held_on",
            )
        known = {self.commissioner, *self.providers, *self.stakeholders}
        for index, participant in enumerate(participants):
            if not participant.external and participant.org not in known:
                raise errors.InvalidValue(
                    f"participant {participant.name!r} names {participant.org!r}, which is not "
                    "a party or a registered stakeholder of this contract; mark someone from "
                    "outside as external",
                    field=f"participants.{index}.org",
                )
        session_id = new_id()
        self.trigger_event(
            SessionHeld,
            actor=actor,
            session_id=session_id,
            effective_on=held_on,
            held_on=held_on,
            kind=required_text(kind, "the kind of session"),
            participants=tuple(participants),
            minutes_ref=required_text(minutes_ref, "the minutes reference"),
            summary=required_text(summary, "the summary"),
        )
        return session_id

    def submit_proposal(
        self, *, actor: Actor, session_id: str | None, change: Change, rationale: str
    ) -> str:
        """A party puts a change forward in a session; its own consent counts at once."""
        self._check_party(actor)
        self._check_active()
        self._check_session(session_id)
        change = self._with_new_ids(change)
        self._check_change(change)
        proposal_id = new_id()
        self.trigger_event(
            ProposalSubmitted,
            actor=actor,
            session_id=session_id,
            decision_ref=getattr(change, "decision_ref", None),
            proposal_id=proposal_id,
            kind=KIND_OF_CHANGE[type(change)].value,
            change=change,
            rationale=required_text(rationale, "the rationale"),
            reason=rationale,
        )
        return proposal_id

    def give_consent(
        self,
        *,
        actor: Actor,
        proposal_id: str,
        on_behalf_of: str | None = None,
        session_id: str | None = None,
    ) -> bool:
        """A party consents through one of its own people. Returns True when this consent
        completes the proposal, which then takes effect in the same save."""
        if on_behalf_of is not None and on_behalf_of != actor.org:
            raise errors.ConsentNotYours(
                f"{actor.name} acts for {actor.org!r} and cannot consent for {on_behalf_of!r}"
            )
        self._check_party(actor)
        self._check_active()
        proposal = self._open_proposal(proposal_id)
        if actor.org in proposal.consents:
            raise errors.AlreadyConsented(f"{actor.org!r} has already consented")
        if session_id is not None:
            self._check_session(session_id)
        if self.parties <= {*proposal.consents, actor.org}:
            self._check_change(proposal.change)
        # The consent names a session only when the caller does: the history must not claim
        # someone consented in a meeting they never named.
        self.trigger_event(
            ConsentGiven,
            actor=actor,
            session_id=session_id,
            proposal_id=proposal_id,
            party=actor.org,
        )
        return bool(self._agree_proposals_now_complete(actor))

    def reject_proposal(
        self, *, actor: Actor, proposal_id: str, reason: str, session_id: str | None = None
    ) -> None:
        self._check_party(actor)
        self._check_active()
        self._open_proposal(proposal_id)
        if session_id is not None:
            self._check_session(session_id)
        self.trigger_event(
            ProposalRejected,
            actor=actor,
            session_id=session_id,
            proposal_id=proposal_id,
            party=actor.org,
            reason=required_text(reason, "a reason"),
        )

    def withdraw_proposal(
        self, *, actor: Actor, proposal_id: str, reason: str, session_id: str | None = None
    ) -> None:
        self._check_party(actor)
        self._check_active()
        proposal = self._open_proposal(proposal_id)
        if actor.org != proposal.proposed_by.org:
            raise errors.NotProposer(f"only {proposal.proposed_by.org!r} may withdraw it")
        if session_id is not None:
            self._check_session(session_id)
        self.trigger_event(
            ProposalWithdrawn,
            actor=actor,
            session_id=session_id,
            proposal_id=proposal_id,
            reason=required_text(reason, "a reason"),
        )

    # Commands: monitoring and transparency --------------------------------------------------

    def record_measurement(
        self,
        *,
        actor: Actor,
        indicator_id: str,
        period: Period,
        value: Decimal | str,
        source: str,
        indicator_version: int | None = None,
    ) -> str:
        """Record a value of the indicator version in force for one period."""
        self._check_party(actor)
        self._check_not_closed()
        report = MeasurementReport(indicator_id, period, value, source, indicator_version)
        return self._record(actor, report, self._checked(report))

    def record_measurements(
        self, *, actor: Actor, reports: Sequence[MeasurementReport]
    ) -> list[str]:
        """Record a batch of measurements (the periodic import of aggregated volumes from iWmo
        or iJw, or a provider's own system) all or nothing: every report that breaks a rule is
        named, and then none is recorded."""
        self._check_party(actor)
        self._check_not_closed()
        if not 1 <= len(reports) <= MAX_MEASUREMENT_BATCH:
            raise errors.InvalidValue(
                f"a batch holds 1 to {MAX_MEASUREMENT_BATCH} measurements", field="measurements"
            )
        checked: list[int] = []
        refusals: list[tuple[int, errors.DomainError]] = []
        for index, report in enumerate(reports):
            try:
                checked.append(self._checked(report))
            except errors.DomainError as error:
                refusals.append((index, error))
        if refusals:
            raise errors.BatchRefused(len(reports), refusals)
        return [self._record(actor, r, v) for r, v in zip(reports, checked, strict=True)]

    def _checked(self, report: MeasurementReport) -> int:
        """The indicator version a measurement report binds to, if it breaks no rule."""
        indicator = check_measurement(
            self.indicators, report.indicator_id, report.indicator_version
        )
        if not _is_decimal(report.value):
            raise errors.InvalidValue(f"{report.value!r} is not a finite decimal", field="value")
        today = local_date(MeasurementRecorded.create_timestamp())
        if report.period.end > today:
            raise errors.InvalidValue(
                f"a measurement covers a period that has ended; {report.period.end} is after "
                f"today ({today})",
                field="period.end",
            )
        required_text(report.source, "the source")
        self._check_effective(
            MeasurementRecorded,
            {
                "effective_on": report.period.end,
                "indicator_id": report.indicator_id,
                "indicator_version": indicator.version,
            },
        )
        return indicator.version

    def _record(self, actor: Actor, report: MeasurementReport, version: int) -> str:
        measurement_id = new_id()
        self.trigger_event(
            MeasurementRecorded,
            actor=actor,
            effective_on=report.period.end,
            measurement_id=measurement_id,
            indicator_id=report.indicator_id,
            indicator_version=version,
            period=report.period,
            value=Decimal(report.value),
            source=required_text(report.source, "the source"),
        )
        return measurement_id

    def issue_publication(self, *, actor: Actor, audience: str, channel: str, summary: str) -> str:
        """Tell residents or the council about the contract (allowed after the end too)."""
        self._check_party(actor)
        publication_id = new_id()
        self.trigger_event(
            PublicationIssued,
            actor=actor,
            publication_id=publication_id,
            audience=required_text(audience, "the audience"),
            channel=required_text(channel, "the channel"),
            summary=required_text(summary, "the summary"),
        )
        return publication_id

    def consult_residents(
        self, *, actor: Actor, held_on: date, method: str, summary: str, participants_count: int
    ) -> str:
        self._check_party(actor)
        self._check_not_closed()
        if participants_count < 0:
            raise errors.InvalidValue(
                "the number of participants cannot be negative", field="participants_count"
            )
        consultation_id = new_id()
        self.trigger_event(
            ResidentsConsulted,
            actor=actor,
            effective_on=held_on,
            consultation_id=consultation_id,
            held_on=held_on,
            method=required_text(method, "the method"),
            summary=required_text(summary, "the summary"),
            participants_count=participants_count,
        )
        return consultation_id

    # Commands: lifecycle --------------------------------------------------------------------

    def activate(
        self,
        *,
        actor: Actor,
        reason: str = "",
        effective_on: date | None = None,
        decision_ref: str | None = None,
    ) -> None:
        """Delivery and dialogue start together."""
        self._transition(actor, (ContractStatus.DRAFT,), "activate")
        if not self.active_providers:
            raise errors.NoProviders("admit at least one provider before activating")
        day = effective_on or self._effective_default()
        accepted = sorted(
            (str(mark[0]), org, mark)
            for org in self.active_providers
            if (mark := self.marks.get(f"provider:{org}"))
        )
        if len(accepted) == len(self.active_providers) and accepted[0][0] > day.isoformat():
            on, org, mark = accepted[0]
            raise errors.EffectiveBeforeDependency(
                "ContractActivated",
                day,
                timeline.Dependency(
                    f"{mark[2]} of provider {org}, the first party to deliver",
                    date.fromisoformat(on),
                    int(mark[1]) or None,
                    str(mark[2]),
                ),
            )
        self.trigger_event(
            ContractActivated,
            actor=actor,
            reason=reason,
            effective_on=effective_on,
            decision_ref=decision_ref or None,
        )

    def suspend(self, *, actor: Actor, reason: str, decision_ref: str | None = None) -> None:
        self._transition(actor, (ContractStatus.ACTIVE,), "suspend")
        self.trigger_event(
            ContractSuspended,
            actor=actor,
            reason=required_text(reason, "a reason"),
            decision_ref=decision_ref,
        )

    def resume(self, *, actor: Actor, reason: str, decision_ref: str | None = None) -> None:
        self._transition(actor, (ContractStatus.SUSPENDED,), "resume")
        self.trigger_event(
            ContractResumed,
            actor=actor,
            reason=required_text(reason, "a reason"),
            decision_ref=decision_ref or None,
        )

    def terminate(self, *, actor: Actor, reason: str, decision_ref: str | None = None) -> None:
        """End the contract early; the reason is the ground for termination."""
        self._transition(
            actor,
            (ContractStatus.DRAFT, ContractStatus.ACTIVE, ContractStatus.SUSPENDED),
            "terminate",
        )
        self.trigger_event(
            ContractTerminated,
            actor=actor,
            reason=required_text(reason, "the ground"),
            decision_ref=decision_ref,
        )

    def complete(self, *, actor: Actor, reason: str, decision_ref: str | None = None) -> None:
        """Close the contract as delivered. Before the term's end that is a decision the
        commissioner must be able to point to, so it needs a decision reference."""
        self._transition(actor, (ContractStatus.ACTIVE,), "complete")
        reason = required_text(reason, "a reason")
        today = local_date(ContractCompleted.create_timestamp())
        if today < self.term.end and not (decision_ref or "").strip():
            raise errors.DecisionRequired(
                f"completing before the term's end ({self.term.end}) needs a decisionRef: the "
                "decision to end delivery early"
            )
        self.trigger_event(
            ContractCompleted, actor=actor, reason=reason, decision_ref=decision_ref or None
        )

    def record_evaluation(
        self, *, actor: Actor, held_on: date, summary: str, conclusions: str
    ) -> str:
        self._check_party(actor)
        evaluation_id = new_id()
        self.trigger_event(
            EvaluationRecorded,
            actor=actor,
            effective_on=held_on,
            evaluation_id=evaluation_id,
            held_on=held_on,
            summary=required_text(summary, "the summary"),
            conclusions=conclusions.strip(),
        )
        return evaluation_id

    def correct(
        self, *, actor: Actor, corrects_version: int, corrections: dict[str, str], reason: str
    ) -> None:
        """Correct a mistaken record by a new event; nothing is edited or deleted."""
        self._check_party(actor)
        if not 1 <= corrects_version <= self.version:
            raise errors.UnknownVersion(f"there is no version {corrects_version} to correct")
        if not corrections:
            raise errors.InvalidCorrection("name at least one field to correct")
        kind, _ = self.correctable.get(str(corrects_version), ["", ""])
        allowed = CORRECTABLE_FIELDS.get(kind, ())
        for name, value in corrections.items():
            if name not in allowed:
                raise errors.InvalidCorrection(
                    f"version {corrects_version} has no correctable field {name!r}"
                    + (f" (a {kind} allows {', '.join(allowed)})" if allowed else "")
                )
            if name == "value" and not _is_decimal(value):
                raise errors.InvalidValue(f"{value!r} is not a number", field=f"corrections.{name}")
            if name == "participants_count" and not (str(value).isascii() and str(value).isdigit()):
                raise errors.InvalidValue(
                    f"{value!r} is not a number of participants", field=f"corrections.{name}"
                )
            if not str(value).strip():
                raise errors.InvalidValue(f"{name} must not be empty", field=f"corrections.{name}")
        recorded_on = self._record_date(kind, self.correctable[str(corrects_version)][1])
        day = self._effective_default()
        if recorded_on is not None and day < recorded_on:
            raise errors.EffectiveBeforeDependency(
                "RecordCorrected",
                day,
                timeline.Dependency(f"the {kind} it corrects", recorded_on, corrects_version, kind),
            )
        self.trigger_event(
            RecordCorrected,
            actor=actor,
            corrects_version=corrects_version,
            corrections=dict(corrections),
            reason=required_text(reason, "a reason"),
        )

    # Commands: openness ---------------------------------------------------------------------

    def disclose(self, *, actor: Actor, reason: str) -> None:
        """The commissioner makes the contract public (Woo active disclosure), at any stage."""
        self._check_commissioner(actor)
        if self.public:
            raise errors.AlreadyPublic(f"contract {self.reference} is public already")
        self.trigger_event(
            ContractMadePublic, actor=actor, reason=required_text(reason, "a reason")
        )

    def withdraw_disclosure(self, *, actor: Actor, reason: str) -> None:
        self._check_commissioner(actor)
        if not self.public:
            raise errors.NotPublic(f"contract {self.reference} is not public")
        self.trigger_event(
            DisclosureWithdrawn, actor=actor, reason=required_text(reason, "a reason")
        )

    # Personal data --------------------------------------------------------------------------

    def record_erasure(
        self,
        *,
        actor: Actor,
        grounds: str,
        legal_basis: str,
        reason: str,
        key_ids: Sequence[str],
        record_version: int | None = None,
    ) -> str:
        """Record that the keys sealing personal texts in this contract were destroyed (the
        application destroys them once this is stored). Allowed in every status: the law, not
        the contract's state, decides when data must go. Returns the erasure's id."""
        if grounds not in ERASURE_GROUNDS:
            raise errors.InvalidValue(
                f"{grounds!r} is not a ground for erasure ({', '.join(ERASURE_GROUNDS)})",
                field="grounds",
            )
        keys = tuple(dict.fromkeys(key_ids))
        if not keys:
            raise errors.NothingToErase("there is no personal data left to erase there")
        if record_version is not None and not 1 <= record_version <= self.version:
            raise errors.InvalidValue(
                f"contract {self.reference} has no version {record_version}",
                field="recordRef.version",
            )
        erasure_id = uuid4().hex
        self.trigger_event(
            PersonalDataErased,
            actor=actor,
            erasure_id=erasure_id,
            grounds=grounds,
            legal_basis=required_text(legal_basis, "the legal basis"),
            reason=required_text(reason, "a reason"),
            record_version=record_version,
            key_ids=keys,
            effective_on=self._effective_default(),
        )
        return erasure_id

    # Rules ----------------------------------------------------------------------------------

    def _record_date(self, kind: str, record_id: str) -> date | None:
        """The day a correctable record took effect (None if it is not in this state)."""
        if kind == "session" and record_id in self.sessions:
            return self.sessions[record_id].held_on
        if kind == "measurement" and record_id in self.measurements:
            return self.measurements[record_id].period.end
        for record in (*self.publications, *self.consultations, *self.evaluations):
            for name in ("publication_id", "consultation_id", "evaluation_id"):
                if getattr(record, name, None) == record_id:
                    return getattr(record, "issued_on", None) or getattr(record, "held_on", None)
        return None

    def _check_party(self, actor: Actor) -> None:
        if actor.org not in self.parties:
            raise errors.NotAParty(f"{actor.org!r} is not a party to contract {self.reference}")

    def _check_commissioner(self, actor: Actor) -> None:
        if actor.org != self.commissioner:
            raise errors.CommissionerOnly(f"only {self.commissioner!r} may do this")

    def _check_not_closed(self) -> None:
        if self.status in CLOSED:
            raise errors.ContractClosed(f"contract {self.reference} is {self.status}")

    def _check_active(self) -> None:
        self._check_not_closed()
        if self.status != ContractStatus.ACTIVE:
            raise errors.ContractNotActive(f"contract {self.reference} is {self.status}")

    def _check_session(self, session_id: str | None) -> None:
        if not session_id:
            raise errors.SessionRequired("name the dialogue session this change came from")
        session = self.sessions.get(session_id)
        if session is None:
            raise errors.UnknownSession(
                f"session {session_id!r} is not on this contract", field="session_id"
            )
        day = self._effective_default()
        if day < session.held_on:
            raise errors.EffectiveBeforeDependency(
                "what is recorded in it",
                day,
                timeline.Dependency(f"session {session_id}", session.held_on, None, "SessionHeld"),
            )

    def _transition(
        self, actor: Actor, allowed_from: tuple[ContractStatus, ...], verb: str
    ) -> None:
        self._check_commissioner(actor)
        self._check_not_closed()
        if self.status not in allowed_from:
            raise errors.InvalidTransition(f"cannot {verb} a contract that is {self.status}")

    def _open_proposal(self, proposal_id: str) -> Proposal:
        proposal = self.proposals.get(proposal_id)
        if proposal is None:
            raise errors.UnknownProposal(f"proposal {proposal_id!r} is not on this contract")
        if proposal.status != ProposalStatus.OPEN:
            raise errors.ProposalNotOpen(f"proposal {proposal_id} is {proposal.status}")
        return proposal

    def _with_new_ids(self, change: Change) -> Change:
        """An addition gets its id when it is proposed, so it is known once agreed; in a
        package, `#n` references to the n-th change's new node become that node's id."""
        if isinstance(change, ChangePackage):
            parts: list[SingleChange] = []
            for part in change.changes:
                if isinstance(part, ChangePackage):
                    raise errors.InvalidValue("a package holds no packages", field="changes")
                parts.append(_resolved(cast(SingleChange, self._with_new_ids(part)), parts))
            return ChangePackage(tuple(parts))
        if isinstance(change, GoalChange) and change.action == ChangeAction.ADD:
            return dataclasses.replace(change, node_id=new_id())
        if isinstance(change, IndicatorChange) and change.action == ChangeAction.ADD:
            return dataclasses.replace(change, indicator_id=new_id())
        return change

    def _check_change(self, change: Change) -> None:
        if isinstance(change, ChangePackage):
            self._check_package(change)
            self._check_takes_effect(change)
            return
        if isinstance(change, ScopeRefinement):
            required_text(change.assignment, "the assignment")
        elif isinstance(change, GoalChange):
            check_goal_change(self.goals, change)
        elif isinstance(change, IndicatorChange):
            check_indicator_change(self.indicators, self.goals, change)
        elif isinstance(change, Adjustment):
            check_adjustment(self.framework, self.term, self.active_providers, change)
        else:
            raise errors.InvalidValue(
                f"{type(change).__name__} is not a kind of change", field="change"
            )
        self._check_takes_effect(change)

    def _check_package(self, package: ChangePackage) -> None:
        """Each change in order, as it would stand after the ones before it."""
        if not 1 <= len(package.changes) <= MAX_PACKAGE:
            raise errors.InvalidValue(
                f"a package holds 1 to {MAX_PACKAGE} changes", field="changes"
            )
        if sum(1 for c in package.changes if isinstance(c, Adjustment)) > 1:
            raise errors.InvalidValue(
                "a package holds at most one change to the money or term: put all of it in one",
                field="changes",
            )
        days = {c.effective_on for c in package.changes} - {None}
        if len(days) > 1:
            raise errors.InvalidValue(
                "the changes of one package take effect together: give them one effectiveOn "
                f"(not {', '.join(sorted(map(str, days)))})",
                field="changes",
            )
        scratch = copy.deepcopy(self)
        for index, part in enumerate(package.changes):
            if isinstance(part, ChangePackage):
                raise errors.InvalidValue("a package holds no packages", field="changes")
            try:
                scratch._check_change(part)
            except errors.DomainError as error:
                inner = (error.field or "").removeprefix("change").removeprefix(".")
                error.field = f"changes.{index}" + (f".{inner}" if inner else "")
                error.detail = f"change {index + 1} of the package: {error.detail}"
                error.args = (error.detail,)
                raise
            value = (
                value_of_adjustment(scratch.framework, scratch.term, part)
                if isinstance(part, Adjustment)
                else ZERO
            )
            apply_agreed_change(scratch, part, value=value, proposal_id="", session_id=None)

    def _check_takes_effect(self, change: Change) -> None:
        """The change, once agreed, may not take effect before what it depends on."""
        effective_on = getattr(change, "effective_on", None) or self._effective_default()
        touches = ProposalAgreed.touches(self, {"change": change})
        dependency = timeline.conflict(self.marks, touches, effective_on)
        if dependency is not None:
            raise errors.EffectiveBeforeDependency("the agreed change", effective_on, dependency)

    def _agree_proposals_now_complete(self, actor: Actor) -> list[str]:
        """Every open proposal all parties have now consented to takes effect."""
        agreed: list[str] = []
        if self.status != ContractStatus.ACTIVE:
            return agreed
        for proposal in list(self.proposals.values()):
            if proposal.status != ProposalStatus.OPEN or not self.parties <= set(proposal.consents):
                continue
            change = proposal.change
            try:
                self._check_change(change)
            except errors.DomainError:
                continue  # no longer applicable as it stands: it stays open
            self.trigger_event(
                ProposalAgreed,
                actor=actor,
                session_id=proposal.session_id,
                decision_ref=getattr(change, "decision_ref", None),
                effective_on=change.effective_on,
                reason=proposal.rationale,
                proposal_id=proposal.proposal_id,
                kind=proposal.kind,
                change=change,
                change_value=(
                    value_of_adjustment(self.framework, self.term, adjustment)
                    if (adjustment := adjustment_in(change)) is not None
                    else ZERO
                ),
            )
            agreed.append(proposal.proposal_id)
        return agreed


def _resolved(change: SingleChange, before: list[SingleChange]) -> SingleChange:
    """A package's change with `#n` (the node the n-th change adds) replaced by that node's id."""

    def node(reference: str | None) -> str | None:
        if reference is None or not reference.startswith("#"):
            return reference
        index = reference[1:]
        if not index.isdigit() or int(index) >= len(before):
            raise errors.InvalidValue(
                f"{reference!r} names no earlier change of this package", field="changes"
            )
        earlier = before[int(index)]
        adds = isinstance(earlier, GoalChange) and earlier.action == ChangeAction.ADD
        added = earlier.node_id if isinstance(earlier, GoalChange) and adds else None
        if added is None:
            raise errors.InvalidValue(
                f"{reference!r} names a change that adds no goal node", field="changes"
            )
        return str(added)

    if isinstance(change, GoalChange) and change.parent_id is not None:
        return dataclasses.replace(change, parent_id=node(change.parent_id))
    if isinstance(change, IndicatorChange) and change.result_id is not None:
        return dataclasses.replace(change, result_id=node(change.result_id))
    return change


def _is_decimal(value: object) -> bool:
    if isinstance(value, float | bool):
        return False
    try:
        return Decimal(value).is_finite()  # type: ignore[arg-type]
    except (ArithmeticError, TypeError, ValueError):
        return False


def _kind_of(kind: type[StrEnum], value: object, what: str) -> str:
    try:
        return str(kind(value).value)  # type: ignore[arg-type]
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise errors.InvalidValue(f"{value!r} is not a {what} ({choices})") from None
