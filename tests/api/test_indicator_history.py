"""An indicator's history in one call (issue 10, point 8): every version with who proposed it,
who consented and when, in which session, and why."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import api as s


def test_every_version_with_the_dialogue_behind_it(
    client: TestClient, active: s.ActiveContract
) -> None:
    indicator_id = s.agreed_indicator(client, active)
    later = s.ActiveContract(active.id, s.hold_session(client, active.id, headers=s.provider_a()))
    proposal = s.propose(
        client,
        later,
        "indicator",
        {
            "action": "revise",
            "indicatorId": indicator_id,
            "target": {"value": "95", "dueOn": "2027-12-31"},
            "effectiveOn": "2025-06-01",
        },
        headers=s.provider_a(),
    )
    consent = client.post(
        later.url(f"/proposals/{proposal['proposalId']}/consents"),
        headers=s.commissioner(),
        json={"sessionId": later.session_id},
    )
    assert consent.status_code == 200, consent.text
    s.consent(client, later, proposal["proposalId"], s.provider_b())
    s.agree(client, later, "indicator", {"action": "retire", "indicatorId": indicator_id})

    response = client.get(active.url(f"/indicators/{indicator_id}/history"), headers=s.reader())
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{s.read_contract(client, active)["version"]}"'
    body = response.json()
    assert body["indicatorId"] == indicator_id
    first, second, retired = body["versions"]
    assert (first["version"], first["change"]) == (1, "agreed")
    assert first["indicator"]["target"] == {"value": "90", "dueOn": "2026-12-31"}
    assert first["sessionId"] == active.session_id and first["sessionHeldOn"] == "2025-02-03"
    assert first["proposedBy"]["org"] == "gemeente-utrecht"
    assert sorted(c["party"] for c in first["consents"]) == [s.PROVIDER_A_ORG, s.PROVIDER_B_ORG]

    assert (second["version"], second["change"]) == (2, "agreed")
    assert second["indicator"]["target"] == {"value": "95", "dueOn": "2027-12-31"}
    assert second["effectiveOn"] == "2025-06-01"
    assert second["proposedBy"]["org"] == s.PROVIDER_A_ORG
    assert second["reason"]  # the proposal's rationale
    by_party = {c["party"]: c for c in second["consents"]}
    # The commissioner consented in the session it named; zorg-b named none.
    assert by_party["gemeente-utrecht"]["sessionId"] == later.session_id
    assert by_party[s.PROVIDER_B_ORG]["sessionId"] is None
    assert by_party["gemeente-utrecht"]["at"] <= second["agreedAt"]

    assert retired["change"] == "retired"
    assert retired["indicator"]["status"] == "retired"
    assert retired["version"] == 2

    unknown = client.get(active.url("/indicators/nope/history"), headers=s.reader())
    s.assert_problem(unknown, 404)
    outsider = client.get(active.url(f"/indicators/{indicator_id}/history"), headers=s.outsider())
    s.assert_problem(outsider, 404)
