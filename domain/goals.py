"""The goal chain: vision → effect → result → performance, each node under its parent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from domain.errors import (
    GoalHasChildren,
    GoalParentInvalid,
    InvalidValue,
    UnknownGoal,
    VisionExists,
)
from domain.values import OMITTED_AT_DEFAULT


class GoalLevel(StrEnum):
    VISION = "vision"
    EFFECT = "effect"
    RESULT = "result"
    PERFORMANCE = "performance"


#: The level a node of each level must hang under.
PARENT_LEVEL: dict[GoalLevel, GoalLevel | None] = {
    GoalLevel.VISION: None,
    GoalLevel.EFFECT: GoalLevel.VISION,
    GoalLevel.RESULT: GoalLevel.EFFECT,
    GoalLevel.PERFORMANCE: GoalLevel.RESULT,
}


class DeliveredBy(StrEnum):
    PROFESSIONAL = "professional"
    RESIDENTS = "residents"
    MIXED = "mixed"


class ChangeAction(StrEnum):
    ADD = "add"
    REVISE = "revise"
    RETIRE = "retire"


@dataclass(frozen=True)
class GoalChange:
    """A proposed change to the goal chain. `node_id` is assigned when an addition is proposed."""

    action: ChangeAction
    level: GoalLevel
    node_id: str | None = None
    parent_id: str | None = None
    text: str | None = None
    delivered_by: DeliveredBy | None = None
    #: the day the change takes effect once agreed (None: the day it is agreed)
    effective_on: date | None = field(default=None, metadata=OMITTED_AT_DEFAULT)


@dataclass
class GoalNode:
    node_id: str
    level: GoalLevel
    parent_id: str | None
    text: str
    delivered_by: DeliveredBy | None
    active: bool = True


def check_goal_change(nodes: dict[str, GoalNode], change: GoalChange) -> None:
    """Raise the rule a goal change would break in the chain as it stands."""
    level = _member(GoalLevel, change.level, "level")
    _member(ChangeAction, change.action, "action")
    if change.delivered_by is not None:
        _member(DeliveredBy, change.delivered_by, "deliverer")
    if change.action == ChangeAction.ADD:
        if not (change.text or "").strip():
            raise InvalidValue("a new goal node needs a text", field="change.text")
        _check_parent(nodes, level, change.parent_id)
        return
    node = nodes.get(change.node_id or "")
    if node is None or not node.active:
        raise UnknownGoal(f"goal node {change.node_id!r} is not an active node of this contract")
    if node.level != level:
        raise GoalParentInvalid(f"node {node.node_id} is a {node.level}, not a {level}")
    if change.action == ChangeAction.REVISE:
        if change.parent_id is not None and change.parent_id != node.parent_id:
            _check_parent(nodes, level, change.parent_id)
        if change.text is not None and not change.text.strip():
            raise InvalidValue("a goal node's text must not be empty", field="change.text")
        return
    children = [n.node_id for n in nodes.values() if n.active and n.parent_id == node.node_id]
    if children:
        raise GoalHasChildren(
            f"{node.level} {node.node_id} still has {len(children)} active child node(s): "
            "retire or move them first"
        )


def _check_parent(nodes: dict[str, GoalNode], level: GoalLevel, parent_id: str | None) -> None:
    wanted = PARENT_LEVEL[level]
    if wanted is None:
        if parent_id is not None:
            raise GoalParentInvalid("the vision hangs under nothing")
        if any(n.active and n.level == GoalLevel.VISION for n in nodes.values()):
            raise VisionExists("retire the current vision before adding another")
        return
    parent = nodes.get(parent_id or "")
    if parent is None or not parent.active or parent.level != wanted:
        raise GoalParentInvalid(f"a {level} must hang under an active {wanted}")


def apply_goal_change(nodes: dict[str, GoalNode], change: GoalChange) -> None:
    """Apply an agreed goal change (already checked; never raises on replay)."""
    node_id = str(change.node_id)
    if change.action == ChangeAction.ADD:
        nodes[node_id] = GoalNode(
            node_id=node_id,
            level=GoalLevel(change.level),
            parent_id=change.parent_id,
            text=change.text or "",
            delivered_by=change.delivered_by,
        )
        return
    node = nodes.get(node_id)
    if node is None:  # absent only from a partial view of a history older than the timeline
        return
    if change.action == ChangeAction.RETIRE:
        node.active = False
        return
    if change.text is not None:
        node.text = change.text
    if change.parent_id is not None:
        node.parent_id = change.parent_id
    if change.delivered_by is not None:
        node.delivered_by = change.delivered_by


def _member(kind: type[StrEnum], value: object, what: str) -> Any:
    try:
        return kind(value)  # type: ignore[arg-type]
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise InvalidValue(f"{value!r} is not a {what} ({choices})") from None
