"""Contracts router over HTTP: open, list, read (now, at a version, as of, in force on),
providers, stakeholders, publications and the lifecycle, on every backend."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.support import api as s
from tests.support.api import API, ActiveContract

HEX64 = re.compile(r"^[0-9a-f]{64}$")
ID32 = re.compile(r"^[0-9a-f]{32}$")


def test_open_contract_answers_201_with_location_and_the_contract(client: TestClient) -> None:
    response = client.post(f"{API}/contracts", headers=s.commissioner(), json=s.contract_body())
    assert response.status_code == 201
    body = response.json()
    assert ID32.match(body["id"])
    assert response.headers["location"] == f"{API}/contracts/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert response.headers["contract-digest"] == f"sha-256={body['headDigest']}"
    assert body["reference"] == "WMO-2025-017"
    assert body["title"] == "Integrale wijkondersteuning Noord"
    assert body["status"] == "draft"
    assert body["version"] == 1
    assert body["procedure"] == "dialogue"
    assert body["commissioner"] == {"org": "gemeente-utrecht"}
    assert body["providers"] == []
    assert body["stakeholders"] == []
    assert body["term"] == {"start": "2025-01-01", "end": "2028-12-31"}
    framework = body["financialFramework"]
    assert framework["ceiling"] == "1000000.00"
    assert framework["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert framework["allocations"] == []
    assert framework["allocated"] == "0.00"
    assert framework["cumulativeChangeValue"] == "0.00"
    assert framework["changeLimitExceeded"] is False
    for key in ("goals", "indicators", "openProposals"):
        assert body[key] == [], key
    assert set(body["counts"].values()) == {0}
    for kind in ("sessions", "proposals", "publications", "measurements"):
        assert kind not in body, kind  # a page of its own, counted in the body
    assert HEX64.match(body["headDigest"])
    # The Location answers with the same contract.
    again = client.get(response.headers["location"], headers=s.commissioner())
    assert again.status_code == 200
    assert again.json() == body


def test_contract_json_is_lower_camel_case(client: TestClient, active: ActiveContract) -> None:
    body = s.read_contract(client, active)

    def keys(value: object) -> list[str]:
        if isinstance(value, dict):
            found = list(value)
            for inner in value.values():
                found += keys(inner)
            return found
        if isinstance(value, list):
            return [k for item in value for k in keys(item)]
        return []

    for key in keys(body):
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", key), key


def test_admit_providers_and_activate(client: TestClient) -> None:
    contract_id = s.open_contract(client)
    response = client.post(
        f"{API}/contracts/{contract_id}/providers",
        headers=s.commissioner(),
        json=s.provider_body("zorg-a", "Zorg A"),
    )
    assert response.status_code == 201
    assert response.headers["etag"] == '"2"'
    provider = response.json()["providers"][0]
    assert provider["org"] == "zorg-a"
    assert provider["name"] == "Zorg A"
    assert provider["status"] == "invited"
    assert provider["rationale"] == "Preselected: fits the DNA"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", provider["admittedOn"])
    # Activation needs a provider that accepted: the invitation alone is not enough.
    response = client.post(
        f"{API}/contracts/{contract_id}/activation", headers=s.commissioner(), json={}
    )
    s.assert_problem(response, 409, "no-providers")
    # Only the provider's own people accept; another party cannot do it for them.
    response = client.post(
        f"{API}/contracts/{contract_id}/providers/zorg-a/acceptance",
        headers=s.commissioner(),
        json={},
    )
    s.assert_problem(response, 403, "consent-not-yours")
    response = client.post(
        f"{API}/contracts/{contract_id}/providers/zorg-a/acceptance",
        headers=s.provider_a(),
        json={},
    )
    assert response.status_code == 200
    assert response.json()["providers"][0]["status"] == "active"
    response = client.post(
        f"{API}/contracts/{contract_id}/activation", headers=s.commissioner(), json={}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert response.json()["version"] == 4
    assert response.headers["etag"] == '"4"'


def test_a_provider_sees_the_contract_once_admitted(client: TestClient) -> None:
    contract_id = s.open_contract(client)
    assert client.get(f"{API}/contracts/{contract_id}", headers=s.provider_a()).status_code == 404
    s.admit(client, contract_id, "zorg-a")
    response = client.get(f"{API}/contracts/{contract_id}", headers=s.provider_a())
    assert response.status_code == 200
    assert response.json()["id"] == contract_id


def test_stakeholder_and_publication(client: TestClient, active: ActiveContract) -> None:
    response = client.post(
        active.url("/stakeholders"),
        headers=s.provider_a(),
        json={"name": "Wijkraad Noord", "kind": "residents", "contact": "wijkraad@example.nl"},
    )
    assert response.status_code == 201
    stakeholder = response.json()
    assert set(stakeholder) == {"stakeholderId", "name", "kind", "contact"}
    assert stakeholder["name"] == "Wijkraad Noord"
    assert stakeholder["kind"] == "residents"
    assert stakeholder["contact"] == "wijkraad@example.nl"
    response = client.post(
        active.url("/publications"),
        headers=s.commissioner(),
        json={"audience": "council", "channel": "raadsinformatiebrief", "summary": "Started"},
    )
    assert response.status_code == 201
    publication = response.json()
    assert publication["audience"] == "council"
    assert publication["channel"] == "raadsinformatiebrief"
    assert publication["summary"] == "Started"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", publication["issuedOn"])
    body = s.read_contract(client, active)
    assert body["stakeholders"] == [stakeholder]
    assert body["counts"]["publications"] == 1
    assert s.read_records(client, active, "publications") == [publication]


def test_lifecycle_suspend_resume_complete(client: TestClient, active: ActiveContract) -> None:
    c = s.commissioner()
    response = client.post(active.url("/suspension"), headers=c, json={"reason": "Audit"})
    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    response = client.post(active.url("/resumption"), headers=c, json={"reason": "Audit done"})
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    response = client.post(
        active.url("/completion"),
        headers=c,
        json={"reason": "Delivered early", "decisionRef": "B&W-9"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "completed"


def test_termination(client: TestClient, active: ActiveContract) -> None:
    response = client.post(
        active.url("/termination"), headers=s.commissioner(), json={"reason": "Provider failed"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "terminated"


def test_list_contracts_pages_and_filters(client: TestClient) -> None:
    ids = [s.open_contract(client, f"REF-{n}", title=f"Title {n}") for n in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"{API}/contracts", headers=s.reader(), params=params)
        assert response.status_code == 200
        page = response.json()
        pages += 1
        seen += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5
    assert pages == 3
    summary = client.get(f"{API}/contracts", headers=s.reader(), params={"q": "REF-3"}).json()
    assert [item["id"] for item in summary["items"]] == [ids[3]]
    item = summary["items"][0]
    assert set(item) == {
        "id", "reference", "title", "status", "commissioner", "providers", "version",
        "updatedAt", "headDigest",
    }  # fmt: skip
    assert item["status"] == "draft"
    assert item["commissioner"] == "gemeente-utrecht"
    assert item["providers"] == []
    assert item["version"] == 1
    assert summary["nextCursor"] is None
    drafts = client.get(f"{API}/contracts", headers=s.reader(), params={"status": "active"})
    assert drafts.json() == {"items": [], "nextCursor": None}
    # An outsider lists nothing of ours.
    theirs = client.get(f"{API}/contracts", headers=s.outsider())
    assert theirs.json() == {"items": [], "nextCursor": None}


def test_read_at_a_version_as_of_and_in_force_on(
    client: TestClient, active: ActiveContract
) -> None:
    before = datetime.now(UTC) - timedelta(days=1)
    at_one = client.get(active.path, headers=s.reader(), params={"version": 1})
    assert at_one.status_code == 200
    assert at_one.json()["version"] == 1
    assert at_one.json()["status"] == "draft"
    assert at_one.headers["etag"] == '"1"'
    now = client.get(
        active.path, headers=s.reader(), params={"asOf": datetime.now(UTC).isoformat()}
    )
    assert now.status_code == 200
    assert now.json()["version"] == 7
    too_early = client.get(active.path, headers=s.reader(), params={"asOf": before.isoformat()})
    s.assert_problem(too_early, 400, "invalid-query")
    in_force = client.get(active.path, headers=s.reader(), params={"inForceOn": "2030-01-01"})
    assert in_force.status_code == 200
    assert in_force.json()["status"] == "active"
    beyond = client.get(active.path, headers=s.reader(), params={"version": 99})
    s.assert_problem(beyond, 400, "invalid-query")
