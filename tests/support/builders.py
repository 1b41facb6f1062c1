"""Given–when–then helpers for the contract aggregate.

`given(step, step, ...)` builds a contract from earlier commands and collects (clears) the
events they triggered, so that a test's `when` (one command) is followed by a `then` that sees
only the events that command triggered. Steps remember the ids they create under a name
(`scene["s1"]`), so a test can refer to "the session held earlier" without plumbing ids.

The term, budget period, ceiling and session day are shared with the application helpers
(tests/support/app.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.contract import Contract
from domain.errors import DomainError
from domain.goals import ChangeAction, DeliveredBy, GoalChange, GoalLevel
from domain.indicators import Baseline, Direction, IndicatorChange, Target
from domain.money import Adjustment
from domain.proposals import Change
from domain.values import Actor, Allocation, Participant, Period
from tests.support import people

# The domain's actors, from the one cast (tests/support/people.py).
COMMISSIONER = people.ANN.actor
COMMISSIONER_AUDITOR = people.CARLA.actor
PROVIDER_A = people.BOB.actor
PROVIDER_B = people.DIRK.actor
PROVIDER_C = people.EVA.actor
OUTSIDER = people.FRANK.actor

PROVIDER_NAMES = {o.id: o.name for o in (people.ZORG_A, people.WELZIJN_B, people.BUURTWERK_C)}

#: The term started before today; the builders date admission, acceptance, activation and the
#: goal chain on its first day, so that sessions and measurements in 2025 stand on them.
TERM = Period(date(2025, 1, 1), date(2028, 12, 31))
BUDGET_PERIOD = Period(date(2025, 1, 1), date(2028, 12, 31))
CEILING = Decimal("1000000.00")
#: 10% of the initial ceiling
CHANGE_LIMIT = Decimal("100000.00")
SESSION_DAY = date(2025, 2, 3)

Step = Callable[["Scene"], None]


@dataclass
class Scene:
    """What the given steps built: the contract and the ids they created, by name."""

    contract: Contract | None = None
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def c(self) -> Contract:
        assert self.contract is not None, "the first step must open the contract"
        return self.contract

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def given(*steps: Step) -> Scene:
    """Run the steps, then clear the pending events: the `when` starts from a clean slate."""
    scene = Scene()
    for step in steps:
        step(scene)
    scene.c.collect_events()
    return scene


def then_events(contract: Contract, *types: type) -> list[Any]:
    """Collect the events the `when` triggered and check their types, in order."""
    events = contract.collect_events()
    assert [type(e) for e in events] == list(types), [type(e).__name__ for e in events]
    return events


def assert_rejected(
    contract: Contract, error: type[DomainError], command: Callable[[], object]
) -> DomainError:
    """The command is refused with exactly this rule and leaves the history untouched."""
    version_before = contract.version
    pending_before = len(contract.pending_events)
    head_before = contract.head_digest
    with pytest.raises(error) as caught:
        command()
    assert type(caught.value) is error, f"{type(caught.value).__name__} is not {error.__name__}"
    assert caught.value.code == error.code
    assert contract.version == version_before
    assert len(contract.pending_events) == pending_before
    assert contract.head_digest == head_before
    return caught.value


# Steps ----------------------------------------------------------------------------------


def opened(ceiling: Decimal = CEILING, actor: Actor = COMMISSIONER, **overrides: Any) -> Step:
    def step(scene: Scene) -> None:
        arguments: dict[str, Any] = {
            "actor": actor,
            "reference": "UTR-2025-001",
            "title": "Wijkgerichte ondersteuning",
            "assignment": "Bewoners van Overvecht redden zich beter, samen met hun netwerk.",
            "procedure": "dialogue",
            "term": TERM,
            "ceiling": ceiling,
            "budget_period": BUDGET_PERIOD,
            "reason": "raadsbesluit",
        }
        arguments.update(overrides)
        scene.contract = Contract.open(**arguments)

    return step


def invited(*orgs: str) -> Step:
    """The commissioner admits each provider: invited until its own people accept."""

    def step(scene: Scene) -> None:
        for org in orgs:
            scene.c.admit_provider(
                actor=COMMISSIONER,
                org=org,
                name=PROVIDER_NAMES.get(org, org),
                rationale="DNA, track record and fit",
                effective_on=TERM.start,
            )

    return step


def admitted(*orgs: str) -> Step:
    """Invited, and accepted by each provider's own contract manager: parties."""

    def step(scene: Scene) -> None:
        invited(*orgs)(scene)
        for org in orgs:
            scene.c.accept_invitation(actor=actor_of(org), effective_on=TERM.start)

    return step


def activated() -> Step:
    def step(scene: Scene) -> None:
        scene.c.activate(
            actor=COMMISSIONER, reason="start of delivery and dialogue", effective_on=TERM.start
        )

    return step


def suspended() -> Step:
    def step(scene: Scene) -> None:
        scene.c.suspend(actor=COMMISSIONER, reason="budget review", decision_ref="B&W-12")

    return step


def terminated() -> Step:
    def step(scene: Scene) -> None:
        scene.c.terminate(actor=COMMISSIONER, reason="grond: wanprestatie")

    return step


def completed() -> Step:
    def step(scene: Scene) -> None:
        scene.c.complete(actor=COMMISSIONER, reason="delivered early", decision_ref="B&W-9")

    return step


def withdrew(actor: Actor) -> Step:
    def step(scene: Scene) -> None:
        scene.c.withdraw_provider(actor=actor, org=actor.org, reason="capacity")

    return step


