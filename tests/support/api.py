"""HTTP helpers of the API, end-to-end and reliability tests: tokens for each role and
organisation, bad tokens of every kind, request bodies, steps over HTTP, and checks of
problem+json answers.

The parties come from the one cast (tests/support/people.py): the commissioner
`gemeente-utrecht` (Ann the manager, Carla the auditor, Rik the reader), the providers `zorg-a`
(Bob) and `zorg-b` (Bea), and Frank of `verzekeraar-x`, party to nothing. Tokens are made per
call, so a long test run never meets an expired one.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import jwt
from httpx import Response

from api.security import issue_token
from tests.support import people
from tests.support.people import Person

API = "/api/v1"
JWT_SECRET = "test-secret-with-enough-length-for-hs256"  # tests/conftest.py's settings
OTHER_SECRET = "another-secret-that-nobody-configured-anywhere"

COMMISSIONER_ORG = people.GEMEENTE_UTRECHT.id
PROVIDER_A_ORG = people.ZORG_A.id
PROVIDER_B_ORG = people.ZORG_B.id
OUTSIDER_ORG = people.VERZEKERAAR_X.id

PROBLEM_BASE = "https://dialoog.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

Headers = dict[str, str]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def token_for(
    org: str,
    role: str = "contract_manager",
    *,
    sub: str | None = None,
    name: str | None = None,
    ttl: int = 3600,
    secret: str = JWT_SECRET,
) -> Headers:
    sub = sub or f"{role}@{org}"
    return bearer(
        issue_token(secret, sub=sub, name=name or sub.title(), org=org, roles=[role], ttl=ttl)
    )


def headers_of(person: Person, *, ttl: int = 3600, secret: str = JWT_SECRET) -> Headers:
    """The bearer token this person of the cast would present."""
    return token_for(
        person.org, person.role, sub=person.subject, name=person.name, ttl=ttl, secret=secret
    )


def commissioner() -> Headers:
    return headers_of(people.ANN)


def provider_a() -> Headers:
    return headers_of(people.BOB)


def provider_b() -> Headers:
    return headers_of(people.BEA)


def auditor() -> Headers:
    return headers_of(people.CARLA)


def reader() -> Headers:
    return headers_of(people.RIK)


def outsider() -> Headers:
    return headers_of(people.FRANK)


# Bad credentials: each must be a 401 with WWW-Authenticate: Bearer.
def no_token() -> Headers:
    return {}


def malformed_token() -> Headers:
    return bearer("this-is-not-a-jwt")


def wrong_signature() -> Headers:
    return headers_of(people.ANN, secret=OTHER_SECRET)


def expired_token() -> Headers:
    # Well past the verifier's 30 s leeway.
    return headers_of(people.ANN, ttl=-3600)


def missing_claims_token() -> Headers:
    claims = {"sub": people.ANN.subject, "exp": int(time.time()) + 3600}  # no name, org or roles
    return bearer(jwt.encode(claims, JWT_SECRET, algorithm="HS256"))


def unknown_role_token() -> Headers:
    return token_for(COMMISSIONER_ORG, "admin", sub=people.ANN.subject)


def basic_auth() -> Headers:
    return {"Authorization": "Basic YW5uOnNlY3JldA=="}


BAD_CREDENTIALS = {
    "no token": no_token,
    "malformed": malformed_token,
    "wrong signature": wrong_signature,
    "expired": expired_token,
    "missing claims": missing_claims_token,
    "unknown role": unknown_role_token,
    "basic scheme": basic_auth,
}


# --------------------------------------------------------------------------- bodies

TERM = {"start": "2025-01-01", "end": "2028-12-31"}
CEILING = "1000000.00"


def contract_body(reference: str = "WMO-2025-017", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": reference,
        "title": "Integrale wijkondersteuning Noord",
        "assignment": "Inwoners van Noord krijgen dichtbij passende ondersteuning.",
        "procedure": "dialogue",
        "term": dict(TERM),
        "financialFramework": {
            "ceiling": CEILING,
            "period": {"start": "2025-01-01", "end": "2025-12-31"},
        },
    }
    body.update(overrides)
    return body


def provider_body(org: str, name: str | None = None) -> dict[str, Any]:
    return {
        "org": org,
        "name": name or f"Zorg {org}",
        "rationale": "Preselected: fits the DNA",
        "effectiveOn": TERM["start"],
    }


def session_body(
    held_on: str = "2025-02-03", with_provider: people.Person = people.BOB
) -> dict[str, Any]:
    return {
        "heldOn": held_on,
        "kind": "dialogue",
        "participants": [
            {"name": people.ANN.name, "org": people.ANN.org, "role": "contract manager"},
            {"name": with_provider.name, "org": with_provider.org, "role": "director"},
        ],
        "minutesRef": "NOT-2025-02",
        "summary": "Kick-off of the dialogue",
    }


def proposal_body(session_id: str, kind: str, change: dict[str, Any]) -> dict[str, Any]:
    return {
        "sessionId": session_id,
        "kind": kind,
        "rationale": f"Agreed in dialogue ({kind})",
        "change": change,
    }


def goal_add(level: str, text: str, parent_id: str | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {
        "action": "add",
        "level": level,
        "text": text,
        "effectiveOn": TERM["start"],
    }
    if parent_id is not None:
        change["parentId"] = parent_id
    if level in ("result", "performance"):
        change["deliveredBy"] = "mixed"
    return change


def indicator_add(
    name: str = "Residents helped within two weeks", *, with_baseline: bool = True
) -> dict[str, Any]:
    change: dict[str, Any] = {
        "action": "add",
        "effectiveOn": TERM["start"],
        "name": name,
        "definition": "Share of requests answered within 14 days",
        "unit": "%",
        "direction": "higher_is_better",
        "target": {"value": "90", "dueOn": "2026-12-31"},
        "frequency": "quarterly",
        "dataSource": "Case registration",
    }
    if with_baseline:
        change["baseline"] = {"value": "60", "measuredOn": "2024-12-31", "source": "Monitor 2024"}
    return change


def adjustment(**fields: Any) -> dict[str, Any]:
    change: dict[str, Any] = {
        "legalBasis": "art. 72 Aw",
        "value": "0.00",
        "effectiveOn": "2025-03-01",
    }
    change.update(fields)
    return change


def measurement_body(value: str = "75", end: str = "2025-03-31") -> dict[str, Any]:
    return {"period": {"start": "2025-01-01", "end": end}, "value": value, "source": "Registry"}


# --------------------------------------------------------------------------- checks

ETAG = re.compile(r'^"(\d+)"$')
DIGEST = re.compile(r"^sha-256=[0-9a-f]{64}$")


def assert_problem(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with this status (and `type` ending in this code)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.headers
    body: dict[str, Any] = response.json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, (key, body)
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE), body
    if code is not None:
        assert body["type"] == PROBLEM_BASE + code, body
    return body


def assert_unauthenticated(response: Response) -> None:
    assert_problem(response, 401, "not-authenticated")
    assert response.headers["www-authenticate"].startswith("Bearer"), response.headers


def contract_version(response: Response) -> int:
    """The version an ETag names."""
    found = ETAG.match(response.headers["etag"])
    assert found, response.headers.get("etag")
    return int(found.group(1))


@dataclass(frozen=True)
class ActiveContract:
    """A contract opened by gemeente-utrecht, zorg-a and zorg-b invited and accepting, active,
    one session."""

    id: str
    session_id: str

    @property
    def path(self) -> str:
        return f"{API}/contracts/{self.id}"

    def url(self, suffix: str = "") -> str:
        return self.path + suffix


# --------------------------------------------------------------------------- steps over HTTP
# Each step asserts its own success, so a failing setup points at the step, not the test.


def open_contract(client: Any, reference: str = "WMO-2025-017", **overrides: Any) -> str:
    response = client.post(
        f"{API}/contracts", headers=commissioner(), json=contract_body(reference, **overrides)
    )
    assert response.status_code == 201, response.text
    contract_id: str = response.json()["id"]
    return contract_id


def admit(client: Any, contract_id: str, org: str) -> None:
    response = client.post(
        f"{API}/contracts/{contract_id}/providers", headers=commissioner(), json=provider_body(org)
    )
    assert response.status_code == 201, response.text


def activate(client: Any, contract_id: str) -> None:
    response = client.post(
        f"{API}/contracts/{contract_id}/activation",
        headers=commissioner(),
        json={"effectiveOn": TERM["start"]},
    )
    assert response.status_code == 200, response.text


def hold_session(
    client: Any,
    contract_id: str,
    headers: Headers | None = None,
    with_provider: people.Person = people.BOB,
) -> str:
    response = client.post(
        f"{API}/contracts/{contract_id}/sessions",
        headers=headers or commissioner(),
        json=session_body(with_provider=with_provider),
    )
    assert response.status_code == 201, response.text
    session_id: str = response.json()["sessionId"]
    return session_id


def accept(client: Any, contract_id: str, org: str, headers: Headers) -> None:
    """The invited provider's own people accept the invitation."""
    response = client.post(
        f"{API}/contracts/{contract_id}/providers/{org}/acceptance",
        headers=headers,
        json={"effectiveOn": TERM["start"]},
    )
    assert response.status_code == 200, response.text


