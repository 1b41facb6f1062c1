"""Who may call what: every endpoint of the OpenAPI document × every kind of caller.

For each endpoint (the table's keys must be exactly the document's operations, so a new
endpoint cannot be forgotten): every bad credential → 401 with `WWW-Authenticate: Bearer`; a
role that may not → 403; a party-less organisation with the role that otherwise may → 404
(never 403: for them the contract does not exist); the right party and role → the 2xx. Every
error is problem+json. Runs on every backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import api as s
from tests.support.api import API, Headers

Context = dict[str, str]
Setup = Callable[[TestClient], Context]
Body = Callable[[Context], dict[str, Any]] | None


# --------------------------------------------------------------------------- setups


def _nothing(client: TestClient) -> Context:
    return {}


def _draft_with_provider(client: TestClient) -> Context:
    contract_id = s.open_contract(client)
    s.admit(client, contract_id, s.PROVIDER_A_ORG)
    s.accept(client, contract_id, s.PROVIDER_A_ORG, s.provider_a())
    return {"contractId": contract_id}


def _invited(client: TestClient) -> Context:
    contract_id = s.open_contract(client)
    s.admit(client, contract_id, s.PROVIDER_A_ORG)
    return {"contractId": contract_id, "org": s.PROVIDER_A_ORG}


def _active_provider(client: TestClient) -> Context:
    return _active(client) | {"org": s.PROVIDER_B_ORG}


def _granted(client: TestClient) -> Context:
    context = _active(client)
    response = client.post(
        f"{API}/contracts/{context['contractId']}/access-grants",
        headers=s.commissioner(),
        json={"org": "rekenkamer-utrecht", "role": "auditor", "reason": "Onderzoek"},
    )
    assert response.status_code == 201, response.text
    return context | {"grantId": response.json()["grantId"]}


def _active(client: TestClient) -> Context:
    contract = s.active_contract(client)
    return {"contractId": contract.id, "sessionId": contract.session_id}


def _published(client: TestClient) -> Context:
    """An active contract whose last event is a publication (`version` names it)."""
    context = _active(client)
    response = client.post(
        f"{API}/contracts/{context['contractId']}/publications",
        headers=s.commissioner(),
        json={"audience": "council", "channel": "letter", "summary": "Nieuws"},
    )
    assert response.status_code == 201, response.text
    version = client.get(f"{API}/contracts/{context['contractId']}", headers=s.commissioner())
    return context | {"version": version.json()["version"]}


def _suspended(client: TestClient) -> Context:
    context = _active(client)
    response = client.post(
        f"{API}/contracts/{context['contractId']}/suspension",
        headers=s.commissioner(),
        json={"reason": "Audit"},
    )
    assert response.status_code == 200, response.text
    return context


def _open_proposal(client: TestClient) -> Context:
    contract = s.active_contract(client)
    proposal = s.propose(client, contract, "scope_refinement", {"assignment": "Sharper"})
    return {
        "contractId": contract.id,
        "sessionId": contract.session_id,
        "proposalId": proposal["proposalId"],
    }


def _disclosed(client: TestClient) -> Context:
    """An active contract its commissioner made public."""
    context = _active(client)
    response = client.post(
        f"{API}/contracts/{context['contractId']}/disclosure",
        headers=s.commissioner(),
        json={"reason": "Woo"},
    )
    assert response.status_code == 200, response.text
    return context


def _indicator(client: TestClient) -> Context:
    contract = s.active_contract(client)
    return {
        "contractId": contract.id,
        "sessionId": contract.session_id,
        "indicatorId": s.agreed_indicator(client, contract),
    }


def _witness_registered(client: TestClient) -> Context:
    from tests.api.test_witnesses import WitnessKey, registered

    context = _active(client)
    key = WitnessKey()
    return context | {"keyId": registered(client, key, approve=False), "vkey": key.vkey}


def _witness_approved(client: TestClient) -> Context:
    from tests.api.test_witnesses import WitnessKey, current, registered

    context = _active(client)
    key = WitnessKey()
    registered(client, key)
    size, note = current(client)
    return context | {"treeSize": str(size), "line": key.cosignature(note)}


def _witness_key(_: TestClient) -> Context:
    from tests.api.test_witnesses import WitnessKey

    return {"vkey": WitnessKey().vkey}


#: A global address that needs no DNS; nothing is ever sent there (a new subscription starts at
#: the head of the feed, and these tests commit nothing after subscribing).
HOOK_URL = "https://93.184.215.14/hook"


def _hook(_: Context) -> dict[str, Any]:
    return {"url": HOOK_URL, "description": "Dashboard"}


def _subscribed(client: TestClient) -> Context:
    context = _active(client)
    response = client.post(f"{API}/subscriptions", headers=s.commissioner(), json=_hook(context))
    assert response.status_code == 201, response.text
    return context | {"subscriptionId": response.json()["id"]}


def _witness_auditor() -> Headers:
    return s.token_for("rekenkamer-utrecht", "auditor", sub="rita")


# --------------------------------------------------------------------------- the table

PUBLIC, LIST, CREATE, READ, AUDIT, WRITE = "public", "list", "create", "read", "audit", "write"
AUDITORS = "auditors"  # the auditor role only, not a contract's parties (the access log)
WITNESS = "witness"  # the log's witnesses: who may is tested in tests/api/test_witnesses.py
#: a stream that never ends by itself: its 200s are in tests/e2e/test_event_stream.py
STREAM = "stream"
#: webhooks: a contract manager or an auditor, for their own organisation
SUBSCRIBE = "subscribe"
OPEN = "open"  # open data of one public contract: anyone, no token; 404 unless public
#: erasing personal data: a privacy officer of the contract's commissioner, nobody else
PRIVACY = "privacy"


@dataclass(frozen=True)
class Endpoint:
    kind: str
    success: int
    setup: Setup = _active
    body: Body = None
    params: dict[str, Any] = field(default_factory=dict)
    right: Callable[[], Headers] = s.commissioner
    media: str = "application/json"


def _reason(_: Context) -> dict[str, Any]:
    return {"reason": "Stated in the council"}


ENDPOINTS: dict[str, Endpoint] = {
    "GET /openapi.json": Endpoint(PUBLIC, 200, _nothing),
    "POST /contracts": Endpoint(CREATE, 201, _nothing, lambda _: s.contract_body("NEW-1")),
    "GET /contracts": Endpoint(LIST, 200, _active, right=s.reader),
    "GET /contracts/{contractId}": Endpoint(READ, 200, right=s.reader),
    "POST /contracts/{contractId}/providers": Endpoint(
        WRITE, 201, body=lambda _: s.provider_body("zorg-c")
    ),
    "POST /contracts/{contractId}/providers/{org}/acceptance": Endpoint(
        WRITE, 200, _invited, lambda _: {}, right=s.provider_a
    ),
    "POST /contracts/{contractId}/providers/{org}/refusal": Endpoint(
        WRITE, 200, _invited, _reason, right=s.provider_a
    ),
    "POST /contracts/{contractId}/providers/{org}/withdrawal": Endpoint(
        WRITE, 200, _active_provider, _reason
    ),
    "POST /contracts/{contractId}/access-grants": Endpoint(
        WRITE,
        201,
        body=lambda _: {"org": "rekenkamer-utrecht", "role": "auditor", "reason": "Onderzoek"},
    ),
    "POST /contracts/{contractId}/access-grants/{grantId}/revocation": Endpoint(
        WRITE, 200, _granted, _reason
    ),
    "POST /contracts/{contractId}/stakeholders": Endpoint(
        WRITE, 201, body=lambda _: {"name": "Wijkraad", "kind": "residents"}, right=s.provider_a
    ),
    "POST /contracts/{contractId}/publications": Endpoint(
        WRITE,
        201,
        body=lambda _: {"audience": "council", "channel": "letter", "summary": "News"},
        right=s.provider_b,
    ),
    "POST /contracts/{contractId}/activation": Endpoint(
        WRITE, 200, _draft_with_provider, lambda _: {}
    ),
    "POST /contracts/{contractId}/suspension": Endpoint(WRITE, 200, body=_reason),
    "POST /contracts/{contractId}/resumption": Endpoint(WRITE, 200, _suspended, _reason),
    "POST /contracts/{contractId}/termination": Endpoint(WRITE, 200, body=_reason),
    "POST /contracts/{contractId}/completion": Endpoint(
        WRITE, 200, body=lambda _: {"reason": "Delivered early", "decisionRef": "B&W-9"}
    ),
    "POST /contracts/{contractId}/sessions": Endpoint(
        WRITE, 201, body=lambda _: s.session_body(), right=s.provider_a
    ),
    "POST /contracts/{contractId}/proposals": Endpoint(
        WRITE,
        201,
        body=lambda c: s.proposal_body(c["sessionId"], "scope_refinement", {"assignment": "X"}),
        right=s.provider_b,
    ),
    "GET /contracts/{contractId}/proposals/{proposalId}": Endpoint(
        READ, 200, _open_proposal, right=s.reader
    ),
    "POST /contracts/{contractId}/proposals/{proposalId}/consents": Endpoint(
        WRITE, 200, _open_proposal, lambda _: {}, right=s.provider_a
    ),
    "POST /contracts/{contractId}/proposals/{proposalId}/rejection": Endpoint(
        WRITE, 200, _open_proposal, _reason, right=s.provider_a
    ),
    "POST /contracts/{contractId}/proposals/{proposalId}/withdrawal": Endpoint(
        WRITE, 200, _open_proposal, _reason
    ),
    "GET /contracts/{contractId}/indicators": Endpoint(READ, 200, right=s.reader),
    "GET /contracts/{contractId}/sessions": Endpoint(READ, 200, right=s.reader),
    "GET /contracts/{contractId}/measurements": Endpoint(READ, 200, right=s.reader),
    "GET /contracts/{contractId}/proposals": Endpoint(READ, 200, right=s.reader),
    "GET /contracts/{contractId}/publications": Endpoint(READ, 200, right=s.reader),
    "GET /contracts/{contractId}/consultations": Endpoint(READ, 200, right=s.reader),
    "GET /contracts/{contractId}/evaluations": Endpoint(READ, 200, right=s.reader),
    "GET /contracts/{contractId}/corrections": Endpoint(READ, 200, right=s.reader),
    "POST /contracts/{contractId}/measurement-batches": Endpoint(
        WRITE,
        201,
        _indicator,
        lambda c: {"measurements": [{**s.measurement_body(), "indicatorId": c["indicatorId"]}]},
        right=s.provider_a,
    ),
    "GET /contracts/{contractId}/indicators/{indicatorId}/history": Endpoint(
        READ, 200, _indicator, right=s.reader
    ),
    "POST /contracts/{contractId}/indicators/{indicatorId}/measurements": Endpoint(
        WRITE, 201, _indicator, lambda _: s.measurement_body(), right=s.provider_a
    ),
    "POST /contracts/{contractId}/consultations": Endpoint(
        WRITE,
        201,
        body=lambda _: {
            "heldOn": "2026-03-02",
            "method": "Wijkavond",
            "participantsCount": 40,
            "summary": "Residents want evening hours",
        },
        right=s.provider_a,
    ),
    "POST /contracts/{contractId}/evaluations": Endpoint(
        WRITE,
        201,
        body=lambda _: {"heldOn": "2026-03-02", "summary": "Mid-term review"},
        right=s.provider_a,
    ),
    "POST /contracts/{contractId}/corrections": Endpoint(
        WRITE,
        201,
        _published,
        lambda c: {
            "correctsVersion": c["version"],
            "corrections": {"summary": "Corrected summary"},
            "reason": "Typo in the summary",
        },
        right=s.provider_a,
    ),
    "GET /contracts/{contractId}/history": Endpoint(AUDIT, 200, right=s.auditor),
    "GET /contracts/{contractId}/diff": Endpoint(
        AUDIT, 200, params={"from": 1, "to": 2}, right=s.auditor
    ),
    "GET /contracts/{contractId}/verification": Endpoint(AUDIT, 200, right=s.auditor),
    "GET /access-log": Endpoint(AUDITORS, 200, right=s.auditor),
    "GET /contracts/{contractId}/export": Endpoint(
        AUDIT, 200, right=s.auditor, media="application/zip"
    ),
    # The log's witnesses: an outside auditor registers and co-signs, a commissioner approves
    # (their refusals: tests/api/test_witnesses.py).
    "POST /log/witnesses": Endpoint(
        WITNESS, 201, _witness_key, lambda c: {"verifierKey": c["vkey"]}, right=_witness_auditor
    ),
    "POST /log/witnesses/{keyId}/approval": Endpoint(
        WITNESS, 200, _witness_registered, lambda _: {}
    ),
    "POST /log/checkpoints/{treeSize}/cosignatures": Endpoint(
        WITNESS, 201, _witness_approved, lambda c: {"signature": c["line"]}, right=_witness_auditor
    ),
    "GET /contracts/{contractId}/dossier.pdf": Endpoint(
        AUDIT, 200, right=s.auditor, media="application/pdf"
    ),
    "GET /log/checkpoint": Endpoint(PUBLIC, 200, _active, media="text/plain"),
    "GET /log/checkpoints": Endpoint(PUBLIC, 200, _active),
    "GET /log/key": Endpoint(PUBLIC, 200, _nothing),
    # a leaf of the contract the setup opened (the first event of this fresh store)
    "GET /log/proofs/inclusion": Endpoint(
        READ, 200, params={"leafIndex": 0, "treeSize": 1}, right=s.reader
    ),
    "GET /log/proofs/consistency": Endpoint(READ, 200, params={"from": 1, "to": 2}, right=s.reader),
    "GET /events": Endpoint(LIST, 200, _active, right=s.reader),
    "GET /events/stream": Endpoint(STREAM, 200, _active, right=s.reader),
    "POST /subscriptions": Endpoint(SUBSCRIBE, 201, _active, _hook, right=s.auditor),
    "GET /subscriptions": Endpoint(SUBSCRIBE, 200, _subscribed, right=s.auditor),
    "GET /subscriptions/{subscriptionId}": Endpoint(SUBSCRIBE, 200, _subscribed),
    "DELETE /subscriptions/{subscriptionId}": Endpoint(SUBSCRIBE, 204, _subscribed, media=""),
    # the session the setup held is version 7 (s.active_contract)
    "POST /erasures": Endpoint(
        PRIVACY,
        201,
        body=lambda c: {
            "recordRef": {"contractId": c["contractId"], "version": 7},
            "reason": "Verzoek van betrokkene",
            "legalBasis": "AVG art. 17",
        },
        right=lambda: s.token_for(s.COMMISSIONER_ORG, "privacy_officer", sub="piet"),
    ),
    "GET /subscriptions/{subscriptionId}/deliveries": Endpoint(SUBSCRIBE, 200, _subscribed),
    "POST /contracts/{contractId}/disclosure": Endpoint(WRITE, 200, body=_reason),
    "POST /contracts/{contractId}/disclosure/withdrawal": Endpoint(WRITE, 200, _disclosed, _reason),
    "GET /public/contracts/{contractId}/ocds/releases": Endpoint(OPEN, 200, _disclosed),
    "GET /public/contracts/{contractId}/ocds/record": Endpoint(OPEN, 200, _disclosed),
    "GET /public/ocds/releases": Endpoint(PUBLIC, 200, _disclosed),
}


def test_the_table_covers_every_operation_of_the_openapi_document(client: TestClient) -> None:
    document = client.get(f"{API}/openapi.json").json()
    operations = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete", "head", "options"}
    }
    assert operations == set(ENDPOINTS)


# --------------------------------------------------------------------------- the matrix


def _call(
    client: TestClient, key: str, endpoint: Endpoint, context: Context, headers: Headers
) -> Any:
    method, template = key.split(" ", 1)
    url = API + template.format(**context)
    if method == "GET":
        return client.get(url, headers=headers, params=endpoint.params)
    if method == "DELETE":
        return client.delete(url, headers=headers, params=endpoint.params)
    assert endpoint.body is not None, key
    return client.post(url, headers=headers, params=endpoint.params, json=endpoint.body(context))


def _other_org_with_the_role(kind: str) -> Headers:
    role = {READ: "reader", LIST: "reader", AUDIT: "auditor"}.get(kind, "contract_manager")
    return s.token_for(s.OUTSIDER_ORG, role, sub=f"frank-{role}")


@pytest.mark.parametrize("key", sorted(ENDPOINTS))
def test_authorisation_matrix(client: TestClient, key: str) -> None:
    endpoint = ENDPOINTS[key]
    context = endpoint.setup(client)
    contract_scoped = "{contractId}" in key

    def call(headers: Headers) -> Any:
        return _call(client, key, endpoint, context, headers)

    # 1. Bad credentials: 401 (the document itself is public).
    for name, make in s.BAD_CREDENTIALS.items():
        response = call(make())
        if endpoint.kind in (PUBLIC, OPEN):
            assert response.status_code == 200, (name, response.text)
        else:
            assert response.status_code == 401, (name, response.status_code, response.text)
            s.assert_unauthenticated(response)

    if endpoint.kind == STREAM:
        # Another organisation asking for a contract's events: 404, before any stream opens.
        response = client.get(
            API + key.removeprefix("GET "),
            headers=_other_org_with_the_role(READ),
            params={"contractId": context["contractId"]},
        )
        s.assert_problem(response, 404, "contract-not-found")
        return

    # 2. Roles of the right organisation that may not: 403.
    if endpoint.kind in (WRITE, CREATE):
        for role in ("reader", "auditor"):
            response = call(s.token_for(s.COMMISSIONER_ORG, role))
            s.assert_problem(response, 403, "not-permitted")
    elif endpoint.kind == AUDIT:
        response = call(s.reader())
        s.assert_problem(response, 403, "not-permitted")
        # A provider's own manager may audit too.
        assert call(s.provider_a()).status_code == 200
    elif endpoint.kind in (READ, LIST):
        for headers in (s.reader(), s.auditor(), s.provider_b()):
            assert call(headers).status_code == 200
    elif endpoint.kind == AUDITORS:
        for headers in (s.reader(), s.commissioner(), s.provider_a()):
            s.assert_problem(call(headers), 403, "not-permitted")
    elif endpoint.kind == SUBSCRIBE:
        s.assert_problem(call(s.reader()), 403, "not-permitted")
    elif endpoint.kind == PRIVACY:
        for role in ("contract_manager", "auditor", "reader"):
            s.assert_problem(call(s.token_for(s.COMMISSIONER_ORG, role)), 403, "not-permitted")
        # A party's privacy officer, not the commissioner's: not the holder of the record.
        privacy_officer = s.token_for(s.PROVIDER_A_ORG, "privacy_officer")
        s.assert_problem(call(privacy_officer), 403, "not-permitted")

    # 3. Another organisation, with the role that would otherwise do: 404, never 403.
    if endpoint.kind == OPEN:
        # Anyone reads a public contract; one that is not public (or missing) is a 404.
        unknown = dict(context, contractId="0" * 32)
        s.assert_problem(_call(client, key, endpoint, unknown, {}), 404, "contract-not-found")
    elif contract_scoped:
        response = call(_other_org_with_the_role(endpoint.kind))
        s.assert_problem(response, 404, "contract-not-found")
        # Not even a difference between an unknown contract and someone else's.
        unknown = dict(context, contractId="0" * 32)
        response = _call(client, key, endpoint, unknown, endpoint.right())
        s.assert_problem(response, 404, "contract-not-found")
    elif endpoint.kind == PRIVACY:
        response = call(s.token_for(s.OUTSIDER_ORG, "privacy_officer", sub="frank-privacy"))
        s.assert_problem(response, 404, "contract-not-found")
    elif endpoint.kind == LIST:
        response = call(_other_org_with_the_role(LIST))
        assert response.status_code == 200
        assert response.json()["items"] == []  # a feed's cursor moves on even over nothing
    elif "{subscriptionId}" in key:
        # Another organisation's subscription does not exist for it.
        response = call(_other_org_with_the_role(WRITE))
        s.assert_problem(response, 404, "subscription-not-found")
    elif endpoint.kind == AUDITORS:
        # Another organisation's auditor sees nothing of what these parties did.
        response = call(_other_org_with_the_role(AUDIT))
        assert response.status_code == 200
        assert response.json() == {"items": [], "nextCursor": None}

    # 4. The right party and role: the 2xx.
    response = call(endpoint.right())
    assert response.status_code == endpoint.success, response.text
    if endpoint.success == 204:
        assert response.content == b""
    else:
        assert response.headers["content-type"].startswith(endpoint.media)


# --------------------------------------------------------------------------- commissioner-only

COMMISSIONER_ONLY = {
    "providers": (_active, s.provider_body("zorg-c")),
    "activation": (_draft_with_provider, {}),
    "suspension": (_active, {"reason": "x"}),
    "resumption": (_suspended, {"reason": "x"}),
    "termination": (_active, {"reason": "x"}),
    "completion": (_active, {"reason": "x", "decisionRef": "B&W-9"}),
}


@pytest.mark.parametrize("action", sorted(COMMISSIONER_ONLY))
def test_a_provider_manager_cannot_do_what_only_the_commissioner_does(
    client: TestClient, action: str
) -> None:
    setup, body = COMMISSIONER_ONLY[action]
    context = setup(client)
    path = f"{API}/contracts/{context['contractId']}"
    before = client.get(path, headers=s.provider_a())
    assert before.status_code == 200
    response = client.post(f"{path}/{action}", headers=s.provider_a(), json=body)
    s.assert_problem(response, 403, "commissioner-only")
    after = client.get(path, headers=s.provider_a())
    assert after.json()["version"] == before.json()["version"]
    assert after.headers["etag"] == before.headers["etag"]


# --------------------------------------------------------------------------- consent for others


def test_nobody_consents_for_another_organisation(client: TestClient) -> None:
    context = _open_proposal(client)
    base = f"{API}/contracts/{context['contractId']}"
    proposal_url = f"{base}/proposals/{context['proposalId']}"
    version = s.read_contract(client, context["contractId"])["version"]
    response = client.post(
        f"{proposal_url}/consents", headers=s.provider_a(), json={"onBehalfOf": "zorg-b"}
    )
    s.assert_problem(response, 403, "consent-not-yours")
    # Neither can the commissioner consent for a provider.
    response = client.post(
        f"{proposal_url}/consents", headers=s.commissioner(), json={"onBehalfOf": "zorg-b"}
    )
    s.assert_problem(response, 403, "consent-not-yours")
    assert s.read_contract(client, context["contractId"])["version"] == version
    proposal = client.get(proposal_url, headers=s.reader()).json()
    assert proposal["consents"] == ["gemeente-utrecht"]
    assert proposal["awaiting"] == ["zorg-a", "zorg-b"]
    # Consent for one's own organisation, named explicitly, is fine.
    own = client.post(
        f"{proposal_url}/consents", headers=s.provider_a(), json={"onBehalfOf": "zorg-a"}
    )
    assert own.status_code == 200
    assert own.json()["awaiting"] == ["zorg-b"]
    history = client.get(f"{base}/history", headers=s.auditor(), params={"limit": 200}).json()
    consents = [item for item in history["items"] if item["type"] == "ConsentGiven"]
    assert [item["data"]["party"] for item in consents] == ["zorg-a"]
    assert all(item["actor"]["org"] == item["data"]["party"] for item in consents)
