"""Dialogue router over HTTP: sessions, proposals of all four kinds through to `agreed` (with
the ids they create), consent, rejection and withdrawal."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.support import api as s
from tests.support.api import ActiveContract


def test_hold_session(client: TestClient, active: ActiveContract) -> None:
    response = client.post(active.url("/sessions"), headers=s.provider_b(), json=s.session_body())
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["sessionId"])
    assert body == {
        "sessionId": body["sessionId"],
        "heldOn": "2025-02-03",
        "kind": "dialogue",
        "participants": [
            {
                "name": "Ann de Vries",
                "org": "gemeente-utrecht",
                "role": "contract manager",
                "external": False,
            },
            {"name": "Bob Bakker", "org": "zorg-a", "role": "director", "external": False},
        ],
        "minutesRef": "NOT-2025-02",
        "summary": "Kick-off of the dialogue",
    }


def test_proposal_is_open_with_the_proposers_consent(
    client: TestClient, active: ActiveContract
) -> None:
    response = client.post(
        active.url("/proposals"),
        headers=s.provider_a(),
        json=s.proposal_body(active.session_id, "scope_refinement", {"assignment": "Sharper"}),
    )
    assert response.status_code == 201
    proposal = response.json()
    assert proposal["status"] == "open"
    assert proposal["kind"] == "scope_refinement"
    assert proposal["sessionId"] == active.session_id
    assert proposal["consents"] == ["zorg-a"]
    assert proposal["awaiting"] == ["gemeente-utrecht", "zorg-b"]
    assert proposal["change"] == {"assignment": "Sharper"}
    assert proposal["proposedBy"] == {
        "sub": "bob", "name": "Bob Bakker", "org": "zorg-a", "role": "contract_manager",
    }  # fmt: skip
    assert proposal["closedBy"] is None
    assert proposal["createdIds"] == {}
    read = client.get(active.url(f"/proposals/{proposal['proposalId']}"), headers=s.reader())
    assert read.status_code == 200
    assert read.json() == proposal


def test_scope_refinement_agreed(client: TestClient, active: ActiveContract) -> None:
    proposal = s.propose(client, active, "scope_refinement", {"assignment": "Sharper scope"})
    half = s.consent(client, active, proposal["proposalId"], s.provider_a())
    assert half["status"] == "open"
    assert half["consents"] == ["gemeente-utrecht", "zorg-a"]
    assert half["awaiting"] == ["zorg-b"]
    agreed = s.consent(client, active, proposal["proposalId"], s.provider_b())
    assert agreed["status"] == "agreed"
    assert agreed["awaiting"] == []
    assert sorted(agreed["consents"]) == ["gemeente-utrecht", "zorg-a", "zorg-b"]
    assert s.read_contract(client, active)["assignment"] == "Sharper scope"


def test_goal_chain_agreed_with_node_ids(client: TestClient, active: ActiveContract) -> None:
    vision = s.agree(client, active, "goal", s.goal_add("vision", "Everyone lives at home"))
    vision_id = vision["createdIds"]["nodeId"]
    assert re.fullmatch(r"[0-9a-f]{32}", vision_id)
    effect = s.agree(client, active, "goal", s.goal_add("effect", "Fewer crises", vision_id))
    effect_id = effect["createdIds"]["nodeId"]
    result = s.agree(client, active, "goal", s.goal_add("result", "Quick help", effect_id))
    result_id = result["createdIds"]["nodeId"]
    goals = {g["nodeId"]: g for g in s.read_contract(client, active)["goals"]}
    assert goals[vision_id] == {
        "nodeId": vision_id, "level": "vision", "parentId": None,
        "text": "Everyone lives at home", "deliveredBy": None, "status": "active",
    }  # fmt: skip
    assert goals[effect_id]["parentId"] == vision_id
    assert goals[result_id]["parentId"] == effect_id
    assert goals[result_id]["deliveredBy"] == "mixed"
    revised = s.agree(
        client,
        active,
        "goal",
        {"action": "revise", "level": "result", "nodeId": result_id, "text": "Help in a week"},
    )
    assert revised["createdIds"] == {}
    goals = {g["nodeId"]: g for g in s.read_contract(client, active)["goals"]}
    assert goals[result_id]["text"] == "Help in a week"
    s.agree(client, active, "goal", {"action": "retire", "level": "result", "nodeId": result_id})
    goals = {g["nodeId"]: g for g in s.read_contract(client, active)["goals"]}
    assert goals[result_id]["status"] == "retired"


def test_indicator_agreed_with_its_id(client: TestClient, active: ActiveContract) -> None:
    agreed = s.agree(client, active, "indicator", s.indicator_add())
    indicator_id = agreed["createdIds"]["indicatorId"]
    assert agreed["change"]["indicatorId"] == indicator_id
    (indicator,) = s.read_contract(client, active)["indicators"]
    assert indicator == {
        "indicatorId": indicator_id,
        "version": 1,
        "name": "Residents helped within two weeks",
        "definition": "Share of requests answered within 14 days",
        "unit": "%",
        "direction": "higher_is_better",
        "baseline": {"value": "60", "measuredOn": "2024-12-31", "source": "Monitor 2024"},
        "target": {"value": "90", "dueOn": "2026-12-31"},
        "frequency": "quarterly",
        "dataSource": "Case registration",
        "resultId": None,
        "status": "active",
        "latestMeasurement": None,
    }


def test_adjustment_agreed_moves_money(client: TestClient, active: ActiveContract) -> None:
    change = s.adjustment(
        allocations=[
            {"org": "zorg-a", "amount": "400000.00"},
            {"org": "zorg-b", "amount": "350000.50"},
        ]
    )
    agreed = s.agree(client, active, "adjustment", change)
    assert agreed["createdIds"] == {}
    framework = s.read_contract(client, active)["financialFramework"]
    assert framework["allocations"] == [
        {"org": "zorg-a", "amount": "400000.00"},
        {"org": "zorg-b", "amount": "350000.50"},
    ]
    assert framework["allocated"] == "750000.50"
    ceiling = s.agree(
        client,
        active,
        "adjustment",
        s.adjustment(
            ceiling="1050000.00",
            decisionRef="RB-2025-12",
            value="50000.00",
            termEnd="2029-12-31",
            justification="Unforeseeable rise in demand (art. 72(1)(c))",
        ),
    )
    assert ceiling["status"] == "agreed"
    body = s.read_contract(client, active)
    framework = body["financialFramework"]
    assert framework["ceiling"] == "1050000.00"
    # Valued from the change, not the declared 50,000: the yearly ceiling rises by 50,000 for the
    # 46 months left (191,666.67) and the extra year counts at the new ceiling (1,050,000).
    assert framework["initialValue"] == "4000000.00"
    assert framework["changeLimit"] == "400000.00"
    assert framework["cumulativeChangeValue"] == "1241666.67"
    assert framework["changeLimitExceeded"] is True
    assert [(c["value"], c["possiblySubstantialChange"]) for c in framework["changes"]] == [
        ("1241666.67", True)
    ]
    assert body["term"] == {"start": "2025-01-01", "end": "2029-12-31"}


def test_rejection_closes_the_proposal(client: TestClient, active: ActiveContract) -> None:
    proposal = s.propose(client, active, "scope_refinement", {"assignment": "Other"})
    response = client.post(
        active.url(f"/proposals/{proposal['proposalId']}/rejection"),
        headers=s.provider_b(),
        json={"reason": "Not feasible"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected"
    assert body["closingReason"] == "Not feasible"
    assert body["closedBy"]["org"] == "zorg-b"
    assert body["awaiting"] == []


def test_withdrawal_by_the_proposers_party(client: TestClient, active: ActiveContract) -> None:
    proposal = s.propose(client, active, "scope_refinement", {"assignment": "Other"})
    response = client.post(
        active.url(f"/proposals/{proposal['proposalId']}/withdrawal"),
        headers=s.token_for("gemeente-utrecht", sub="another-manager"),
        json={"reason": "Overtaken"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["closingReason"] == "Overtaken"
    by_provider = s.propose(client, active, "scope_refinement", {"assignment": "X"})
    response = client.post(
        active.url(f"/proposals/{by_provider['proposalId']}/withdrawal"),
        headers=s.provider_a(),
        json={"reason": "Not theirs"},
    )
    s.assert_problem(response, 403, "not-proposer")


def test_unknown_proposal_is_404_on_read(client: TestClient, active: ActiveContract) -> None:
    response = client.get(active.url("/proposals/nope"), headers=s.reader())
    s.assert_problem(response, 404)


def test_the_body_shows_open_proposals_and_counts_every_proposal(
    client: TestClient, active: ActiveContract
) -> None:
    proposal = s.propose(client, active, "indicator", s.indicator_add())
    body = s.read_contract(client, active)
    assert [p["proposalId"] for p in body["openProposals"]] == [proposal["proposalId"]]
    assert body["openProposals"][0]["awaiting"]
    s.consent(client, active, proposal["proposalId"], s.provider_a())
    agreed = s.consent(client, active, proposal["proposalId"], s.provider_b())
    assert agreed["status"] == "agreed"
    body = s.read_contract(client, active)
    assert body["openProposals"] == []  # closed: only in /proposals
    assert body["counts"]["proposals"] == 1
    assert s.read_records(client, active, "proposals") == [agreed]
