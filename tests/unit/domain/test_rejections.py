"""Every rule's rejection, in one table: for each DomainError a command can raise, a scenario
that triggers it and proves the refusal added no event (version, pending events and head digest
unchanged). The meta-tests make sure no error class is left out and that codes are stable,
unique and kebab-case."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from domain import errors
from domain.goals import ChangeAction, GoalChange, GoalLevel
from domain.indicators import IndicatorChange, MeasurementReport
from domain.proposals import ScopeRefinement
from domain.values import Period
from tests.support.builders import (
    COMMISSIONER,
    OUTSIDER,
    PROVIDER_A,
    Scene,
    Step,
    active_contract,
    adjustment,
    admitted,
    agreed,
    allocated,
    allocations,
    assert_rejected,
    given,
    goal_added,
    goal_chain,
    indicator_added,
    new_indicator,
    opened,
    proposed,
    session_held,
    terminated,
)

Q2 = Period(date(2025, 4, 1), date(2025, 6, 30))


def _submit(change, by=COMMISSIONER, session="s1") -> Callable[[Scene], object]:
    return lambda s: s.c.submit_proposal(
        actor=by, session_id=s.ids.get(session, session), change=change, rationale="r"
    )


def _measure(**overrides) -> Callable[[Scene], object]:
    def command(s: Scene) -> object:
        arguments = {
            "actor": PROVIDER_A,
            "indicator_id": s.ids.get("kpi", "nope"),
            "period": Q2,
            "value": "1",
            "source": "s",
        }
        arguments.update(overrides)
        return s.c.record_measurement(**arguments)

    return command


#: error class → (the given steps, the refused command)
REJECTIONS: dict[type[errors.DomainError], tuple[list[Step], Callable[[Scene], object]]] = {
    errors.InvalidValue: (
        active_contract(),
        lambda s: s.c.hold_session(
            actor=COMMISSIONER,
            held_on=date(2025, 1, 1),
            kind="dialogue",
            participants=[],
            minutes_ref="m",
            summary="s",
        ),
    ),
    errors.EffectiveBeforeDependency: (
        # An allocation that would take effect before the opening (the term's start).
        active_contract(),
        _submit(adjustment(effective_on=date(2024, 12, 1), allocations=allocations(zorg_a="1.00"))),
    ),
    errors.BatchRefused: (
        # One good report and one of an indicator that does not exist: neither is recorded.
        [*active_contract(), *goal_chain(), indicator_added("kpi")],
        lambda s: s.c.record_measurements(
            actor=PROVIDER_A,
            reports=[
                MeasurementReport(s["kpi"], Q2, "1", "s"),
                MeasurementReport("nope", Q2, "1", "s"),
            ],
        ),
    ),
    errors.NotInvited: (
        active_contract(),
        lambda s: s.c.accept_invitation(actor=PROVIDER_A),
    ),
    errors.UnknownGrant: (
        active_contract(),
        lambda s: s.c.revoke_access(actor=COMMISSIONER, grant_id="nope", reason="r"),
    ),
    errors.NotAParty: (
        active_contract(),
        lambda s: s.c.register_stakeholder(actor=OUTSIDER, name="n", kind="employer"),
    ),
    errors.CommissionerOnly: (
        active_contract(),
        lambda s: s.c.suspend(actor=PROVIDER_A, reason="r"),
    ),
    errors.ConsentNotYours: (
        [*active_contract("zorg-a", "welzijn-b"), proposed("p", ScopeRefinement("x"))],
        lambda s: s.c.give_consent(actor=PROVIDER_A, proposal_id=s["p"], on_behalf_of="welzijn-b"),
    ),
    errors.AlreadyConsented: (
        [*active_contract("zorg-a", "welzijn-b"), proposed("p", ScopeRefinement("x"))],
        lambda s: s.c.give_consent(actor=COMMISSIONER, proposal_id=s["p"]),
    ),
    errors.UnknownProposal: (
        active_contract(),
        lambda s: s.c.reject_proposal(actor=PROVIDER_A, proposal_id="nope", reason="r"),
    ),
    errors.ProposalNotOpen: (
        [*active_contract(), agreed("p", ScopeRefinement("x"))],
        lambda s: s.c.withdraw_proposal(actor=COMMISSIONER, proposal_id=s["p"], reason="r"),
    ),
    errors.NotProposer: (
        [*active_contract(), proposed("p", ScopeRefinement("x"))],
        lambda s: s.c.withdraw_proposal(actor=PROVIDER_A, proposal_id=s["p"], reason="r"),
    ),
    errors.UnknownProvider: (
        active_contract(),
        lambda s: s.c.withdraw_provider(actor=COMMISSIONER, org="welzijn-b", reason="r"),
    ),
    errors.ProviderAlreadyAdmitted: (
        active_contract(),
        lambda s: s.c.admit_provider(actor=COMMISSIONER, org="zorg-a", name="A", rationale="r"),
    ),
    errors.SessionRequired: (
        active_contract(),
        _submit(ScopeRefinement("x"), session=""),
    ),
    errors.UnknownSession: (
        active_contract(),
        _submit(ScopeRefinement("x"), session="no-such-session"),
    ),
    errors.CeilingExceeded: (
        active_contract("zorg-a", "welzijn-b"),
        _submit(adjustment(allocations=allocations(zorg_a="900000.00", welzijn_b="100000.01"))),
    ),
    errors.ReallocationUnbalanced: (
        [*active_contract("zorg-a", "welzijn-b"), allocated(zorg_a="500.00", welzijn_b="500.00")],
        _submit(adjustment(allocations=allocations(zorg_a="400.00", welzijn_b="700.00"))),
    ),
    errors.DecisionRequired: (
        active_contract(),
        _submit(adjustment(ceiling=Decimal("1200000.00"))),
    ),
    errors.JustificationRequired: (
        active_contract(),
        _submit(adjustment("0.00", ceiling=Decimal("99999999.00"), decision_ref="RB-1")),
    ),
    errors.InvalidTerm: (
        active_contract(),
        _submit(adjustment(term_end=date(2028, 12, 31))),
    ),
    errors.UnknownGoal: (
        active_contract(),
        _submit(GoalChange(action=ChangeAction.RETIRE, level=GoalLevel.EFFECT, node_id="nope")),
    ),
    errors.GoalParentInvalid: (
        active_contract(),
        _submit(GoalChange(action=ChangeAction.ADD, level=GoalLevel.EFFECT, text="orphan")),
    ),
    errors.VisionExists: (
        [*active_contract(), goal_added("vision", GoalLevel.VISION)],
        _submit(GoalChange(action=ChangeAction.ADD, level=GoalLevel.VISION, text="second")),
    ),
    errors.GoalHasChildren: (
        [*active_contract(), *goal_chain()],
        lambda s: _submit(
            GoalChange(action=ChangeAction.RETIRE, level=GoalLevel.EFFECT, node_id=s["effect"])
        )(s),
    ),
    errors.UnknownIndicator: (
        active_contract(),
        _measure(),
    ),
    errors.IndicatorRetired: (
        [
            *active_contract(),
            indicator_added("kpi"),
            lambda s: agreed(
                "retire", IndicatorChange(action=ChangeAction.RETIRE, indicator_id=s["kpi"])
            )(s),
        ],
        _measure(),
    ),
    errors.IndicatorVersionSuperseded: (
        [
            *active_contract(),
            indicator_added("kpi"),
            lambda s: agreed(
                "revise",
                IndicatorChange(action=ChangeAction.REVISE, indicator_id=s["kpi"], unit="‰"),
            )(s),
        ],
        _measure(indicator_version=1),
    ),
    errors.TargetNeedsBaseline: (
        active_contract(),
        _submit(new_indicator(baseline=None)),
    ),
    errors.ContractClosed: (
        [*active_contract(), terminated()],
        session_held("s2"),
    ),
    errors.ContractNotActive: (
        [opened(), admitted("zorg-a"), session_held("s1")],
        _submit(ScopeRefinement("x")),
    ),
    errors.InvalidTransition: (
        active_contract(),
        lambda s: s.c.resume(actor=COMMISSIONER, reason="r"),
    ),
    errors.NoProviders: (
        [opened()],
        lambda s: s.c.activate(actor=COMMISSIONER),
    ),
    errors.UnknownVersion: (
        active_contract(),
        lambda s: s.c.correct(
            actor=COMMISSIONER, corrects_version=99, corrections={"summary": "x"}, reason="r"
        ),
    ),
    errors.InvalidCorrection: (
        active_contract(),
        lambda s: s.c.correct(
            actor=COMMISSIONER, corrects_version=1, corrections={"title": "x"}, reason="r"
        ),
    ),
    errors.AlreadyPublic: (
        [*active_contract(), lambda s: s.c.disclose(actor=COMMISSIONER, reason="Woo")],
        lambda s: s.c.disclose(actor=COMMISSIONER, reason="Woo"),
    ),
    errors.NotPublic: (
        active_contract(),
        lambda s: s.c.withdraw_disclosure(actor=COMMISSIONER, reason="r"),
    ),
    errors.NothingToErase: (
        active_contract(),
        lambda s: s.c.record_erasure(
            actor=COMMISSIONER, grounds="request", legal_basis="AVG art. 17", reason="r", key_ids=[]
        ),
    ),
}


@pytest.mark.parametrize("error", list(REJECTIONS), ids=lambda e: e.code)
def test_every_rule_rejects_without_adding_an_event(error):
    steps, command = REJECTIONS[error]
    scene = given(*steps)
    # a refusal leaves the history as it was, also with uncollected events pending
    scene.c.issue_publication(actor=COMMISSIONER, audience="council", channel="c", summary="s")
    version_before = scene.c.version
    pending_before = len(scene.c.pending_events)
    assert pending_before == 1

    with pytest.raises(error) as caught:
        command(scene)

    assert type(caught.value) is error
    assert caught.value.code == error.code
    assert caught.value.detail
    assert scene.c.version == version_before
    assert len(scene.c.pending_events) == pending_before
    assert_rejected(scene.c, error, lambda: command(scene))  # and again: still refused


def test_every_domain_error_has_a_rejection_test():
    covered = set(REJECTIONS)
    every = set(errors.ALL_DOMAIN_ERRORS) - {errors.DomainError}
    assert every - covered == set(), "rules without a rejection test"
    assert covered - every == set()


def test_domain_error_codes_are_unique_and_kebab_case():
    codes = [cls.code for cls in errors.ALL_DOMAIN_ERRORS]
    assert len(codes) == len(set(codes))
    for cls in errors.ALL_DOMAIN_ERRORS:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.code), cls.code
        assert cls.title.strip()
        assert "code" in vars(cls), f"{cls.__name__} inherits its code"


def test_the_codes_named_in_the_issue_exist():
    codes = {cls.code for cls in errors.ALL_DOMAIN_ERRORS}
    assert {
        "consent-not-yours",
        "ceiling-exceeded",
        "unknown-session",
        "contract-closed",
        "goal-has-children",
        "target-needs-baseline",
        "justification-required",
    } <= codes


def test_all_domain_errors_lists_every_subclass():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    defined_in_errors = {
        c for c in subclasses(errors.DomainError) if c.__module__ == errors.__name__
    }
    assert defined_in_errors | {errors.DomainError} == set(errors.ALL_DOMAIN_ERRORS)
