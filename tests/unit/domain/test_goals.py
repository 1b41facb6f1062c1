"""The goal chain (rule 5): vision ← effect ← result ← performance, changed through proposals."""

from __future__ import annotations

import pytest

from domain import errors
from domain.events import ConsentGiven, ProposalAgreed, ProposalSubmitted
from domain.goals import ChangeAction, DeliveredBy, GoalChange, GoalLevel
from tests.support.builders import (
    COMMISSIONER,
    PROVIDER_A,
    active_contract,
    agreed,
    assert_rejected,
    given,
    goal_added,
    goal_chain,
    proposed,
    then_events,
)


def _submit(scene, change, by=COMMISSIONER):
    return scene.c.submit_proposal(
        actor=by, session_id=scene["s1"], change=change, rationale="goal work"
    )


def test_adding_the_vision_gets_a_node_id_when_proposed_and_takes_effect_when_agreed():
    scene = given(*active_contract())
    change = GoalChange(action=ChangeAction.ADD, level=GoalLevel.VISION, text="Samen redzaam")

    proposal_id = _submit(scene, change)

    (submitted,) = then_events(scene.c, ProposalSubmitted)
    assert submitted.kind == "goal"
    node_id = submitted.change.node_id
    assert node_id
    assert node_id not in scene.c.goals

    scene.c.give_consent(actor=PROVIDER_A, proposal_id=proposal_id)

    _, agreement = then_events(scene.c, ConsentGiven, ProposalAgreed)
    assert agreement.change.node_id == node_id
    node = scene.c.goals[node_id]
    assert (node.level, node.parent_id, node.text, node.active) == (
        GoalLevel.VISION,
        None,
        "Samen redzaam",
        True,
    )


def test_each_level_hangs_under_the_level_above():
    scene = given(*active_contract(), *goal_chain())
    goals = scene.c.goals
    assert goals[scene["effect"]].parent_id == scene["vision"]
    assert goals[scene["result"]].parent_id == scene["effect"]
    assert goals[scene["performance"]].parent_id == scene["result"]
    assert goals[scene["performance"]].delivered_by == DeliveredBy.MIXED


@pytest.mark.parametrize(
    ("level", "parent"),
    [
        (GoalLevel.EFFECT, None),
        (GoalLevel.EFFECT, "effect"),
        (GoalLevel.RESULT, "vision"),
        (GoalLevel.PERFORMANCE, "effect"),
        (GoalLevel.PERFORMANCE, "performance"),
        (GoalLevel.VISION, "vision"),
    ],
)
def test_a_node_under_the_wrong_level_is_refused(level, parent):
    scene = given(*active_contract(), *goal_chain())
    change = GoalChange(
        action=ChangeAction.ADD,
        level=level,
        parent_id=scene[parent] if parent else None,
        text="misplaced",
    )
    error = assert_rejected(scene.c, errors.GoalParentInvalid, lambda: _submit(scene, change))
    assert error.code == "goal-parent-invalid"


def test_a_second_active_vision_is_refused():
    scene = given(*active_contract(), goal_added("vision", GoalLevel.VISION))
    change = GoalChange(action=ChangeAction.ADD, level=GoalLevel.VISION, text="Another")
    assert_rejected(scene.c, errors.VisionExists, lambda: _submit(scene, change))


def test_a_new_node_needs_a_text():
    scene = given(*active_contract())
    change = GoalChange(action=ChangeAction.ADD, level=GoalLevel.VISION, text=" ")
    assert_rejected(scene.c, errors.InvalidValue, lambda: _submit(scene, change))


def test_revising_a_node_changes_its_text_and_delivery():
    scene = given(*active_contract(), *goal_chain())
    change = GoalChange(
        action=ChangeAction.REVISE,
        level=GoalLevel.PERFORMANCE,
        node_id=scene["performance"],
        text="Buurtcoaches, half by volunteers",
        delivered_by=DeliveredBy.RESIDENTS,
    )

    agreed("revise", change, by=PROVIDER_A)(scene)

    _, _, agreement = then_events(scene.c, ProposalSubmitted, ConsentGiven, ProposalAgreed)
    assert agreement.change == change
    node = scene.c.goals[scene["performance"]]
    assert node.text == "Buurtcoaches, half by volunteers"
    assert node.delivered_by == DeliveredBy.RESIDENTS
    assert node.parent_id == scene["result"]


