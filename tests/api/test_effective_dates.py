"""Effective dates over HTTP (issue 10, point 2): every command takes `effectiveOn`; a fact may
not take effect before a fact it depends on (409 effective-before-dependency, naming both);
`inForceOn` shows a contract that could have existed, is 404 not-in-force before the opening,
and — like `asOf` — answers with `Contract-Version` and a weak ETag, never a version's ETag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from domain.values import local_date
from tests.support import api as s
from tests.support.api import API


def _opened_with_provider_from(client: TestClient, accepted_on: str) -> str:
    """Opened on the term's start (2025-01-01); zorg-a invited then and accepting on
    `accepted_on`; active from that day."""
    contract_id = s.open_contract(client)
    s.admit(client, contract_id, s.PROVIDER_A_ORG)
    response = client.post(
        f"{API}/contracts/{contract_id}/providers/{s.PROVIDER_A_ORG}/acceptance",
        headers=s.provider_a(),
        json={"effectiveOn": accepted_on},
    )
    assert response.status_code == 200, response.text
    response = client.post(
        f"{API}/contracts/{contract_id}/activation",
        headers=s.commissioner(),
        json={"effectiveOn": accepted_on},
    )
    assert response.status_code == 200, response.text
    return contract_id


def test_a_fact_before_what_it_depends_on_is_refused_naming_both(client: TestClient) -> None:
    contract_id = _opened_with_provider_from(client, "2025-06-01")
    before = client.get(f"{API}/contracts/{contract_id}", headers=s.commissioner()).json()
    # A session in February names zorg-a, which only became a party in June.
    response = client.post(
        f"{API}/contracts/{contract_id}/sessions",
        headers=s.commissioner(),
        json=s.session_body("2025-02-03"),
    )
    problem = s.assert_problem(response, 409, "effective-before-dependency")
    assert problem["effectiveOn"] == "2025-02-03"
    assert problem["dependsOn"]["event"] == "ProviderAccepted"
    assert problem["dependsOn"]["effectiveOn"] == "2025-06-01"
    assert problem["dependsOn"]["version"] == 3
    assert "2025-06-01" in problem["detail"] and "2025-02-03" in problem["detail"]
    after = client.get(f"{API}/contracts/{contract_id}", headers=s.commissioner()).json()
    assert after["version"] == before["version"]
    # Activation before the first provider accepted: refused too.
    other = s.open_contract(client, "WMO-2025-018")
    s.admit(client, other, s.PROVIDER_A_ORG)
    client.post(
        f"{API}/contracts/{other}/providers/{s.PROVIDER_A_ORG}/acceptance",
        headers=s.provider_a(),
        json={"effectiveOn": "2025-03-01"},
    )
    early = client.post(
        f"{API}/contracts/{other}/activation",
        headers=s.commissioner(),
        json={"effectiveOn": "2025-02-01"},
    )
    assert s.assert_problem(early, 409, "effective-before-dependency")["dependsOn"]["event"] == (
        "ProviderAccepted"
    )


def test_an_allocation_takes_effect_after_its_providers_acceptance(client: TestClient) -> None:
    contract_id = _opened_with_provider_from(client, "2025-06-01")
    session = client.post(
        f"{API}/contracts/{contract_id}/sessions",
        headers=s.commissioner(),
        json=s.session_body("2025-06-10"),
    )
    assert session.status_code == 201, session.text
    contract = s.ActiveContract(contract_id, session.json()["sessionId"])
    allocation = [{"org": s.PROVIDER_A_ORG, "amount": "100000.00"}]
    early = client.post(
        contract.url("/proposals"),
        headers=s.commissioner(),
        json=s.proposal_body(
            contract.session_id,
            "adjustment",
            s.adjustment(effectiveOn="2025-03-01", allocations=allocation),
        ),
    )
    problem = s.assert_problem(early, 409, "effective-before-dependency")
    # It stands on the provider's acceptance and on the activation, both of 1 June.
    assert problem["dependsOn"]["what"] in (
        f"ProviderAccepted of provider {s.PROVIDER_A_ORG}",
        "ContractActivated",
    )
    assert problem["dependsOn"]["effectiveOn"] == "2025-06-01"
    s.agree(
        client,
        contract,
        "adjustment",
        s.adjustment(effectiveOn="2025-07-01", allocations=allocation),
        consenting=[s.provider_a()],
    )
    # In force in May: no provider yet, no money, still a draft — as it was.
    may = client.get(contract.path, headers=s.reader(), params={"inForceOn": "2025-05-15"})
    assert may.status_code == 200, may.text
    assert may.json()["status"] == "draft"
    assert [p["org"] for p in may.json()["providers"]] == [s.PROVIDER_A_ORG]
    assert may.json()["providers"][0]["status"] == "invited"
    assert may.json()["financialFramework"]["allocated"] == "0.00"
    june = client.get(contract.path, headers=s.reader(), params={"inForceOn": "2025-06-15"})
    assert june.json()["status"] == "active"
    assert june.json()["financialFramework"]["allocated"] == "0.00"
    july = client.get(contract.path, headers=s.reader(), params={"inForceOn": "2025-07-01"})
    assert july.json()["financialFramework"]["allocated"] == "100000.00"


def test_in_force_before_the_opening_is_not_in_force(client: TestClient) -> None:
    contract_id = s.open_contract(client)
    response = client.get(
        f"{API}/contracts/{contract_id}", headers=s.reader(), params={"inForceOn": "2024-12-31"}
    )
    problem = s.assert_problem(response, 404, "not-in-force")
    assert "2025-01-01" in problem["detail"]
    # The opening takes effect on the term's start unless said otherwise.
    later = s.open_contract(client, "WMO-2025-019", effectiveOn="2025-03-01")
    response = client.get(
        f"{API}/contracts/{later}", headers=s.reader(), params={"inForceOn": "2025-02-01"}
    )
    s.assert_problem(response, 404, "not-in-force")


def test_time_travel_reads_carry_no_version_etag(
    client: TestClient, active: s.ActiveContract
) -> None:
    head = client.get(active.path, headers=s.reader())
    version = s.contract_version(head)
    for params in (
        {"inForceOn": "2025-06-01"},
        {"asOf": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()},
    ):
        response = client.get(active.path, headers=s.reader(), params=params)
        assert response.status_code == 200, response.text
        assert response.headers["contract-version"] == str(version)
        assert response.headers["etag"].startswith('W/"'), response.headers["etag"]
        assert response.headers["etag"] != f'"{version}"'
        assert response.headers["contract-digest"] == head.headers["contract-digest"]
    # A version read is a version: its ETag stays the version.
    at_version = client.get(active.path, headers=s.reader(), params={"version": version})
    assert at_version.headers["etag"] == f'"{version}"'


def test_a_record_cannot_take_effect_after_today(
    client: TestClient, active: s.ActiveContract
) -> None:
    tomorrow = (local_date(datetime.now(UTC)) + timedelta(days=2)).isoformat()
    response = client.post(
        active.url("/publications"),
        headers=s.commissioner(),
        json={"audience": "raad", "channel": "brief", "summary": "x", "effectiveOn": tomorrow},
    )
    problem = s.assert_problem(response, 400)
    assert problem["invalidParams"][0]["name"] == "effectiveOn"


def test_every_command_body_accepts_effective_on(client: TestClient) -> None:
    """The OpenAPI document offers `effectiveOn` on every command body that has no date of its
    own (sessions, measurements, consultations and evaluations have theirs)."""
    document = client.get(f"{API}/openapi.json").json()
    own_date = {
        "SessionCreate",
        "MeasurementCreate",
        "MeasurementBatchCreate",
        "ConsultationCreate",
        "EvaluationCreate",
    }
    # The transparency log's witnesses and their cosignatures, and webhook subscriptions, are
    # not facts about a contract; an erasure happens when its keys are destroyed, not on a day
    # one could choose.
    not_contract_facts = {
        "WitnessCreate",
        "CosignatureCreate",
        "SubscriptionCreate",
        "ErasureCreate",
    }
    missing = []
    for path, item in document["paths"].items():
        operation = item.get("post")
        if not operation or "requestBody" not in operation:
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]
        names = [r["$ref"].rsplit("/", 1)[1] for r in ref.get("oneOf", [ref]) if "$ref" in r]
        for name in names:
            schema = document["components"]["schemas"][name]
            if name in not_contract_facts:
                continue
            if name not in own_date and "effectiveOn" not in schema.get("properties", {}):
                missing.append((path, name))
    assert missing == []


def test_a_contract_prepared_before_its_term_starts(client: TestClient) -> None:
    """Facts recorded before the term starts take effect with the opening; a preparatory
    session may be held before it; in force from the term's start, not before."""
    start = date(local_date(datetime.now(UTC)).year + 1, 1, 1)
    term = {"start": start.isoformat(), "end": f"{start.year + 3}-12-31"}
    contract_id = s.open_contract(client, "WMO-NEXT-001", term=term)
    path = f"{API}/contracts/{contract_id}"
    admitted = client.post(
        f"{path}/providers",
        headers=s.commissioner(),
        json=s.provider_body(s.PROVIDER_A_ORG) | {"effectiveOn": None},
    )
    assert admitted.status_code == 201, admitted.text
    for url, headers in (
        (f"{path}/providers/{s.PROVIDER_A_ORG}/acceptance", s.provider_a()),
        (f"{path}/activation", s.commissioner()),
    ):
        response = client.post(url, headers=headers, json={})
        assert response.status_code == 200, response.text
    session = client.post(
        f"{path}/sessions",
        headers=s.commissioner(),
        json=s.session_body(local_date(datetime.now(UTC)).isoformat()),
    )
    assert session.status_code == 201, session.text
    history = client.get(f"{path}/history", headers=s.auditor()).json()["items"]
    by_type = {e["type"]: e["effectiveOn"] for e in history}
    assert by_type["ProviderAccepted"] == start.isoformat()
    assert by_type["ContractActivated"] == start.isoformat()
    today = client.get(
        path, headers=s.reader(), params={"inForceOn": local_date(datetime.now(UTC)).isoformat()}
    )
    s.assert_problem(today, 404, "not-in-force")
    later = client.get(path, headers=s.reader(), params={"inForceOn": start.isoformat()})
    assert later.json()["status"] == "active"
