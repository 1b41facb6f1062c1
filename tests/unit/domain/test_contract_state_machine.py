"""Random histories of the contract against a small model of its rules.

Hypothesis drives sequences of commands — valid and invalid, from people of the commissioner,
three providers and an outsider, in several roles — and after every step checks that:

* the outcome is what the model predicts (accepted, or refused by exactly this rule);
* a refused command added no event (version, pending events and head digest unchanged);
* allocations never exceed the ceiling; every consent is the actor's own organisation's and
  that organisation was a party; nothing but evaluations, publications and corrections follow
  the end;
* replaying every event so far from scratch rebuilds identical state and head digest;
* status, parties, proposals, money and term agree with the model.

It runs at least 200 examples whatever the hypothesis profile (see SETTINGS).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain import errors
from domain.chain import GENESIS_DIGEST, canonical
from domain.contract import Contract
from domain.events import (
    ConsentGiven,
    ContractCompleted,
    ContractTerminated,
    EvaluationRecorded,
    ProposalAgreed,
    ProposalSubmitted,
    PublicationIssued,
    RecordCorrected,
    SessionHeld,
)
from domain.goals import ChangeAction, GoalChange, GoalLevel
from domain.money import Adjustment
from domain.proposals import ScopeRefinement
from domain.values import Actor, Allocation, Participant, Period, local_date

COMMISSIONER_ORG = "gemeente"
PROVIDER_ORGS = ("zorg-a", "welzijn-b", "buurtwerk-c")
OUTSIDER_ORG = "verzekeraar-x"
ACTORS = (
    Actor("g1", "Ann", COMMISSIONER_ORG, "contract_manager"),
    Actor("g2", "Carla", COMMISSIONER_ORG, "auditor"),
    Actor("a1", "Bob", "zorg-a", "contract_manager"),
    Actor("a2", "Bea", "zorg-a", "reader"),
    Actor("b1", "Dirk", "welzijn-b", "contract_manager"),
    Actor("c1", "Eva", "buurtwerk-c", "contract_manager"),
    Actor("x1", "Frank", OUTSIDER_ORG, "contract_manager"),
)
ORGS = (COMMISSIONER_ORG, *PROVIDER_ORGS, OUTSIDER_ORG)
CEILING = Decimal("1000000.00")
LIMIT = Decimal("100000.00")
TERM = Period(date(2025, 1, 1), date(2028, 12, 31))
#: the day the facts of these runs take effect, the same as the changes' own effective date
DAY = date(2025, 6, 1)
CLOSED = ("terminated", "completed")
AFTER_THE_END = (EvaluationRecorded, PublicationIssued, RecordCorrected)
CENT = Decimal("0.01")

actors = st.sampled_from(ACTORS)
amounts = st.sampled_from(
    [Decimal(a) for a in ("0.00", "100000.00", "250000.00", "400000.00", "600000.00", "900000.00")]
)
change_values = st.sampled_from(
    [Decimal(v) for v in ("0.00", "20000.00", "-50000.00", "60000.00", "100000.00", "100000.01")]
)

SETTINGS = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass
class ModelProposal:
    change: Any
    proposer: str
    consents: list[str]
    status: str = "open"


@dataclass
class Model:
    """Just enough bookkeeping to predict what the contract must do."""

    status: str = "draft"
    providers: set[str] = field(default_factory=set)
    #: admitted, not yet accepted by the provider's own people
    invited: set[str] = field(default_factory=set)
    sessions: list[str] = field(default_factory=list)
    session_versions: set[int] = field(default_factory=set)
    summary_versions: set[int] = field(default_factory=set)
    proposals: dict[str, ModelProposal] = field(default_factory=dict)
    allocations: dict[str, Decimal] = field(default_factory=dict)
    ceiling: Decimal = CEILING
    cumulative: Decimal = Decimal("0.00")
    limit_exceeded: bool = False
    term_end: date = TERM.end
    vision: str | None = None
    #: proposal id → the value its change had when it was agreed
    agreed_values: dict[str, Decimal] = field(default_factory=dict)

    @property
    def parties(self) -> set[str]:
        return {COMMISSIONER_ORG} | self.providers

    # What the rules say about a change as things stand ------------------------------------

    def change_error(self, change: Any) -> type[errors.DomainError] | None:
        if isinstance(change, ScopeRefinement):
            return None
        if isinstance(change, GoalChange):
            if change.action == ChangeAction.ADD:
                return errors.VisionExists if self.vision else None
            active = change.node_id is not None and change.node_id == self.vision
            return None if active else errors.UnknownGoal
        return self.adjustment_error(change)

    def adjustment_error(self, a: Adjustment) -> type[errors.DomainError] | None:
        if a.ceiling is not None and not a.decision_ref:
            return errors.DecisionRequired
        if a.term_end is not None and a.term_end <= self.term_end:
            return errors.InvalidTerm
        for allocation in a.allocations or ():
            if allocation.org not in self.providers:
                return errors.UnknownProvider
            if allocation.amount < 0:
                return errors.InvalidValue
        after = self.allocations_after(a)
        ceiling = a.ceiling if a.ceiling is not None else self.ceiling
        if sum(after.values(), Decimal(0)) > ceiling:
            return errors.CeilingExceeded
        deltas = [x.amount - self.allocations.get(x.org, Decimal(0)) for x in a.allocations or ()]
        if any(d < 0 for d in deltas) and any(d > 0 for d in deltas) and sum(deltas) != 0:
            return errors.ReallocationUnbalanced
        if self.cumulative + self.value_of(a) > LIMIT and not a.justification:
            return errors.JustificationRequired
        return None

    def value_of(self, a: Adjustment) -> Decimal:
        """The change's value from the change itself: the ceiling covers the 48 months of the
        opening term; a ceiling change counts for the months left (at least 48), an extension
        pro rata at the ceiling in force; a higher declared value counts instead."""
        computed = Decimal("0.00")
        if a.ceiling is not None and a.ceiling != self.ceiling:
            eff = a.effective_on  # the first of a month in these rules
            remaining = (self.term_end.year + 1 - eff.year) * 12 - (eff.month - 1)
            computed += (abs(a.ceiling - self.ceiling) * max(remaining, 48) / 48).quantize(CENT)
        if a.term_end is not None and a.term_end != self.term_end:
            ceiling = a.ceiling if a.ceiling is not None else self.ceiling
            months = 12 * (a.term_end.year - self.term_end.year)
            computed += (ceiling * months / 48).quantize(CENT)
        return max(computed, abs(a.value))

    def allocations_after(self, a: Adjustment) -> dict[str, Decimal]:
        merged = dict(self.allocations)
        for allocation in a.allocations or ():
            merged[allocation.org] = allocation.amount
        return {org: amount for org, amount in merged.items() if amount != 0}

    def apply(self, change: Any, node_id: str | None) -> None:
        if isinstance(change, GoalChange):
            self.vision = node_id if change.action == ChangeAction.ADD else None
        elif isinstance(change, Adjustment):
            value = self.value_of(change)
            self.allocations = self.allocations_after(change)
            if change.ceiling is not None:
                self.ceiling = change.ceiling
            self.cumulative += value
            self.limit_exceeded = self.limit_exceeded or self.cumulative > LIMIT
            if change.term_end is not None:
                self.term_end = change.term_end

    def agree_complete(self) -> list[str]:
        """Every open proposal all parties consented to and still applicable takes effect."""
        agreed = []
        for proposal_id, proposal in self.proposals.items():
            if proposal.status != "open" or not self.parties <= set(proposal.consents):
                continue
            if self.change_error(proposal.change) is not None:
                continue
            proposal.status = "agreed"
            if isinstance(proposal.change, Adjustment):
                self.agreed_values[proposal_id] = self.value_of(proposal.change)
            self.apply(proposal.change, getattr(proposal.change, "node_id", None))
            agreed.append(proposal_id)
        return agreed


class ContractMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.contract: Contract
        self.model = Model()
        self.collected: list[Any] = []
        self.last_checked = 0

    # Running a command ------------------------------------------------------------------

    def run(
        self,
        expected: type[errors.DomainError] | None,
        command: Any,
        or_refused_by: type[errors.DomainError] | None = None,
    ) -> Any:
        """Run the command; it must be refused by exactly `expected`, or accepted if None
        (or, where the rules leave room, refused by `or_refused_by` instead)."""
        contract = self.contract
        version, pending, head = (
            contract.version,
            len(contract.pending_events),
            contract.head_digest,
        )
        parties_before = set(self.model.parties)
        try:
            # Every fact here takes effect on the day the model's changes do: the rules of
            # effective dates have a property test of their own (test_effective_dates).
            with contract.taking_effect_on(DAY):
                result = command()
        except errors.DomainError as error:
            assert contract.version == version, "a refused command changed the version"
            assert len(contract.pending_events) == pending, "a refused command added an event"
            assert contract.head_digest == head
            assert type(error) in (expected, or_refused_by), (
                f"refused by {type(error).__name__}, not {expected}"
            )
            note_event(f"{sys._getframe(1).f_code.co_name}: {error.code}")
            return None
        assert expected is None, f"accepted, but the model expected {expected.__name__}"
        note_event(f"{sys._getframe(1).f_code.co_name}: accepted")
        if any(isinstance(e, ProposalAgreed) for e in contract.pending_events[pending:]):
            note_event("a proposal was agreed")
        for event in contract.pending_events[pending:]:
            if isinstance(event, ConsentGiven):
                assert event.party == event.actor.org
                assert event.party in parties_before
            if isinstance(event, SessionHeld):
                self.model.session_versions.add(event.originator_version)
            if isinstance(event, SessionHeld | PublicationIssued | EvaluationRecorded):
                # Records whose summary a correction may fix (CORRECTABLE_FIELDS).
                self.model.summary_versions.add(event.originator_version)
        return result if result is not None else True

    def new_events(self, since: int) -> list[Any]:
        return self.contract.pending_events[since:]

    # Setup ------------------------------------------------------------------------------

    @initialize(start=st.sampled_from(["draft", "active-1", "active-2", "active-3", "funded-2"]))
    def open_contract(self, start: str) -> None:
        """Most runs start from an active contract with a session, so that the dialogue (and
        not only its refusals) gets exercised; some start from a bare draft."""
        commissioner = ACTORS[0]
        self.contract = Contract.open(
            actor=commissioner,
            reference="SM-1",
            title="State machine",
            assignment="Global assignment",
            procedure="dialogue",
            term=TERM,
            ceiling=CEILING,
            budget_period=TERM,
        )
        if start == "draft":
            return
        for org in PROVIDER_ORGS[: int(start[-1])]:
            self.admit_provider(commissioner, org)
            manager = next(a for a in ACTORS if a.org == org and a.role == "contract_manager")
            self.answer_invitation(manager, True)
        self.move_lifecycle(commissioner, "activate", False)
        self.hold_session(commissioner)
        assert self.model.status == "active" and self.model.sessions
        if start.startswith("funded"):
            self.propose_allocation(
                commissioner,
                0,
                list(PROVIDER_ORGS[:2]),
                [Decimal("400000.00"), Decimal("300000.00")],
                Decimal("0.00"),
                False,
            )
            self.consent_round(0, "contract_manager")
            assert self.model.allocations

    @rule(actor=actors, org=st.sampled_from(PROVIDER_ORGS))
    def admit_provider(self, actor: Actor, org: str) -> None:
        m = self.model
        expected = (
            errors.CommissionerOnly
            if actor.org != COMMISSIONER_ORG
            else errors.ContractClosed
            if m.status in CLOSED
            else errors.ProviderAlreadyAdmitted
            if org in m.providers or org in m.invited
            else None
        )
        done = self.run(
            expected,
            lambda: self.contract.admit_provider(actor=actor, org=org, name=org, rationale="fit"),
        )
        if done:
            m.invited.add(org)

    @rule(actor=actors, accept=st.booleans())
    def answer_invitation(self, actor: Actor, accept: bool) -> None:
        m = self.model
        expected = (
            errors.ContractClosed
            if m.status in CLOSED
            else errors.NotInvited
            if actor.org not in m.invited
            else None
        )
        if accept:
            done = self.run(expected, lambda: self.contract.accept_invitation(actor=actor))
        else:
            done = self.run(
                expected, lambda: self.contract.decline_invitation(actor=actor, reason="busy")
            )
        if done:
            m.invited.discard(actor.org)
            if accept:
                m.providers.add(actor.org)

    @rule(actor=actors, org=st.sampled_from(PROVIDER_ORGS))
    def withdraw_provider(self, actor: Actor, org: str) -> None:
        m = self.model
        if org in m.invited and actor.org == COMMISSIONER_ORG:
            # The commissioner withdraws an invitation nobody answered yet.
            expected_invitation = errors.ContractClosed if m.status in CLOSED else None
            if self.run(
                expected_invitation,
                lambda: self.contract.withdraw_provider(actor=actor, org=org, reason="redone"),
            ):
                m.invited.discard(org)
            return
        expected = (
            errors.NotAParty
            if actor.org not in m.parties
            else errors.ContractClosed
            if m.status in CLOSED
            else errors.UnknownProvider
            if org not in m.providers
            else errors.CommissionerOnly
            if actor.org not in (org, COMMISSIONER_ORG)
            else None
        )
        pending = len(self.contract.pending_events)
        # The last provider leaving a running contract leaves the commissioner alone, and its
        # proposals can then never be agreed (see test_dialogue); refusing that is a fix.
        last = expected is None and m.status != "draft" and m.providers == {org}
        done = self.run(
            expected,
            lambda: self.contract.withdraw_provider(actor=actor, org=org, reason="leaving"),
            or_refused_by=errors.NoProviders if last else None,
        )
        if done:
            m.providers.discard(org)
            m.allocations.pop(org, None)
            self.check_agreed(m.agree_complete(), self.new_events(pending + 1))

    @rule(actor=actors)
    def hold_session(self, actor: Actor) -> None:
        m = self.model
        expected = (
            errors.NotAParty
            if actor.org not in m.parties
            else errors.ContractClosed
            if m.status in CLOSED
            else None
        )
        session_id = self.run(
            expected,
            lambda: self.contract.hold_session(
                actor=actor,
                held_on=DAY,
                kind="dialogue",
                participants=[Participant(actor.name, actor.org, actor.role)],
                minutes_ref="minutes",
                summary="summary",
            ),
        )
        if session_id:
            m.sessions.append(session_id)

    @rule(actor=actors, kind=st.sampled_from(["stakeholder", "publication", "evaluation"]))
    def record_something(self, actor: Actor, kind: str) -> None:
        m = self.model
        expected: type[errors.DomainError] | None = (
            errors.NotAParty if actor.org not in m.parties else None
        )
        if kind == "stakeholder":
            if expected is None and m.status in CLOSED:
                expected = errors.ContractClosed
            command = lambda: self.contract.register_stakeholder(  # noqa: E731
                actor=actor, name="GGD", kind="other"
            )
        elif kind == "publication":
            command = lambda: self.contract.issue_publication(  # noqa: E731
                actor=actor, audience="residents", channel="web", summary="s"
            )
        else:
            command = lambda: self.contract.record_evaluation(  # noqa: E731
                actor=actor, held_on=DAY, summary="s", conclusions="c"
            )
        self.run(expected, command)

    @rule(actor=actors, offset=st.integers(-2, 3), field_name=st.sampled_from(["summary", "x"]))
    def correct(self, actor: Actor, offset: int, field_name: str) -> None:
        m = self.model
        sessions = sorted(m.session_versions)
        version = sessions[offset % len(sessions)] if sessions and offset >= 0 else offset
        if offset == 3:
            version = self.contract.version + 1
        expected = (
            errors.NotAParty
            if actor.org not in m.parties
            else errors.UnknownVersion
            if not 1 <= version <= self.contract.version
            else errors.InvalidCorrection
            if version not in m.summary_versions or field_name != "summary"
            else None
        )
        self.run(
            expected,
            lambda: self.contract.correct(
                actor=actor,
                corrects_version=version,
                corrections={field_name: "fixed"},
                reason="typo",
            ),
        )

    # Lifecycle ----------------------------------------------------------------------------

    @rule(
        actor=actors,
        verb=st.sampled_from(["activate", "suspend", "resume", "terminate", "complete"]),
        decided=st.booleans(),
    )
    def move_lifecycle(self, actor: Actor, verb: str, decided: bool) -> None:
        m = self.model
        allowed_from = {
            "activate": ("draft",),
            "suspend": ("active",),
            "resume": ("suspended",),
            "terminate": ("draft", "active", "suspended"),
            "complete": ("active",),
        }[verb]
        target = {
            "activate": "active",
            "suspend": "suspended",
            "resume": "active",
            "terminate": "terminated",
            "complete": "completed",
        }[verb]
        expected = (
            errors.CommissionerOnly
            if actor.org != COMMISSIONER_ORG
            else errors.ContractClosed
            if m.status in CLOSED
            else errors.InvalidTransition
            if m.status not in allowed_from
            else errors.NoProviders
            if verb == "activate" and not m.providers
            else errors.DecisionRequired
            if verb == "complete" and not decided and local_date(datetime.now(UTC)) < m.term_end
            else None
        )
        decision_ref = "RB-2026-1" if decided else None
        step = getattr(self.contract, verb)
        if verb == "activate" or verb == "resume" or verb == "complete":
            command = lambda: step(actor=actor, reason="r", decision_ref=decision_ref)  # noqa: E731
        else:
            command = lambda: step(actor=actor, reason="r")  # noqa: E731
        if self.run(expected, command):
            m.status = target

    # Proposals ------------------------------------------------------------------------------

    def submit(self, actor: Actor, session: int, change: Any) -> None:
        m = self.model
        if session < 0:
            session_id: str | None = None if session == -1 else "no-such-session"
        else:
            session_id = m.sessions[session % len(m.sessions)] if m.sessions else None
        expected = (
            errors.NotAParty
            if actor.org not in m.parties
            else errors.ContractClosed
            if m.status in CLOSED
            else errors.ContractNotActive
            if m.status != "active"
            else errors.SessionRequired
            if session_id is None
            else errors.UnknownSession
            if session_id not in m.sessions
            else m.change_error(change)
        )
        pending = len(self.contract.pending_events)
        proposal_id = self.run(
            expected,
            lambda: self.contract.submit_proposal(
                actor=actor, session_id=session_id, change=change, rationale="because"
            ),
        )
        if proposal_id:
            (event,) = self.new_events(pending)
            assert isinstance(event, ProposalSubmitted)
            m.proposals[proposal_id] = ModelProposal(event.change, actor.org, [actor.org])

    @rule(actor=actors, session=st.integers(-2, 3))
    def propose_scope(self, actor: Actor, session: int) -> None:
        self.submit(actor, session, ScopeRefinement("Sharper assignment"))

    @rule(actor=actors, session=st.integers(0, 3), retire=st.booleans())
    def propose_vision(self, actor: Actor, session: int, retire: bool) -> None:
        if retire:
            change = GoalChange(
                action=ChangeAction.RETIRE, level=GoalLevel.VISION, node_id=self.model.vision
            )
        else:
            change = GoalChange(action=ChangeAction.ADD, level=GoalLevel.VISION, text="Vision")
        self.submit(actor, session, change)

    @rule(
        actor=actors,
        session=st.integers(0, 3),
        orgs=st.lists(st.sampled_from(PROVIDER_ORGS), min_size=1, max_size=2, unique=True),
        amounts=st.lists(amounts, min_size=2, max_size=2),
        value=change_values,
        justified=st.booleans(),
    )
    def propose_allocation(self, actor, session, orgs, amounts, value, justified) -> None:
        change = Adjustment(
            legal_basis="art. 72",
            value=value,
            effective_on=date(2025, 6, 1),
            allocations=tuple(Allocation(o, a) for o, a in zip(orgs, amounts, strict=False)),
            justification="unforeseen" if justified else None,
        )
        self.submit(actor, session, change)

    @rule(
        actor=actors,
        session=st.integers(0, 3),
        shift=st.sampled_from([Decimal("50000.00"), Decimal("100000.00")]),
        balanced=st.booleans(),
    )
    def propose_reallocation(self, actor, session, shift, balanced) -> None:
        m = self.model
        funded = sorted(m.allocations)
        others = sorted(m.providers - set(funded)) + funded
        if not funded or len(others) < 2:
            return
        source = funded[0]
        target = next(o for o in others if o != source)
        change = Adjustment(
            legal_basis="art. 72",
            value=shift,
            effective_on=date(2025, 6, 1),
            allocations=(
                Allocation(source, m.allocations[source] - shift),
                Allocation(
                    target,
                    m.allocations.get(target, Decimal(0)) + shift + (0 if balanced else CENT),
                ),
            ),
            justification="rebalancing",
        )
        self.submit(actor, session, change)

    @rule(
        actor=actors,
        session=st.integers(0, 3),
        ceiling=st.sampled_from([None, Decimal("500000.00"), Decimal("1100000.00")]),
        decision=st.booleans(),
        extend_years=st.sampled_from([None, -1, 0, 1, 2]),
        value=change_values,
        justified=st.booleans(),
    )
    def propose_framework_change(
        self, actor, session, ceiling, decision, extend_years, value, justified
    ) -> None:
        if ceiling is None and extend_years is None:
            extend_years = 1
        term_end = (
            None if extend_years is None else date(self.model.term_end.year + extend_years, 12, 31)
        )
        change = Adjustment(
            legal_basis="art. 72",
            value=value,
            effective_on=date(2025, 6, 1),
            ceiling=ceiling,
            decision_ref="RB-1" if decision else None,
            term_end=term_end,
            justification="unforeseen" if justified else None,
        )
        self.submit(actor, session, change)

    def pick(self, index: int) -> tuple[str, ModelProposal | None]:
        """-1: a proposal that does not exist; 0–2: one of the open proposals (if any);
        3–5: any proposal, open or closed."""
        ids = list(self.model.proposals)
        if 0 <= index < 3:
            ids = [i for i, p in self.model.proposals.items() if p.status == "open"] or ids
        if not ids or index < 0:
            return "no-such-proposal", None
        proposal_id = ids[index % len(ids)]
        return proposal_id, self.model.proposals[proposal_id]

    def proposal_error(
        self, actor: Actor, proposal: ModelProposal | None
    ) -> type[errors.DomainError] | None:
        m = self.model
        if actor.org not in m.parties:
            return errors.NotAParty
        if m.status in CLOSED:
            return errors.ContractClosed
        if m.status != "active":
            return errors.ContractNotActive
        if proposal is None:
            return errors.UnknownProposal
        if proposal.status != "open":
            return errors.ProposalNotOpen
        return None

    @rule(
        actor=actors,
        index=st.integers(-1, 5),
        on_behalf_of=st.sampled_from([None, None, None, "own", "own", *ORGS]),
    )
    def give_consent(self, actor: Actor, index: int, on_behalf_of: str | None) -> None:
        m = self.model
        proposal_id, proposal = self.pick(index)
        behalf = actor.org if on_behalf_of == "own" else on_behalf_of
        expected = (
            errors.ConsentNotYours
            if behalf is not None and behalf != actor.org
            else self.proposal_error(actor, proposal)
        )
        if expected is None:
            assert proposal is not None
            if actor.org in proposal.consents:
                expected = errors.AlreadyConsented
            elif m.parties <= {*proposal.consents, actor.org}:
                expected = m.change_error(proposal.change)
        pending = len(self.contract.pending_events)
        completed = self.run(
            expected,
            lambda: (
                self.contract.give_consent(
                    actor=actor, proposal_id=proposal_id, on_behalf_of=behalf
                )
                or "not completed"
            ),
        )
        if completed:
            assert proposal is not None
            proposal.consents.append(actor.org)
            agreed = m.agree_complete()
            assert (completed is True) == bool(agreed)
            self.check_agreed(agreed, self.new_events(pending + 1))

    @rule(index=st.integers(0, 2), role=st.sampled_from(["contract_manager", "auditor"]))
    def consent_round(self, index: int, role: str) -> None:
        """Every party that has not yet consented to an open proposal does, one by one."""
        _, proposal = self.pick(index)
        if proposal is None or proposal.status != "open":
            return
        for org in sorted(self.model.parties - set(proposal.consents)):
            actor = next(
                (a for a in ACTORS if a.org == org and a.role == role),
                next(a for a in ACTORS if a.org == org),
            )
            self.give_consent(actor, index, None)
            if proposal.status != "open" or org not in proposal.consents:
                break

    @rule(actor=actors, index=st.integers(-1, 5))
    def reject_proposal(self, actor: Actor, index: int) -> None:
        proposal_id, proposal = self.pick(index)
        expected = self.proposal_error(actor, proposal)
        if self.run(
            expected,
            lambda: self.contract.reject_proposal(
                actor=actor, proposal_id=proposal_id, reason="no"
            ),
        ):
            assert proposal is not None
            proposal.status = "rejected"

    @rule(actor=actors, index=st.integers(-1, 5))
    def withdraw_proposal(self, actor: Actor, index: int) -> None:
        proposal_id, proposal = self.pick(index)
        expected = self.proposal_error(actor, proposal)
        if expected is None and proposal is not None and proposal.proposer != actor.org:
            expected = errors.NotProposer
        if self.run(
            expected,
            lambda: self.contract.withdraw_proposal(
                actor=actor, proposal_id=proposal_id, reason="overtaken"
            ),
        ):
            assert proposal is not None
            proposal.status = "withdrawn"

    def check_agreed(self, agreed: list[str], events: list[Any]) -> None:
        """The proposals the model agreed are exactly those agreed in this batch, in order."""
        assert [e.proposal_id for e in events] == agreed
        for event in events:
            assert isinstance(event, ProposalAgreed)
            change = self.model.proposals[event.proposal_id].change
            assert event.change == change
            expected_value = self.model.agreed_values.get(event.proposal_id, Decimal("0"))
            assert event.change_value == expected_value
            if isinstance(change, Adjustment):
                assert event.change_value >= abs(change.value)  # never below what was declared

    @precondition(lambda self: len(self.contract.pending_events) > 0)
    @rule()
    def collect(self) -> None:
        self.collected.extend(self.contract.collect_events())

    # Invariants ---------------------------------------------------------------------------

    def history(self) -> list[Any]:
        return [*self.collected, *self.contract.pending_events]

    @invariant()
    def allocations_stay_within_the_ceiling(self) -> None:
        framework = self.contract.framework
        assert framework.allocated <= framework.ceiling
        assert all(amount > 0 for amount in framework.allocations.values())
        assert set(framework.allocations) <= self.contract.active_providers

    @invariant()
    def nothing_but_evaluations_publications_and_corrections_after_the_end(self) -> None:
        ended = False
        for event in self.history():
            if ended:
                assert isinstance(event, AFTER_THE_END), type(event).__name__
            ended = ended or isinstance(event, ContractTerminated | ContractCompleted)

    @invariant()
    def the_chain_links_every_event(self) -> None:
        events = self.history()
        prior = GENESIS_DIGEST
        for version, event in enumerate(events, start=1):
            assert event.originator_version == version
            assert event.prior_digest == prior
            prior = event.digest
        assert self.contract.head_digest == prior

    @invariant()
    def replay_rebuilds_identical_state_and_head(self) -> None:
        replayed: Any = None
        for event in self.history():
            replayed = event.mutate(replayed)
        assert replayed.head_digest == self.contract.head_digest
        assert replayed.version == self.contract.version
        assert state_of(replayed) == state_of(self.contract)

    @invariant()
    def the_contract_agrees_with_the_model(self) -> None:
        c, m = self.contract, self.model
        assert c.status == m.status
        assert c.parties == m.parties
        assert set(c.sessions) == set(m.sessions)
        assert {pid: p.status for pid, p in c.proposals.items()} == {
            pid: p.status for pid, p in m.proposals.items()
        }
        assert {pid: p.consents for pid, p in c.proposals.items()} == {
            pid: p.consents for pid, p in m.proposals.items()
        }
        assert c.framework.allocations == m.allocations
        assert c.framework.ceiling == m.ceiling
        assert c.framework.cumulative_change_value == m.cumulative
        assert c.framework.change_limit_exceeded == m.limit_exceeded
        assert c.framework.change_limit_exceeded == (m.cumulative > LIMIT)
        assert c.term.end == m.term_end
        active_visions = [
            n.node_id for n in c.goals.values() if n.active and n.level == GoalLevel.VISION
        ]
        assert active_visions == ([m.vision] if m.vision else [])


def state_of(contract: Contract) -> Any:
    """The aggregate's state as plain data (tuples and lists alike), pending events aside."""
    return canonical({k: v for k, v in vars(contract).items() if k != "_pending_events"})


ContractMachine.TestCase.settings = SETTINGS
TestContractStateMachine = ContractMachine.TestCase