def test_revising_moves_a_node_to_another_parent_of_the_right_level():
    scene = given(
        *active_contract(), *goal_chain(), goal_added("result2", GoalLevel.RESULT, "effect")
    )
    change = GoalChange(
        action=ChangeAction.REVISE,
        level=GoalLevel.PERFORMANCE,
        node_id=scene["performance"],
        parent_id=scene["result2"],
    )
    agreed("move", change)(scene)
    assert scene.c.goals[scene["performance"]].parent_id == scene["result2"]


def test_revising_to_a_parent_of_the_wrong_level_is_refused():
    scene = given(*active_contract(), *goal_chain())
    change = GoalChange(
        action=ChangeAction.REVISE,
        level=GoalLevel.PERFORMANCE,
        node_id=scene["performance"],
        parent_id=scene["effect"],
    )
    assert_rejected(scene.c, errors.GoalParentInvalid, lambda: _submit(scene, change))


def test_revising_with_the_wrong_level_or_an_empty_text_is_refused():
    scene = given(*active_contract(), *goal_chain())
    wrong_level = GoalChange(
        action=ChangeAction.REVISE, level=GoalLevel.RESULT, node_id=scene["effect"], text="x"
    )
    assert_rejected(scene.c, errors.GoalParentInvalid, lambda: _submit(scene, wrong_level))
    empty = GoalChange(
        action=ChangeAction.REVISE, level=GoalLevel.EFFECT, node_id=scene["effect"], text=" "
    )
    assert_rejected(scene.c, errors.InvalidValue, lambda: _submit(scene, empty))


@pytest.mark.parametrize("action", [ChangeAction.REVISE, ChangeAction.RETIRE])
def test_changing_an_unknown_node_is_refused(action):
    scene = given(*active_contract())
    change = GoalChange(action=action, level=GoalLevel.EFFECT, node_id="nope", text="x")
    error = assert_rejected(scene.c, errors.UnknownGoal, lambda: _submit(scene, change))
    assert error.code == "unknown-goal"


def test_retiring_a_leaf_takes_it_out_of_the_active_chain():
    scene = given(*active_contract(), *goal_chain())
    change = GoalChange(
        action=ChangeAction.RETIRE, level=GoalLevel.PERFORMANCE, node_id=scene["performance"]
    )

    agreed("retire", change)(scene)

    then_events(scene.c, ProposalSubmitted, ConsentGiven, ProposalAgreed)
    assert scene.c.goals[scene["performance"]].active is False
    # and a retired node can be neither changed again nor used as a parent
    again = GoalChange(
        action=ChangeAction.RETIRE, level=GoalLevel.PERFORMANCE, node_id=scene["performance"]
    )
    assert_rejected(scene.c, errors.UnknownGoal, lambda: _submit(scene, again))


def test_retiring_a_node_with_active_children_is_refused():
    scene = given(*active_contract(), *goal_chain())
    change = GoalChange(action=ChangeAction.RETIRE, level=GoalLevel.RESULT, node_id=scene["result"])
    error = assert_rejected(scene.c, errors.GoalHasChildren, lambda: _submit(scene, change))
    assert error.code == "goal-has-children"


def test_retiring_the_vision_after_its_children_lets_a_new_vision_in():
    scene = given(*active_contract(), goal_added("vision", GoalLevel.VISION))
    agreed(
        "retire",
        GoalChange(action=ChangeAction.RETIRE, level=GoalLevel.VISION, node_id=scene["vision"]),
    )(scene)
    # The retirement took effect today, so the new vision can take effect from today on.
    goal_added("vision2", GoalLevel.VISION, text="A new vision", effective_on=None)(scene)
    assert scene.c.goals[scene["vision2"]].active


def test_a_retirement_agreed_late_is_rechecked_at_the_last_consent():
    """Both open proposals were valid when submitted; once the child exists, the last consent
    to retiring its parent is refused and nothing is recorded."""
    scene = given(
        *active_contract(),
        goal_added("vision", GoalLevel.VISION),
        goal_added("effect", GoalLevel.EFFECT, "vision"),
    )
    retire = GoalChange(action=ChangeAction.RETIRE, level=GoalLevel.EFFECT, node_id=scene["effect"])
    proposed("retire-effect", retire)(scene)
    goal_added("result", GoalLevel.RESULT, "effect")(scene)
    scene.c.collect_events()

    assert_rejected(
        scene.c,
        errors.GoalHasChildren,
        lambda: scene.c.give_consent(actor=PROVIDER_A, proposal_id=scene["retire-effect"]),
    )
    assert scene.c.proposals[scene["retire-effect"]].status == "open"
