"""HTTP conventions: ETag / Contract-Digest / If-Match, Idempotency-Key, API-Version, the
security headers, the 1 MiB limit, 400s with every problem listed, and the OpenAPI document's
NLGov shape."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.openapi import SERVER_DESCRIPTION
from tests.support import api as s
from tests.support.api import API, ActiveContract

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def _api_version(client: TestClient) -> str:
    version: str = client.get(f"{API}/openapi.json").json()["info"]["version"]
    return version


# --------------------------------------------------------------------------- ETag and digest


def test_contract_responses_carry_etag_and_digest(
    client: TestClient, active: ActiveContract
) -> None:
    responses = [
        client.get(active.path, headers=s.reader()),
        client.get(active.path, headers=s.reader(), params={"version": 2}),
        client.post(active.url("/sessions"), headers=s.commissioner(), json=s.session_body()),
        client.get(active.url("/indicators"), headers=s.reader()),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        assert re.fullmatch(r'"\d+"', response.headers["etag"])
        assert s.DIGEST.match(response.headers["contract-digest"])
    now = client.get(active.path, headers=s.reader())
    assert now.headers["etag"] == f'"{now.json()["version"]}"'
    assert now.headers["contract-digest"] == f"sha-256={now.json()['headDigest']}"
    at_two = responses[1]
    assert at_two.headers["etag"] == '"2"'
    assert at_two.headers["contract-digest"] == f"sha-256={at_two.json()['headDigest']}"


def test_if_match_current_applies_stale_is_412(client: TestClient, active: ActiveContract) -> None:
    version = s.read_contract(client, active)["version"]
    stale = client.post(
        active.url("/stakeholders"),
        headers={**s.commissioner(), "If-Match": f'"{version - 1}"'},
        json={"name": "Wijkraad", "kind": "residents"},
    )
    body = s.assert_problem(stale, 412, "version-mismatch")
    assert body["expectedVersion"] == version - 1
    assert body["actualVersion"] == version
    assert s.read_contract(client, active)["version"] == version
    fresh = client.post(
        active.url("/stakeholders"),
        headers={**s.commissioner(), "If-Match": f'"{version}"'},
        json={"name": "Wijkraad", "kind": "residents"},
    )
    assert fresh.status_code == 201
    assert fresh.headers["etag"] == f'"{version + 1}"'
    weak = client.post(
        active.url("/stakeholders"),
        headers={**s.commissioner(), "If-Match": f'W/"{version + 1}"'},
        json={"name": "Wijkraad 2", "kind": "residents"},
    )
    assert weak.status_code == 201


@pytest.mark.parametrize("value", ["7", "abc", '"x"', '"1", "2"'])
def test_malformed_if_match_is_400(client: TestClient, active: ActiveContract, value: str) -> None:
    response = client.post(
        active.url("/suspension"),
        headers={**s.commissioner(), "If-Match": value},
        json={"reason": "x"},
    )
    body = s.assert_problem(response, 400)
    assert body["invalidParams"]
    assert s.read_contract(client, active)["status"] == "active"


# --------------------------------------------------------------------------- Idempotency-Key


def test_idempotent_repeat_returns_the_original_and_stores_nothing(
    client: TestClient, active: ActiveContract
) -> None:
    headers = {**s.commissioner(), "Idempotency-Key": "7b1f5b0e-session-1"}
    first = client.post(active.url("/sessions"), headers=headers, json=s.session_body())
    assert first.status_code == 201
    version = s.read_contract(client, active)["version"]
    # Something else happens in between: the repeat still answers as the first time.
    s.hold_session(client, active.id)
    repeat = client.post(active.url("/sessions"), headers=headers, json=s.session_body())
    assert repeat.status_code == 201
    assert repeat.json() == first.json()
    assert repeat.headers["etag"] == first.headers["etag"] == f'"{version}"'
    assert repeat.headers["contract-digest"] == first.headers["contract-digest"]
    assert s.read_contract(client, active)["version"] == version + 1
    sessions = s.read_records(client, active, "sessions")
    assert [x["sessionId"] for x in sessions].count(first.json()["sessionId"]) == 1


def test_idempotent_create_repeats_location(client: TestClient) -> None:
    headers = {**s.commissioner(), "Idempotency-Key": "create-1"}
    first = client.post(f"{API}/contracts", headers=headers, json=s.contract_body())
    repeat = client.post(f"{API}/contracts", headers=headers, json=s.contract_body())
    assert first.status_code == repeat.status_code == 201
    assert repeat.json() == first.json()
    assert repeat.headers["location"] == first.headers["location"]
    listed = client.get(f"{API}/contracts", headers=s.commissioner()).json()["items"]
    assert len(listed) == 1


def test_same_key_different_body_is_422(client: TestClient, active: ActiveContract) -> None:
    headers = {**s.commissioner(), "Idempotency-Key": "key-1"}
    first = client.post(
        active.url("/stakeholders"), headers=headers, json={"name": "A", "kind": "residents"}
    )
    assert first.status_code == 201
    version = s.read_contract(client, active)["version"]
    other = client.post(
        active.url("/stakeholders"), headers=headers, json={"name": "B", "kind": "residents"}
    )
    s.assert_problem(other, 422, "idempotency-key-reused")
    assert s.read_contract(client, active)["version"] == version


def test_idempotency_key_with_bad_characters_is_400(
    client: TestClient, active: ActiveContract
) -> None:
    response = client.post(
        active.url("/stakeholders"),
        headers={**s.commissioner(), "Idempotency-Key": "has space"},
        json={"name": "A", "kind": "residents"},
    )
    s.assert_problem(response, 400)


# --------------------------------------------------------------------------- API-Version, security


def test_every_response_carries_api_version_and_security_headers(
    client: TestClient, active: ActiveContract
) -> None:
    version = _api_version(client)
    assert SEMVER.match(version)
    responses = {
        "healthz": client.get("/healthz"),
        "readyz": client.get("/readyz"),
        "docs": client.get("/docs"),
        "openapi": client.get(f"{API}/openapi.json"),
        "200": client.get(active.path, headers=s.reader()),
        "201": client.post(active.url("/sessions"), headers=s.provider_a(), json=s.session_body()),
        "400": client.get(active.path, headers=s.reader(), params={"version": "abc"}),
        "401": client.get(active.path),
        "403": client.get(active.url("/history"), headers=s.reader()),
        "404": client.get(active.path, headers=s.outsider()),
        "404 route": client.get(f"{API}/nowhere"),
        "405": client.delete(active.path, headers=s.commissioner()),
        "409": client.post(active.url("/activation"), headers=s.commissioner(), json={}),
        "412": client.post(
            active.url("/suspension"),
            headers={**s.commissioner(), "If-Match": '"1"'},
            json={"reason": "x"},
        ),
        "413": client.post(
            f"{API}/contracts",
            headers={**s.commissioner(), "Content-Type": "application/json"},
            content=b" " * (1024 * 1024 + 1),
        ),
    }
    for name, response in responses.items():
        expected = int(name.split()[0]) if name[0].isdigit() else None
        if expected is not None:
            assert response.status_code == expected, (name, response.status_code, response.text)
        assert response.headers.get("api-version") == version, name
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header)
        hsts = response.headers.get("strict-transport-security", "")
        assert re.match(r"max-age=\d+", hsts), name
        assert int(re.match(r"max-age=(\d+)", hsts).group(1)) > 0  # type: ignore[union-attr]
        if expected is not None and expected >= 400:
            s.assert_problem(response, expected)


# --------------------------------------------------------------------------- body size


def test_body_over_one_mebibyte_is_413(client: TestClient, active: ActiveContract) -> None:
    big = s.contract_body(assignment="x" * (1024 * 1024))
    response = client.post(f"{API}/contracts", headers=s.commissioner(), json=big)
    s.assert_problem(response, 413, "body-too-large")
    assert client.get(f"{API}/contracts", headers=s.commissioner()).json()["items"][0]["id"] == (
        active.id
    )


def test_streamed_body_over_one_mebibyte_is_413(client: TestClient) -> None:
    def chunks():  # no Content-Length: the limit applies while it streams in
        for _ in range(17):
            yield b"x" * 65536

    response = client.post(
        f"{API}/contracts",
        headers={**s.commissioner(), "Content-Type": "application/json"},
        content=chunks(),
    )
    s.assert_problem(response, 413, "body-too-large")


def test_body_just_under_the_limit_is_read(client: TestClient) -> None:
    body = s.contract_body(assignment="x" * 10_000)
    response = client.post(f"{API}/contracts", headers=s.commissioner(), json=body)
    assert response.status_code == 201


# --------------------------------------------------------------------------- 400s


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        f"{API}/contracts",
        headers={**s.commissioner(), "Content-Type": "application/json"},
        content=b'{"reference": "R-1",',
    )
    body = s.assert_problem(response, 400, "invalid-request")
    assert len(body["invalidParams"]) >= 1
    for param in body["invalidParams"]:
        assert set(param) == {"name", "reason"}


def test_every_schema_problem_is_listed(client: TestClient) -> None:
    body = s.contract_body()
    del body["title"], body["assignment"], body["term"]
    response = client.post(f"{API}/contracts", headers=s.commissioner(), json=body)
    problem = s.assert_problem(response, 400, "invalid-request")
    assert sorted(p["name"] for p in problem["invalidParams"]) == ["assignment", "term", "title"]
    for param in problem["invalidParams"]:
        assert param["reason"]


def test_nested_and_typed_problems_are_named_in_camel_case(client: TestClient) -> None:
    body = s.contract_body()
    body["financialFramework"]["ceiling"] = 1000.5  # money is never a JSON number
    body["term"]["end"] = "31-12-2028"
    body["unexpected"] = True
    response = client.post(f"{API}/contracts", headers=s.commissioner(), json=body)
    problem = s.assert_problem(response, 400, "invalid-request")
    names = sorted(p["name"] for p in problem["invalidParams"])
    assert names == ["financialFramework.ceiling", "term.end", "unexpected"]


def test_domain_invalid_value_is_400_with_invalid_params(
    client: TestClient, active: ActiveContract
) -> None:
    version = s.read_contract(client, active)["version"]
    response = client.post(
        active.url("/providers"), headers=s.commissioner(), json=s.provider_body("gemeente-utrecht")
    )
    problem = s.assert_problem(response, 400, "invalid-value")
    assert problem["invalidParams"]
    assert s.read_contract(client, active)["version"] == version


@pytest.mark.parametrize(
    ("suffix", "params"),
    [
        ("/history", {"limit": 0}),
        ("/history", {"limit": 201}),
        ("/history", {"after": -1}),
        ("/history", {"limit": "many"}),
        ("", {"version": "abc"}),
        ("", {"version": 0}),
        ("", {"version": 1, "asOf": "2025-01-01T00:00:00+00:00"}),
        ("", {"version": 1, "inForceOn": "2025-06-01"}),
        ("", {"asOf": "2025-01-01T00:00:00+00:00", "inForceOn": "2025-06-01"}),
        ("", {"asOf": "2025-01-01T00:00:00"}),  # no offset
        ("", {"inForceOn": "yesterday"}),
        ("/diff", {"from": 1}),
        ("/diff", {"from": "a", "to": 2}),
    ],
)
def test_bad_query_parameters_are_400(
    client: TestClient, active: ActiveContract, suffix: str, params: dict[str, object]
) -> None:
    response = client.get(active.url(suffix), headers=s.auditor(), params=params)
    problem = s.assert_problem(response, 400)
    assert problem["invalidParams"]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"status": "unknown"}, {"cursor": "!!nonsense!!"}]
)
def test_bad_list_parameters_are_400(client: TestClient, params: dict[str, object]) -> None:
    response = client.get(f"{API}/contracts", headers=s.reader(), params=params)
    problem = s.assert_problem(response, 400)
    assert problem["invalidParams"]


def test_a_contract_id_that_is_not_one_is_400(client: TestClient) -> None:
    response = client.get(f"{API}/contracts/not-an-id", headers=s.reader())
    problem = s.assert_problem(response, 400)
    assert [p["name"] for p in problem["invalidParams"]] == ["path.contractId"]


# --------------------------------------------------------------------------- the document


def test_openapi_document_follows_the_design_rules(client: TestClient) -> None:
    response = client.get(f"{API}/openapi.json")  # no token
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert [server["url"] for server in document["servers"]] == ["/api/v1"]
    # OWASP API9: the server names its environment and says it is public.
    assert document["servers"] == [
        {"url": "/api/v1", "description": SERVER_DESCRIPTION, "x-internal": False}
    ]
    contact = document["info"]["contact"]
    assert contact["name"]
    assert contact["url"].startswith("https://")
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", contact["email"])
    assert SEMVER.match(document["info"]["version"])
    assert response.headers["api-version"] == document["info"]["version"]
    assert "/openapi.json" in document["paths"]
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        assert not path.startswith("/api/"), path
        for segment in path.strip("/").split("/"):
            if not segment.startswith("{"):
                assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*(\.json|\.pdf)?", segment), path
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            where = f"{method.upper()} {path}"
            takes_input = bool(operation.get("parameters")) or "requestBody" in operation
            if takes_input:
                assert "400" in operation["responses"], where
            assert "422" not in operation["responses"] or method == "post", where
            for code, answer in operation["responses"].items():
                if code.startswith(("2", "3")):
                    assert "API-Version" in answer.get("headers", {}), (where, code)
                if code.startswith(("4", "5")):
                    assert list(answer["content"]) == ["application/problem+json"], (where, code)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", parameter["name"]), where


def test_openapi_document_is_the_same_for_everyone(client: TestClient) -> None:
    anonymous = client.get(f"{API}/openapi.json")
    signed_in = client.get(f"{API}/openapi.json", headers=s.commissioner())
    assert anonymous.json() == signed_in.json()