def session_held(name: str = "s1", actor: Actor = COMMISSIONER) -> Step:
    def step(scene: Scene) -> None:
        scene.ids[name] = scene.c.hold_session(
            actor=actor,
            held_on=SESSION_DAY,
            kind="dialogue",
            participants=[
                Participant(people.ANN.name, people.ANN.org, "contract_manager"),
                Participant(people.BOB.name, people.BOB.org, "contract_manager"),
            ],
            minutes_ref=f"minutes/{name}.pdf",
            summary=f"session {name}",
        )

    return step


def proposed(name: str, change: Change, by: Actor = COMMISSIONER, session: str = "s1") -> Step:
    def step(scene: Scene) -> None:
        scene.ids[name] = scene.c.submit_proposal(
            actor=by, session_id=scene[session], change=change, rationale=f"why {name}"
        )

    return step


def consented(name: str, *actors: Actor) -> Step:
    def step(scene: Scene) -> None:
        for actor in actors:
            scene.c.give_consent(actor=actor, proposal_id=scene[name])

    return step


def agreed(name: str, change: Change, by: Actor = COMMISSIONER, session: str = "s1") -> Step:
    """Proposed and consented to by every other party, so it takes effect."""

    def step(scene: Scene) -> None:
        proposed(name, change, by, session)(scene)
        others = sorted(scene.c.parties - {by.org})
        for org in others:
            scene.c.give_consent(actor=actor_of(org), proposal_id=scene[name])
        assert scene.c.proposals[scene[name]].status == "agreed"

    return step


def goal_added(
    name: str,
    level: GoalLevel,
    parent: str | None = None,
    text: str = "",
    effective_on: date | None = TERM.start,
) -> Step:
    """An agreed goal node, in force from the term's start unless said otherwise;
    `scene[name]` is the node id."""

    def step(scene: Scene) -> None:
        change = GoalChange(
            action=ChangeAction.ADD,
            level=level,
            parent_id=scene[parent] if parent else None,
            text=text or f"{level} {name}",
            delivered_by=DeliveredBy.MIXED if level == GoalLevel.PERFORMANCE else None,
            effective_on=effective_on,
        )
        agreed(f"proposal:{name}", change)(scene)
        proposal = scene.c.proposals[scene[f"proposal:{name}"]]
        assert isinstance(proposal.change, GoalChange) and proposal.change.node_id
        scene.ids[name] = proposal.change.node_id

    return step


def goal_chain() -> list[Step]:
    """vision ← effect ← result ← performance, all agreed."""
    return [
        goal_added("vision", GoalLevel.VISION),
        goal_added("effect", GoalLevel.EFFECT, "vision"),
        goal_added("result", GoalLevel.RESULT, "effect"),
        goal_added("performance", GoalLevel.PERFORMANCE, "result"),
    ]


def new_indicator(result_id: str | None = None, **overrides: Any) -> IndicatorChange:
    fields: dict[str, Any] = {
        "action": ChangeAction.ADD,
        "name": "Zelfredzaamheid",
        "definition": "Share of residents scoring 3+ on the self-reliance matrix",
        "unit": "%",
        "direction": Direction.HIGHER_IS_BETTER,
        "baseline": Baseline(Decimal("61.5"), date(2024, 12, 31), "ZRM 2024"),
        "target": Target(Decimal("70"), date(2027, 12, 31)),
        "frequency": "quarterly",
        "data_source": "ZRM registration",
        "result_id": result_id,
        "effective_on": TERM.start,
    }
    fields.update(overrides)
    return IndicatorChange(**fields)


def indicator_added(name: str = "kpi", **overrides: Any) -> Step:
    """An agreed indicator; `scene[name]` is its id."""

    def step(scene: Scene) -> None:
        agreed(f"proposal:{name}", new_indicator(**overrides))(scene)
        proposal = scene.c.proposals[scene[f"proposal:{name}"]]
        assert isinstance(proposal.change, IndicatorChange) and proposal.change.indicator_id
        scene.ids[name] = proposal.change.indicator_id

    return step


def measured(name: str, indicator: str = "kpi", value: str = "62.0") -> Step:
    def step(scene: Scene) -> None:
        scene.ids[name] = scene.c.record_measurement(
            actor=PROVIDER_A,
            indicator_id=scene[indicator],
            period=Period(date(2025, 1, 1), date(2025, 3, 31)),
            value=Decimal(value),
            source="ZRM Q1",
        )

    return step


def adjustment(value: str = "0.00", **fields: Any) -> Adjustment:
    arguments: dict[str, Any] = {
        "legal_basis": "Aanbestedingswet 2.163b",
        "value": Decimal(value),
        "effective_on": date(2025, 7, 1),
    }
    arguments.update(fields)
    return Adjustment(**arguments)


def allocations(**amounts: str) -> tuple[Allocation, ...]:
    """allocations(zorg_a="100.00") — keyword names use _ where the org uses -."""
    return tuple(Allocation(org.replace("_", "-"), Decimal(a)) for org, a in amounts.items())


def allocated(name: str = "alloc", value: str = "0.00", **amounts: str) -> Step:
    return agreed(name, adjustment(value, allocations=allocations(**amounts)))


ACTORS_BY_ORG = {a.org: a for a in (COMMISSIONER, PROVIDER_A, PROVIDER_B, PROVIDER_C, OUTSIDER)}


def actor_of(org: str) -> Actor:
    return ACTORS_BY_ORG.get(org) or Actor(f"cm-{org}", f"Manager {org}", org, "contract_manager")


def active_contract(*providers: str) -> list[Step]:
    """Opened, providers admitted (zorg-a by default), activated, session s1 held."""
    return [opened(), admitted(*(providers or ("zorg-a",))), activated(), session_held("s1")]
