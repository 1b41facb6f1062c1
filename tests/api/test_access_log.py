"""The access log of personal data over HTTP (issue 9, point 5): every read or write of a
contract is recorded with who, what, when, outcome and trace id, and only an organisation's
auditor reads it: its own people's entries and those about the contracts it commissions."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from tests.support import api as s

ACCESS_LOG = f"{s.API}/access-log"


def entries(client: TestClient, headers: s.Headers, **params: object) -> list[dict]:
    response = client.get(ACCESS_LOG, headers=headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]
    return items


def test_reads_and_writes_of_a_contract_are_logged_without_names_or_payloads(
    client: TestClient, active: s.ActiveContract
) -> None:
    read = client.get(active.path, headers=s.commissioner())
    assert read.status_code == 200
    history = client.get(active.url("/history"), headers=s.auditor())
    assert history.status_code == 200
    listed = client.get(f"{s.API}/contracts", headers=s.provider_a())
    assert listed.status_code == 200

    logged = entries(client, s.auditor())
    operations = [(e["subject"], e["operation"], e["status"]) for e in logged]
    # Opening, admitting twice, activating and the session were writes by ann.
    assert [op for subject, op, _ in operations if subject == "ann"][:5] == [
        "open_contract_api_v1_contracts_post",
        "admit_provider_api_v1_contracts__contractId__providers_post",
        "admit_provider_api_v1_contracts__contractId__providers_post",
        "activateContract",
        "hold_session_api_v1_contracts__contractId__sessions_post",
    ]
    by_trace = {e["traceId"]: e for e in logged}
    mine = by_trace[read.headers["X-Request-ID"]]
    assert mine == {
        "id": mine["id"],
        "at": mine["at"],
        "subject": "ann",
        "organisation": s.COMMISSIONER_ORG,
        "roles": ["contract_manager"],
        "contractId": active.id,
        "operation": "get_contract_api_v1_contracts__contractId__get",
        "status": 200,
        "traceId": read.headers["X-Request-ID"],
    }
    assert datetime.fromisoformat(mine["at"]).utcoffset() is not None
    assert by_trace[history.headers["X-Request-ID"]]["roles"] == ["auditor"]
    # A provider listing contracts: logged, but it is zorg-a's own entry, not about a contract
    # gemeente-utrecht commissions, so gemeente-utrecht's auditor does not see it.
    assert listed.headers["X-Request-ID"] not in by_trace
    text = str(logged)
    assert "Ann de Vries" not in text and "Bearer" not in text and "WMO-2025-017" not in text


def test_an_auditor_sees_its_own_people_and_its_own_contracts_only(
    client: TestClient, active: s.ActiveContract
) -> None:
    refused = client.get(active.path, headers=s.outsider())
    assert refused.status_code == 404
    provider_read = client.get(active.path, headers=s.provider_a())
    assert provider_read.status_code == 200

    commissioner_view = {e["traceId"] for e in entries(client, s.auditor())}
    # About a contract it commissions: also the provider's and the outsider's attempts.
    assert provider_read.headers["X-Request-ID"] in commissioner_view
    assert refused.headers["X-Request-ID"] in commissioner_view

    provider_auditor = s.token_for(s.PROVIDER_A_ORG, "auditor", sub="pim")
    provider_view = entries(client, provider_auditor)
    # zorg-a's auditor: only what zorg-a's people did.
    assert {e["organisation"] for e in provider_view} == {s.PROVIDER_A_ORG}
    assert provider_read.headers["X-Request-ID"] in {e["traceId"] for e in provider_view}


def test_paging_and_one_contract_only(client: TestClient, active: s.ActiveContract) -> None:
    other = s.open_contract(client, "WMO-2025-099")
    for _ in range(3):
        assert client.get(active.path, headers=s.commissioner()).status_code == 200

    everything = entries(client, s.auditor(), limit=500)
    pages: list[dict] = []
    after = 0
    while True:
        response = client.get(ACCESS_LOG, headers=s.auditor(), params={"after": after, "limit": 3})
        assert response.status_code == 200
        body = response.json()
        pages.extend(body["items"])
        if body["nextCursor"] is None:
            break
        after = body["nextCursor"]
    assert [e["id"] for e in pages] == [e["id"] for e in everything]
    assert [e["id"] for e in everything] == sorted(e["id"] for e in everything)

    only_other = entries(client, s.auditor(), contractId=other)
    assert [e["operation"] for e in only_other] == ["open_contract_api_v1_contracts_post"]


def test_only_an_auditor_reads_the_access_log(client: TestClient, active: s.ActiveContract) -> None:
    s.assert_problem(client.get(ACCESS_LOG, headers=s.commissioner()), 403, "not-permitted")
    s.assert_problem(client.get(ACCESS_LOG, headers=s.reader()), 403, "not-permitted")
    s.assert_unauthenticated(client.get(ACCESS_LOG))


def test_bad_parameters_are_problems_not_errors(client: TestClient) -> None:
    for params in ({"after": -1}, {"limit": 0}, {"limit": 501}, {"contractId": "ABC"}):
        s.assert_problem(client.get(ACCESS_LOG, headers=s.auditor(), params=params), 400)


def test_the_access_log_is_in_the_openapi_document(client: TestClient) -> None:
    document = client.get(f"{s.API}/openapi.json").json()
    operation = document["paths"]["/access-log"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "after",
        "limit",
        "contractId",
        "If-None-Match",  # every GET: conditional requests
    }
    assert "/metrics" not in document["paths"]
