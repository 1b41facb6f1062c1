"""A proposal is a package (issue 10, point 7): several changes negotiated in one session,
agreed or rejected together, taking effect on one day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain import errors
from domain.events import ProposalAgreed, ProposalRejected, ProposalSubmitted
from domain.goals import ChangeAction, GoalChange, GoalLevel
from domain.indicators import IndicatorChange, Target
from domain.proposals import ChangePackage, ScopeRefinement
from tests.support.builders import (
    COMMISSIONER,
    PROVIDER_A,
    PROVIDER_B,
    TERM,
    active_contract,
    adjustment,
    agreed,
    allocated,
    allocations,
    assert_rejected,
    given,
    goal_chain,
    indicator_added,
    new_indicator,
    proposed,
    then_events,
)

SPRING = date(2025, 4, 1)


def _branch(day: date | None = SPRING) -> ChangePackage:
    """A result under the chain's effect, with the indicator that measures it."""
    return ChangePackage(
        (
            GoalChange(
                action=ChangeAction.ADD,
                level=GoalLevel.RESULT,
                parent_id=None,  # set by the caller
                text="Inwoners hebben binnen twee weken een plan",
                effective_on=day,
            ),
            new_indicator(result_id="#0", effective_on=day),
        )
    )


def _under(package: ChangePackage, parent: str) -> ChangePackage:
    goal, *rest = package.changes
    assert isinstance(goal, GoalChange)
    return ChangePackage((GoalChange(**{**vars(goal), "parent_id": parent}), *rest))


def test_a_goal_branch_with_its_indicator_is_agreed_as_one() -> None:
    scene = given(*active_contract(), *goal_chain())
    agreed("branch", _under(_branch(), scene["effect"]))(scene)
    (submitted,) = [p for p in scene.c.proposals.values() if p.proposal_id == scene["branch"]]
    package = submitted.change
    assert isinstance(package, ChangePackage) and str(submitted.kind) == "package"
    goal, indicator = package.changes
    assert isinstance(goal, GoalChange) and isinstance(indicator, IndicatorChange)
    # `#0` became the id of the node the first change adds, when it was proposed.
    assert goal.node_id and indicator.result_id == goal.node_id
    assert scene.c.goals[goal.node_id].active
    assert scene.c.indicators[str(indicator.indicator_id)].result_id == goal.node_id


def test_one_broken_change_refuses_the_whole_package() -> None:
    scene = given(*active_contract(), *goal_chain())
    bad = ChangePackage(
        (
            ScopeRefinement("Sharper", effective_on=SPRING),
            IndicatorChange(action=ChangeAction.REVISE, indicator_id="nope", effective_on=SPRING),
        )
    )
    error = assert_rejected(
        scene.c,
        errors.UnknownIndicator,
        lambda: scene.c.submit_proposal(
            actor=COMMISSIONER, session_id=scene["s1"], change=bad, rationale="r"
        ),
    )
    assert error.detail.startswith("change 2 of the package")
    assert error.field == "changes.1"


def test_the_package_is_checked_as_its_changes_would_stand_in_order() -> None:
    """`#n` names an earlier change that adds a goal node: the indicator cannot come first."""
    scene = given(*active_contract(), *goal_chain())
    goal, indicator = _under(_branch(), scene["effect"]).changes
    backwards = ChangePackage((indicator, goal))
    assert_rejected(
        scene.c,
        errors.InvalidValue,  # "#0" names a change that adds no goal node
        lambda: scene.c.submit_proposal(
            actor=COMMISSIONER, session_id=scene["s1"], change=backwards, rationale="r"
        ),
    )


def test_a_package_has_one_money_change_and_one_effective_date() -> None:
    scene = given(*active_contract(), *goal_chain())
    two_adjustments = ChangePackage((adjustment(), adjustment()))
    three_days = ChangePackage(
        (
            ScopeRefinement("Sharper", effective_on=SPRING),
            adjustment(effective_on=date(2025, 7, 1)),
        )
    )
    for package in (two_adjustments, three_days, ChangePackage(())):
        assert_rejected(
            scene.c,
            errors.InvalidValue,
            lambda package=package: scene.c.submit_proposal(
                actor=COMMISSIONER, session_id=scene["s1"], change=package, rationale="r"
            ),
        )


def test_a_reallocation_with_a_target_change_counts_its_value_once() -> None:
    scene = given(
        *active_contract("zorg-a", "welzijn-b"),
        allocated(zorg_a="600000.00", welzijn_b="400000.00"),
        indicator_added("kpi"),
    )
    day = date(2025, 9, 1)
    package = ChangePackage(
        (
            adjustment(
                value="50000.00",
                effective_on=day,
                allocations=allocations(zorg_a="550000.00", welzijn_b="450000.00"),
            ),
            IndicatorChange(
                action=ChangeAction.REVISE,
                indicator_id=scene["kpi"],
                target=Target(Decimal("75"), date(2027, 12, 31)),
                effective_on=day,
            ),
        )
    )
    agreed("p", package)(scene)
    events = [e for e in scene.c.collect_events() if isinstance(e, ProposalAgreed)]
    assert events[-1].change_value == Decimal("50000.00")
    assert events[-1].effective_on == day
    assert scene.c.framework.allocations["welzijn-b"] == Decimal("450000.00")
    assert scene.c.indicators[scene["kpi"]].target == Target(Decimal("75"), date(2027, 12, 31))
    assert scene.c.indicators[scene["kpi"]].version == 2


def test_a_rejected_package_changes_nothing() -> None:
    scene = given(*active_contract("zorg-a", "welzijn-b"), *goal_chain())
    before_goals = dict(scene.c.goals)
    proposed("p", _under(_branch(), scene["effect"]))(scene)
    scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["p"])
    scene.c.collect_events()
    scene.c.reject_proposal(actor=PROVIDER_B, proposal_id=scene["p"], reason="not yet")
    then_events(scene.c, ProposalRejected)
    assert scene.c.goals == before_goals
    assert scene.c.indicators == {}


def test_a_package_is_stored_and_read_back_as_a_package() -> None:
    scene = given(*active_contract(), *goal_chain())
    proposed("p", _under(_branch(), scene["effect"]))(scene)
    (event,) = then_events(scene.c, ProposalSubmitted)
    assert isinstance(event.change, ChangePackage)
    assert len(event.change.changes) == 2
    assert event.change.effective_on == SPRING
    assert TERM.start < SPRING
