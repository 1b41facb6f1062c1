"""`POST /api/v1/erasures` (issue 12, point 4): a privacy officer of the commissioner erases a
record's or a person's personal texts; they read `[gewist]` from then on and the chain still
verifies. Every refusal is problem+json and stores nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support import api as s
from tests.support import people
from tests.support.api import API

SESSION_VERSION = 7  # s.active_contract: opened, 2 admitted, 2 accepted, activated, session
PRIVACY_OFFICER = s.token_for(
    people.GEMEENTE_UTRECHT.id, "privacy_officer", sub="piet", name="Piet Privacy"
)
PROVIDER_PRIVACY_OFFICER = s.token_for(people.ZORG_A.id, "privacy_officer", sub="pia")


def erasure(**target: Any) -> dict[str, Any]:
    return {"reason": "Verzoek van betrokkene", "legalBasis": "AVG art. 17 lid 1", **target}


def version_of(client: TestClient, contract: s.ActiveContract) -> int:
    return s.contract_version(client.get(contract.path, headers=s.commissioner()))


def test_a_privacy_officer_erases_a_record_and_the_chain_still_verifies(
    client: TestClient, active: s.ActiveContract
) -> None:
    erased = client.post(
        f"{API}/erasures",
        headers=PRIVACY_OFFICER,
        json=erasure(recordRef={"contractId": active.id, "version": SESSION_VERSION}),
    )

    assert erased.status_code == 201, erased.text
    [done] = erased.json()["erasures"]
    assert done["contractId"] == active.id and done["version"] == SESSION_VERSION + 1
    assert done["keysDestroyed"] >= 1
    session = s.read_records(client, active, "sessions", s.provider_a())[0]
    assert {p["name"] for p in session["participants"]} == {"[gewist]"}
    assert session["summary"] == "[gewist]"
    history = client.get(active.url("/history"), headers=s.auditor()).json()["items"]
    assert history[-1]["type"] == "PersonalDataErased"
    recorded = history[SESSION_VERSION - 1]["data"]
    assert {p["name"] for p in recorded["participants"]} == {"[gewist]"}
    assert people.BOB.name not in str(recorded)
    verified = client.get(active.url("/verification"), headers=s.auditor())
    assert verified.status_code == 200 and verified.json()["valid"] is True


def test_a_person_is_erased_as_actor_in_every_contract_of_the_commissioner(
    client: TestClient, active: s.ActiveContract
) -> None:
    other = s.active_contract(client, "WMO-2025-018")

    erased = client.post(
        f"{API}/erasures", headers=PRIVACY_OFFICER, json=erasure(subject=people.ANN.subject)
    )

    assert erased.status_code == 201, erased.text
    assert {d["contractId"] for d in erased.json()["erasures"]} == {active.id, other.id}
    for contract in (active, other):
        history = client.get(contract.url("/history"), headers=s.auditor()).json()["items"]
        by_ann = [e for e in history if e["actor"]["sub"] == people.ANN.subject]
        assert by_ann and {e["actor"]["name"] for e in by_ann} == {"[gewist]"}
    again = client.post(
        f"{API}/erasures", headers=PRIVACY_OFFICER, json=erasure(subject=people.ANN.subject)
    )
    s.assert_problem(again, 409, "nothing-to-erase")


def test_refusals_are_problems_and_store_nothing(
    client: TestClient, active: s.ActiveContract
) -> None:
    before = version_of(client, active)
    record = {"recordRef": {"contractId": active.id, "version": SESSION_VERSION}}
    cases = [
        (s.commissioner(), erasure(**record), 403, None),
        (s.auditor(), erasure(**record), 403, None),
        (PROVIDER_PRIVACY_OFFICER, erasure(**record), 403, None),
        (s.no_token(), erasure(**record), 401, None),
        (PRIVACY_OFFICER, erasure(), 400, None),
        (PRIVACY_OFFICER, erasure(subject="ann", **record), 400, None),
        (PRIVACY_OFFICER, {"recordRef": record["recordRef"]}, 400, None),
        (
            PRIVACY_OFFICER,
            erasure(recordRef={"contractId": active.id, "version": 99}),
            400,
            None,
        ),
        (
            PRIVACY_OFFICER,
            erasure(recordRef={"contractId": "0" * 32, "version": 1}),
            404,
            None,
        ),
        (PRIVACY_OFFICER, erasure(recordRef={"contractId": "x", "version": 1}), 400, None),
        (PRIVACY_OFFICER, erasure(subject="nobody-we-know"), 409, "nothing-to-erase"),
    ]
    for headers, body, status, code in cases:
        response = client.post(f"{API}/erasures", headers=headers, json=body)
        s.assert_problem(response, status, code)
    assert version_of(client, active) == before
    session = s.read_records(client, active, "sessions")[0]
    assert people.BOB.name in {p["name"] for p in session["participants"]}