def active_contract(client: Any, reference: str = "WMO-2025-017") -> ActiveContract:
    contract_id = open_contract(client, reference)
    admit(client, contract_id, PROVIDER_A_ORG)
    admit(client, contract_id, PROVIDER_B_ORG)
    accept(client, contract_id, PROVIDER_A_ORG, provider_a())
    accept(client, contract_id, PROVIDER_B_ORG, provider_b())
    activate(client, contract_id)
    return ActiveContract(contract_id, hold_session(client, contract_id))


def propose(
    client: Any,
    contract: ActiveContract,
    kind: str,
    change: dict[str, Any],
    headers: Headers | None = None,
) -> dict[str, Any]:
    response = client.post(
        contract.url("/proposals"),
        headers=headers or commissioner(),
        json=proposal_body(contract.session_id, kind, change),
    )
    assert response.status_code == 201, response.text
    proposal: dict[str, Any] = response.json()
    return proposal


def consent(
    client: Any, contract: ActiveContract, proposal_id: str, headers: Headers
) -> dict[str, Any]:
    response = client.post(
        contract.url(f"/proposals/{proposal_id}/consents"), headers=headers, json={}
    )
    assert response.status_code == 200, response.text
    proposal: dict[str, Any] = response.json()
    return proposal


def agree(
    client: Any,
    contract: ActiveContract,
    kind: str,
    change: dict[str, Any],
    consenting: list[Headers] | None = None,
) -> dict[str, Any]:
    """Proposed by the commissioner, consented by the providers (both, unless named): the
    agreed proposal."""
    proposal = propose(client, contract, kind, change)
    agreed: dict[str, Any] = {}
    for headers in consenting or [provider_a(), provider_b()]:
        agreed = consent(client, contract, proposal["proposalId"], headers)
    assert agreed["status"] == "agreed", agreed
    return agreed


def read_contract(client: Any, contract: ActiveContract | str) -> dict[str, Any]:
    path = contract.path if isinstance(contract, ActiveContract) else f"{API}/contracts/{contract}"
    response = client.get(path, headers=commissioner())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def read_records(
    client: Any,
    contract: ActiveContract | str,
    kind: str,
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every record of one of the contract's growing collections (`sessions`, `measurements`,
    `proposals`, …), following its pages; the contract's body only counts them."""
    base = contract.path if isinstance(contract, ActiveContract) else f"{API}/contracts/{contract}"
    records: list[dict[str, Any]] = []
    after: int | None = 0
    for _ in range(1000):  # bounded: 200 a page
        response = client.get(
            f"{base}/{kind}?after={after}&limit=200", headers=headers or commissioner()
        )
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["items"]
        after = page["nextCursor"]
        if after is None:
            return records
    raise AssertionError(f"more pages of {kind} than expected")


def agreed_indicator(client: Any, contract: ActiveContract) -> str:
    agreed = agree(client, contract, "indicator", indicator_add())
    indicator_id: str = agreed["createdIds"]["indicatorId"]
    return indicator_id
