"""The contract in force on a date is a contract that could have existed.

Random histories with random effective dates (commands refused by a rule, the effective-date
rule among them, are simply left out): for every date on which anything took effect, and the
days around them, the state in force on that date satisfies every invariant the current state
satisfies. Before the opening there is no such state.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application import time_travel
from application.errors import NotInForce
from domain.contract import Contract
from domain.errors import DomainError
from domain.goals import ChangeAction, GoalChange, GoalLevel
from domain.money import Adjustment
from domain.values import Allocation, ContractStatus, Participant, Period, ProviderStatus
from tests.support.builders import (
    COMMISSIONER,
    PROVIDER_A,
    PROVIDER_B,
    TERM,
    Scene,
    actor_of,
    new_indicator,
    opened,
)

ORGS = (PROVIDER_A.org, PROVIDER_B.org)
FIRST = TERM.start
DAYS = 600  # the dates facts take effect on: FIRST .. FIRST + 600 days (all before today)

days = st.integers(0, DAYS).map(lambda n: FIRST + timedelta(days=n))
#: the days the beginning takes effect on, so that most later steps can stand on it
early_days = st.integers(0, 90).map(lambda n: FIRST + timedelta(days=n))
step = st.one_of(
    st.tuples(st.just("admit"), st.sampled_from(ORGS), days),
    st.tuples(st.just("accept"), st.sampled_from(ORGS), days),
    st.tuples(st.just("withdraw"), st.sampled_from(ORGS), days),
    st.tuples(st.just("activate"), st.none(), days),
    st.tuples(st.just("suspend"), st.none(), days),
    st.tuples(st.just("resume"), st.none(), days),
    st.tuples(st.just("session"), st.sampled_from(ORGS), days),
    *[st.tuples(st.just("goal"), st.integers(0, 3), days)] * 3,  # a chain needs four levels
    st.tuples(st.just("retire-goal"), st.integers(0, 3), days),
    st.tuples(st.just("indicator"), st.integers(0, 3), days),
    st.tuples(st.just("revise-indicator"), st.integers(0, 3), days),
    st.tuples(st.just("measure"), st.integers(0, 3), days),
    st.tuples(st.just("allocate"), st.tuples(st.sampled_from(ORGS), st.integers(0, 6)), days),
    st.tuples(st.just("ceiling"), st.integers(5, 12), days),
)
LEVELS = (GoalLevel.VISION, GoalLevel.EFFECT, GoalLevel.RESULT, GoalLevel.PERFORMANCE)


def _agree(contract: Contract, change: Any, day: date) -> None:
    """Proposed in a session and consented to by every party at once."""
    session = next(iter(contract.sessions), None)
    proposal_id = contract.submit_proposal(
        actor=COMMISSIONER, session_id=session, change=change, rationale="r"
    )
    for org in sorted(contract.parties - {COMMISSIONER.org}):
        contract.give_consent(actor=actor_of(org), proposal_id=proposal_id)


def _run(contract: Contract, kind: str, arg: Any, day: date) -> None:
    goals = [g for g in contract.goals.values() if g.active]
    indicators = [i for i in contract.indicators.values() if i.active]
    if kind == "admit":
        contract.admit_provider(actor=COMMISSIONER, org=arg, name=arg, rationale="fit")
    elif kind == "accept":
        contract.accept_invitation(actor=actor_of(arg))
    elif kind == "withdraw":
        contract.withdraw_provider(actor=COMMISSIONER, org=arg, reason="r")
    elif kind == "activate":
        contract.activate(actor=COMMISSIONER, reason="start")
    elif kind == "suspend":
        contract.suspend(actor=COMMISSIONER, reason="pause")
    elif kind == "resume":
        contract.resume(actor=COMMISSIONER, reason="go on")
    elif kind == "session":
        contract.hold_session(
            actor=COMMISSIONER,
            held_on=day,
            kind="dialogue",
            participants=[Participant("P", arg, "cm"), Participant("C", COMMISSIONER.org, "cm")],
            minutes_ref="m",
            summary="s",
        )
    elif kind == "goal":
        # Mostly the next level of the chain (a vision first), sometimes one that does not fit.
        depth = min(len({g.level for g in goals}), 3)
        index = depth if arg else (depth + 1) % 4
        level = LEVELS[index]
        parents = [g for g in goals if LEVELS.index(g.level) == index - 1]
        change = GoalChange(
            action=ChangeAction.ADD,
            level=level,
            parent_id=parents[-1].node_id if parents else None,
            text="t",
            effective_on=day,
        )
        _agree(contract, change, day)
    elif kind == "retire-goal" and goals:
        node = goals[arg % len(goals)]
        change = GoalChange(
            action=ChangeAction.RETIRE, level=node.level, node_id=node.node_id, effective_on=day
        )
        _agree(contract, change, day)
    elif kind == "indicator":
        results = [g for g in goals if g.level == GoalLevel.RESULT]
        result = results[arg % len(results)].node_id if results else None
        _agree(contract, new_indicator(result_id=result, effective_on=day), day)
    elif kind == "revise-indicator" and indicators:
        indicator = indicators[arg % len(indicators)]
        change = new_indicator(
            action=ChangeAction.REVISE, indicator_id=indicator.indicator_id, effective_on=day
        )
        _agree(contract, change, day)
    elif kind == "measure" and indicators:
        indicator = indicators[arg % len(indicators)]
        contract.record_measurement(
            actor=COMMISSIONER,
            indicator_id=indicator.indicator_id,
            period=Period(day - timedelta(days=30), day),
            value="1",
            source="s",
        )
    elif kind == "allocate":
        org, hundreds = arg
        allocation = Allocation(org, Decimal(hundreds * 100_000))
        change = Adjustment(
            legal_basis="b", value=Decimal(0), effective_on=day, allocations=(allocation,)
        )
        _agree(contract, change, day)
    elif kind == "ceiling":
        change = Adjustment(
            legal_basis="b",
            value=Decimal(0),
            effective_on=day,
            ceiling=Decimal(arg * 100_000),
            decision_ref="RB",
            justification="j",
        )
        _agree(contract, change, day)


def assert_could_exist(contract: Contract) -> None:
    """The invariants every state the commands leave behind satisfies."""
    active = {p.org for p in contract.providers.values() if p.status == ProviderStatus.ACTIVE}
    framework = contract.framework
    assert sum(framework.allocations.values(), Decimal(0)) <= framework.ceiling
    assert set(framework.allocations) <= active, "money for a provider that is no party"
    if contract.status != ContractStatus.DRAFT:
        assert active, "a running contract without a provider"
    else:
        assert not contract.goals and not contract.indicators, "agreed changes in a draft"
        assert not contract.proposals
    nodes = contract.goals
    for node in nodes.values():
        if node.active and node.parent_id is not None:
            parent = nodes.get(node.parent_id)
            assert parent is not None and parent.active, "an active goal under a missing parent"
    assert sum(1 for n in nodes.values() if n.active and n.level == GoalLevel.VISION) <= 1
    for indicator in contract.indicators.values():
        if indicator.active and indicator.result_id is not None:
            result = nodes.get(indicator.result_id)
            assert result is not None and result.active, "an indicator of a missing result"
    for measurement in contract.measurements.values():
        indicator = contract.indicators.get(measurement.indicator_id)
        assert indicator is not None, "a measurement of an indicator not agreed"
        assert measurement.indicator_version <= indicator.version
    known = {contract.commissioner, *contract.providers, *contract.stakeholders}
    for session in contract.sessions.values():
        for participant in session.participants:
            assert participant.external or participant.org in known


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    start=st.lists(early_days, min_size=4, max_size=4).map(sorted),
    steps=st.lists(step, min_size=5, max_size=40),
)
def test_every_date_in_force_is_a_contract_that_could_exist(
    start: list[date], steps: list[Any]
) -> None:
    scene = Scene()
    opened()(scene)
    contract = scene.c
    # Most histories get going: a provider invited, accepting, delivery started, a session.
    beginning = [
        ("admit", PROVIDER_A.org, start[0]),
        ("accept", PROVIDER_A.org, start[1]),
        ("activate", None, start[2]),
        ("session", PROVIDER_A.org, start[3]),
    ]
    for kind, arg, day in beginning + steps:
        try:
            with contract.taking_effect_on(day):
                _run(contract, kind, arg, day)
        except DomainError:
            pass  # refused: nothing recorded (the rejection tests prove that)
    assert_could_exist(contract)
    events = contract.collect_events()
    dates = sorted({e.effective_on for e in events})
    probes = {d + timedelta(days=k) for d in dates for k in (-1, 0)} | {date(2030, 1, 1)}
    for day in sorted(probes):
        if day < FIRST:
            with pytest.raises(NotInForce):
                time_travel.in_force_on(events, day)
            continue
        view = time_travel.in_force_on(events, day)
        assert_could_exist(view)
        assert view.version == contract.version
    # Far enough ahead, everything recorded is in force: the view is the current state.
    final = time_travel.in_force_on(events, date(2030, 1, 1))
    assert final.framework.allocations == contract.framework.allocations
    assert final.framework.ceiling == contract.framework.ceiling
    assert set(final.goals) == set(contract.goals)
    assert final.status == contract.status
