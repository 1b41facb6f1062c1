"""Every business rule reachable over HTTP answers 409 with its own problem `type`, and the
contract is exactly as it was (same version, same ETag, same digest) afterwards.

A meta-test keeps the table complete: every domain rule that maps to 409 is either tried here
or listed in NOT_REACHABLE with the reason HTTP cannot reach it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.problems import ERROR_STATUS, _status_for
from domain.errors import ALL_DOMAIN_ERRORS, DomainError
from tests.support import api as s
from tests.support.api import API, ActiveContract


@dataclass(frozen=True)
class Refusal:
    contract_id: str
    send: Callable[[], Response]


Rule = Callable[[TestClient], Refusal]


def _post(client: TestClient, url: str, body: dict[str, Any], headers: s.Headers | None = None):
    return lambda: client.post(url, headers=headers or s.commissioner(), json=body)


def _proposal(client: TestClient, contract: ActiveContract, kind: str, change: dict[str, Any]):
    return _post(
        client, contract.url("/proposals"), s.proposal_body(contract.session_id, kind, change)
    )


def _adjust(**fields: Any) -> Rule:
    def rule(client: TestClient) -> Refusal:
        contract = s.active_contract(client)
        return Refusal(
            contract.id, _proposal(client, contract, "adjustment", s.adjustment(**fields))
        )

    return rule


def _reallocation_unbalanced(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    s.agree(
        client,
        contract,
        "adjustment",
        s.adjustment(
            allocations=[
                {"org": "zorg-a", "amount": "300000.00"},
                {"org": "zorg-b", "amount": "300000.00"},
            ]
        ),
    )
    change = s.adjustment(
        allocations=[
            {"org": "zorg-a", "amount": "200000.00"},
            {"org": "zorg-b", "amount": "350000.00"},
        ]
    )
    return Refusal(contract.id, _proposal(client, contract, "adjustment", change))


def _unknown_session(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    body = s.proposal_body("no-such-session", "scope_refinement", {"assignment": "X"})
    return Refusal(contract.id, _post(client, contract.url("/proposals"), body))


def _target_needs_baseline(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    change = s.indicator_add(with_baseline=False)
    return Refusal(contract.id, _proposal(client, contract, "indicator", change))


def _vision(client: TestClient, contract: ActiveContract) -> str:
    vision = s.agree(client, contract, "goal", s.goal_add("vision", "Everyone at home"))
    node_id: str = vision["createdIds"]["nodeId"]
    return node_id


def _goal_has_children(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    vision_id = _vision(client, contract)
    s.agree(client, contract, "goal", s.goal_add("effect", "Fewer crises", vision_id))
    change = {"action": "retire", "level": "vision", "nodeId": vision_id}
    return Refusal(contract.id, _proposal(client, contract, "goal", change))


def _goal_parent_invalid(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    vision_id = _vision(client, contract)
    # A result must hang under an effect, not under the vision.
    change = s.goal_add("result", "Quick help", vision_id)
    return Refusal(contract.id, _proposal(client, contract, "goal", change))


def _vision_exists(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    _vision(client, contract)
    change = s.goal_add("vision", "A second vision")
    return Refusal(contract.id, _proposal(client, contract, "goal", change))


def _unknown_goal(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    change = {"action": "revise", "level": "effect", "nodeId": "nope", "text": "X"}
    return Refusal(contract.id, _proposal(client, contract, "goal", change))


def _unknown_indicator(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    url = contract.url("/indicators/nope/measurements")
    return Refusal(contract.id, _post(client, url, s.measurement_body()))


def _indicator_retired(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    indicator_id = s.agreed_indicator(client, contract)
    s.agree(client, contract, "indicator", {"action": "retire", "indicatorId": indicator_id})
    url = contract.url(f"/indicators/{indicator_id}/measurements")
    return Refusal(contract.id, _post(client, url, s.measurement_body()))


def _indicator_version_superseded(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    indicator_id = s.agreed_indicator(client, contract)
    s.agree(
        client,
        contract,
        "indicator",
        {"action": "revise", "indicatorId": indicator_id, "definition": "Sharper"},
    )
    url = contract.url(f"/indicators/{indicator_id}/measurements")
    return Refusal(contract.id, _post(client, url, {**s.measurement_body(), "indicatorVersion": 1}))


def _contract_closed(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    response = client.post(
        contract.url("/termination"), headers=s.commissioner(), json={"reason": "Failed"}
    )
    assert response.status_code == 200
    return Refusal(contract.id, _post(client, contract.url("/sessions"), s.session_body()))


def _contract_not_active(client: TestClient) -> Refusal:
    contract_id = s.open_contract(client)
    s.admit(client, contract_id, s.PROVIDER_A_ORG)
    contract = ActiveContract(contract_id, s.hold_session(client, contract_id))  # still a draft
    return Refusal(
        contract_id, _proposal(client, contract, "scope_refinement", {"assignment": "X"})
    )


def _invalid_transition(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    return Refusal(contract.id, _post(client, contract.url("/resumption"), {"reason": "x"}))


def _no_providers(client: TestClient) -> Refusal:
    contract_id = s.open_contract(client)
    return Refusal(contract_id, _post(client, f"{API}/contracts/{contract_id}/activation", {}))


def _open_proposal(client: TestClient) -> tuple[ActiveContract, str]:
    contract = s.active_contract(client)
    proposal = s.propose(client, contract, "scope_refinement", {"assignment": "Sharper"})
    return contract, proposal["proposalId"]


def _already_consented(client: TestClient) -> Refusal:
    contract, proposal_id = _open_proposal(client)
    url = contract.url(f"/proposals/{proposal_id}/consents")
    return Refusal(contract.id, _post(client, url, {}))


def _proposal_not_open(client: TestClient) -> Refusal:
    contract, proposal_id = _open_proposal(client)
    s.consent(client, contract, proposal_id, s.provider_a())
    s.consent(client, contract, proposal_id, s.provider_b())  # agreed
    url = contract.url(f"/proposals/{proposal_id}/consents")
    return Refusal(contract.id, _post(client, url, {}, s.provider_a()))


def _unknown_proposal(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    url = contract.url("/proposals/no-such-proposal/consents")
    return Refusal(contract.id, _post(client, url, {}, s.provider_a()))


def _effective_before_dependency(client: TestClient) -> Refusal:
    # An allocation that would take effect before the contract's opening (the term's start).
    contract = s.active_contract(client)
    change = s.adjustment(
        effectiveOn="2024-12-01", allocations=[{"org": s.PROVIDER_A_ORG, "amount": "1.00"}]
    )
    return Refusal(contract.id, _proposal(client, contract, "adjustment", change))


def _reference_taken(client: TestClient) -> Refusal:
    contract_id = s.open_contract(client, "WMO-2025-017")
    return Refusal(contract_id, _post(client, f"{API}/contracts", s.contract_body("WMO-2025-017")))


def _provider_already_admitted(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    return Refusal(
        contract.id, _post(client, contract.url("/providers"), s.provider_body("zorg-a"))
    )


def _not_invited(client: TestClient) -> Refusal:
    contract = s.active_contract(client)  # zorg-a accepted already
    return Refusal(
        contract.id, _post(client, contract.url("/providers/zorg-a/acceptance"), {}, s.provider_a())
    )


def _already_public(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    assert _post(client, contract.url("/disclosure"), {"reason": "Woo"})().status_code == 200
    return Refusal(contract.id, _post(client, contract.url("/disclosure"), {"reason": "Woo"}))


def _not_public(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    return Refusal(
        contract.id, _post(client, contract.url("/disclosure/withdrawal"), {"reason": "x"})
    )


def _unknown_grant(client: TestClient) -> Refusal:
    contract = s.active_contract(client)
    return Refusal(
        contract.id,
        _post(client, contract.url("/access-grants/nope/revocation"), {"reason": "done"}),
    )


RULES: dict[str, Rule] = {
    "already-public": _already_public,
    "not-public": _not_public,
    "not-invited": _not_invited,
    "unknown-grant": _unknown_grant,
    "ceiling-exceeded": _adjust(allocations=[{"org": "zorg-a", "amount": "1000000.01"}]),
    # The value of a change is computed from it: a raise declared as worth nothing still counts.
    "justification-required": _adjust(
        ceiling="99999999.00", decisionRef="Raadsbesluit 2026-7", value="0.00"
    ),
    "reallocation-unbalanced": _reallocation_unbalanced,
    "decision-required": _adjust(ceiling="1200000.00"),
    "invalid-term": _adjust(termEnd="2027-12-31"),
    "unknown-provider": _adjust(allocations=[{"org": "zorg-x", "amount": "1000.00"}]),
    "unknown-session": _unknown_session,
    "target-needs-baseline": _target_needs_baseline,
    "goal-has-children": _goal_has_children,
    "goal-parent-invalid": _goal_parent_invalid,
    "vision-exists": _vision_exists,
    "unknown-goal": _unknown_goal,
    "unknown-indicator": _unknown_indicator,
    "indicator-retired": _indicator_retired,
    "indicator-version-superseded": _indicator_version_superseded,
    "contract-closed": _contract_closed,
    "contract-not-active": _contract_not_active,
    "invalid-transition": _invalid_transition,
    "no-providers": _no_providers,
    "already-consented": _already_consented,
    "proposal-not-open": _proposal_not_open,
    "unknown-proposal": _unknown_proposal,
    "reference-taken": _reference_taken,
    "effective-before-dependency": _effective_before_dependency,
    "provider-already-admitted": _provider_already_admitted,
}

NOT_REACHABLE = {
    # The schema requires a non-empty sessionId: the API answers 400 before the rule.
    "session-required": "sessionId is required by the request schema (400)",
    # No HTTP endpoint corrects records (yet).
    "unknown-version": "no correction endpoint",
    "invalid-correction": "no correction endpoint",
    # Needs a second request with the same key while the first is still running in this
    # process; not deterministic through TestClient.
    "idempotency-key-in-flight": "needs two overlapping requests",
    # The transparency log's own rules, tried over HTTP in tests/api/test_witnesses.py and on
    # real stores in tests/integration/test_checkpoints.py.
    "witness-conflict": "tried in tests/api/test_witnesses.py",
    "cosignature-refused": "tried in tests/api/test_witnesses.py",
    "log-inconsistent": "tried in tests/integration/test_checkpoints.py",
    # Not a contract command: POST /erasures, tried in tests/api/test_erasures.py.
    "nothing-to-erase": "tried in tests/api/test_erasures.py",
}


def test_every_409_rule_is_tried_or_explained() -> None:
    """Every error the problem table maps to 409 (the domain's rules and the application's own)
    is tried above or explained in NOT_REACHABLE."""
    conflicts = {
        cls.code for cls in ALL_DOMAIN_ERRORS if cls is not DomainError and _status(cls) == 409
    }
    conflicts |= {
        str(getattr(cls, "code", ""))
        for cls, (status, _) in ERROR_STATUS.items()
        if status == 409 and cls is not DomainError
    }
    assert conflicts == set(RULES) | set(NOT_REACHABLE)


def _status(cls: type[DomainError]) -> int:
    found = _status_for(cls.__new__(cls))  # looked up by class
    return found[0] if found else 500


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_refusal_is_409_and_changes_nothing(client: TestClient, code: str) -> None:
    refusal = RULES[code](client)
    before = client.get(f"{API}/contracts/{refusal.contract_id}", headers=s.commissioner())
    assert before.status_code == 200
    response = refusal.send()
    problem = s.assert_problem(response, 409, code)
    assert problem["title"]
    after = client.get(f"{API}/contracts/{refusal.contract_id}", headers=s.commissioner())
    assert after.json()["version"] == before.json()["version"]
    assert after.headers["etag"] == before.headers["etag"]
    assert after.headers["contract-digest"] == before.headers["contract-digest"]
    assert after.json() == before.json()
