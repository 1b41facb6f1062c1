"""Proposal packages over HTTP (issue 10, point 7): `kind: package` with `changes: [...]`,
agreed or rejected together; the single `change` form keeps working."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support import api as s


def _chain(client: TestClient, active: s.ActiveContract) -> str:
    """vision ← effect, agreed; returns the effect's node id."""
    vision = s.agree(client, active, "goal", s.goal_add("vision", "Inwoners doen mee"))
    effect = s.agree(
        client,
        active,
        "goal",
        s.goal_add("effect", "Minder terugval", vision["createdIds"]["nodeId"]),
    )
    node_id: str = effect["createdIds"]["nodeId"]
    return node_id


def _package(effect_id: str, **indicator: Any) -> dict[str, Any]:
    return {
        "sessionId": "",
        "kind": "package",
        "rationale": "Resultaat en indicator in één keer afgesproken",
        "changes": [
            {
                "kind": "goal",
                "change": {
                    "action": "add",
                    "level": "result",
                    "parentId": effect_id,
                    "text": "Binnen twee weken een plan",
                    "effectiveOn": "2025-04-01",
                },
            },
            {
                "kind": "indicator",
                "change": {**s.indicator_add(), "resultId": "#0", "effectiveOn": "2025-04-01"},
            },
        ],
    }


def test_a_goal_branch_with_its_indicator_is_agreed_together(
    client: TestClient, active: s.ActiveContract
) -> None:
    effect_id = _chain(client, active)
    body = {**_package(effect_id), "sessionId": active.session_id}
    response = client.post(active.url("/proposals"), headers=s.commissioner(), json=body)
    assert response.status_code == 201, response.text
    proposal = response.json()
    assert proposal["kind"] == "package"
    assert [c["kind"] for c in proposal["change"]["changes"]] == ["goal", "indicator"]
    node_id = proposal["createdIds"]["changes[0].nodeId"]
    indicator_id = proposal["createdIds"]["changes[1].indicatorId"]
    assert proposal["change"]["changes"][1]["change"]["resultId"] == node_id
    before = s.read_contract(client, active)
    assert all(g["nodeId"] != node_id for g in before["goals"])
    s.consent(client, active, proposal["proposalId"], s.provider_a())
    agreed = s.consent(client, active, proposal["proposalId"], s.provider_b())
    assert agreed["status"] == "agreed"
    after = s.read_contract(client, active)
    assert any(g["nodeId"] == node_id for g in after["goals"])
    (indicator,) = [i for i in after["indicators"] if i["indicatorId"] == indicator_id]
    assert indicator["resultId"] == node_id
    # In force before the package's day: neither the result nor its indicator.
    march = client.get(active.path, headers=s.reader(), params={"inForceOn": "2025-03-31"})
    assert all(g["nodeId"] != node_id for g in march.json()["goals"])
    assert march.json()["indicators"] == []


def test_a_package_with_a_broken_change_names_it_and_stores_nothing(
    client: TestClient, active: s.ActiveContract
) -> None:
    effect_id = _chain(client, active)
    body = {**_package(effect_id), "sessionId": active.session_id}
    body["changes"][1]["change"]["resultId"] = "#1"  # names itself, not an earlier change
    version = s.read_contract(client, active)["version"]
    response = client.post(active.url("/proposals"), headers=s.commissioner(), json=body)
    problem = s.assert_problem(response, 400, "invalid-value")
    assert problem["invalidParams"][0]["name"] == "changes"
    # A rule broken inside the second change is a 409 naming that change.
    body["changes"][1]["change"]["resultId"] = effect_id  # an effect, not a result
    response = client.post(active.url("/proposals"), headers=s.commissioner(), json=body)
    problem = s.assert_problem(response, 409, "unknown-goal")
    assert problem["detail"].startswith("change 2 of the package")
    assert s.read_contract(client, active)["version"] == version


def test_a_package_body_is_validated_per_change_by_json_path(
    client: TestClient, active: s.ActiveContract
) -> None:
    body = {**_package("x"), "sessionId": active.session_id}
    body["changes"][1]["change"]["unit"] = "x" * 41
    body["changes"][0]["change"]["level"] = "galaxy"
    response = client.post(active.url("/proposals"), headers=s.commissioner(), json=body)
    problem = s.assert_problem(response, 400, "invalid-request")
    names = {p["name"] for p in problem["invalidParams"]}
    assert {"changes[0].change.level", "changes[1].change.unit"} <= names, names


def test_a_rejected_package_changes_nothing(client: TestClient, active: s.ActiveContract) -> None:
    effect_id = _chain(client, active)
    body = {**_package(effect_id), "sessionId": active.session_id}
    proposal = client.post(active.url("/proposals"), headers=s.commissioner(), json=body).json()
    before = s.read_contract(client, active)
    response = client.post(
        active.url(f"/proposals/{proposal['proposalId']}/rejection"),
        headers=s.provider_a(),
        json={"reason": "Eerst de nulmeting"},
    )
    assert response.status_code == 200, response.text
    after = s.read_contract(client, active)
    assert after["goals"] == before["goals"]
    assert after["indicators"] == before["indicators"]
