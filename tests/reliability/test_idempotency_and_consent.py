"""R7 and R8 (issue 6) against a real `dialoog serve --workers 2` on PostgreSQL, over HTTP.

* R7 — the same `Idempotency-Key` POST sent 10 times at once (spread over both workers) stores
  exactly one event; every answer is the original (201 with an identical body and ETag) or a
  409 `idempotency-key-in-flight`. The service-level race is in
  tests/integration/test_application_concurrency.py; this adds processes and HTTP.
* R8 — a manager of organisation A can never make B's consent appear in history: not by
  consenting `onBehalfOf` B, not on a contract only B is party to, not with forged tokens that
  claim B's organisation, not by reusing an idempotency key. The history read back in full
  holds B's consent only where B's own token gave it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.support import api as s
from tests.support import people
from tests.support.reliability import (
    API,
    full_history,
    publication,
    publish_path,
    setup_contracts,
    verification,
)
from tests.support.servers import CLIENT_TIMEOUT, Server, served

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROUNDS = 10
SENDERS = 10


def _race(server: Server, contract_id: str, key: str, marker: str) -> list[httpx.Response]:
    """SENDERS clients, each on its own warmed-up keep-alive connection, POST the same keyed
    command at the same moment."""
    headers = {**s.commissioner(), "Idempotency-Key": key}
    clients = [server.client() for _ in range(SENDERS)]
    answers: list[httpx.Response | BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(SENDERS, timeout=30)

    def post(client: httpx.Client) -> None:
        try:
            client.get("/healthz")  # the connection is open (and on some worker) before the race
            barrier.wait()
            answer: httpx.Response | BaseException = client.post(
                publish_path(contract_id), headers=headers, json=publication(marker)
            )
        except BaseException as error:
            answer = error
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=post, args=(c,), daemon=True) for c in clients]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT + 35)
    finally:
        for client in clients:
            client.close()
    assert not any(t.is_alive() for t in threads), "a sender did not finish in time"
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert not errors, errors
    return [a for a in answers if isinstance(a, httpx.Response)]


def test_r7_one_idempotency_key_sent_ten_times_at_once_stores_one_event(
    postgres_database_url: str, tmp_path: Path
) -> None:
    with served(postgres_database_url, tmp_path, workers=2) as server:
        (contract_id,) = setup_contracts(server, 1, "R7")
        originals: dict[str, tuple[Any, str]] = {}
        tally = {201: 0, 409: 0}
        for round_ in range(ROUNDS):
            key, marker = str(uuid.uuid4()), f"r7-round-{round_:02d}"
            answers = _race(server, contract_id, key, marker)
            assert len(answers) == SENDERS
            created = [a for a in answers if a.status_code == 201]
            assert created, [(a.status_code, a.text) for a in answers]
            for answer in answers:
                if answer.status_code == 409:
                    s.assert_problem(answer, 409, "idempotency-key-in-flight")
                    tally[409] += 1
                else:
                    assert answer.status_code == 201, (answer.status_code, answer.text)
                    tally[201] += 1
            bodies = {json.dumps(a.json(), sort_keys=True) for a in created}
            etags = {a.headers["etag"] for a in created}
            assert len(bodies) == 1, bodies
            assert len(etags) == 1, etags
            originals[marker] = (created[0].json(), created[0].headers["etag"])
            # After the race, a repeat is answered with the original too.
            with server.client() as client:
                again = client.post(
                    publish_path(contract_id),
                    headers={**s.commissioner(), "Idempotency-Key": key},
                    json=publication(marker),
                )
            assert again.status_code == 201, again.text
            assert (again.json(), again.headers["etag"]) == originals[marker]
        print(f"R7 answers over {ROUNDS} rounds of {SENDERS}: {tally}")

        with server.client() as client:
            events = full_history(client, contract_id, s.auditor())
            assert verification(client, contract_id, s.auditor())["valid"]
        stored = [e for e in events if e["type"] == "PublicationIssued"]
        summaries = [e["data"]["summary"] for e in stored]
        assert sorted(summaries) == sorted(originals), summaries  # each round exactly once
        for event in stored:
            body, etag = originals[event["data"]["summary"]]
            assert body["publicationId"] == event["data"]["publication_id"]
            assert etag == f'"{event["version"]}"'


# --------------------------------------------------------------------------- R8

A, B, COMMISSIONER = s.PROVIDER_A_ORG, s.PROVIDER_B_ORG, s.COMMISSIONER_ORG
B_SUBJECT = "bea"  # tests.support.people.BEA, as in api.provider_b()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _signed_with_empty_key(claims: dict[str, Any]) -> str:
    """PyJWT refuses to sign with an empty key; a forger does not."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    digest = hmac.new(b"", signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def forged_tokens() -> dict[str, s.Headers]:
    """Tokens that claim organisation B but were not issued with the service's secret."""
    now = int(time.time())
    claims = {
        "sub": B_SUBJECT,
        "name": "Bea Boer",
        "org": B,
        "roles": ["contract_manager"],
        "iat": now,
        "exp": now + 3600,
    }
    a_token = s.provider_a()["Authorization"].removeprefix("Bearer ")
    a_header, _, a_signature = a_token.split(".")
    return {
        "other secret": s.token_for(B, sub=B_SUBJECT, secret=s.OTHER_SECRET),
        "alg none": s.bearer(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."),
        "A's signature on B's claims": s.bearer(f"{a_header}.{_b64(claims)}.{a_signature}"),
        "HS256 with an empty key": s.bearer(_signed_with_empty_key(claims)),
        "expired B token": s.token_for(B, sub=B_SUBJECT, ttl=-3600),
        "B's org as a list": s.bearer(
            jwt.encode({**claims, "org": [A, B]}, s.JWT_SECRET, algorithm="HS256")
        ),
    }


def _proposal(client: httpx.Client, contract_id: str, session_id: str, name: str) -> str:
    response = client.post(
        f"{API}/contracts/{contract_id}/proposals",
        headers=s.commissioner(),
        json=s.proposal_body(session_id, "indicator", s.indicator_add(name)),
    )
    assert response.status_code == 201, response.text
    proposal_id: str = response.json()["proposalId"]
    return proposal_id


def _b_only_contract(client: httpx.Client) -> tuple[str, str]:
    """A contract of the commissioner with only B admitted: A is no party to it."""
    contract_id = s.open_contract(client, "R8-B-ONLY")
    s.admit(client, contract_id, B)
    s.accept(client, contract_id, B, s.provider_b())
    s.activate(client, contract_id)
    return contract_id, s.hold_session(client, contract_id, with_provider=people.BEA)


def test_r8_a_manager_of_a_never_makes_bs_consent_appear(
    postgres_database_url: str, tmp_path: Path
) -> None:
    with served(postgres_database_url, tmp_path, workers=2) as server, server.client() as client:
        shared = s.active_contract(client, "R8-SHARED")  # commissioner, A and B
        target = _proposal(client, shared.id, shared.session_id, "Target")
        control = _proposal(client, shared.id, shared.session_id, "Control")
        b_only, b_session = _b_only_contract(client)
        b_only_proposal = _proposal(client, b_only, b_session, "B only")

        consents = f"{API}/contracts/{{}}/proposals/{{}}/consents"
        attempts: list[tuple[str, httpx.Response]] = []

        def attempt(what: str, url: str, headers: s.Headers, body: dict, **extra: str) -> None:
            response = client.post(url, headers={**headers, **extra}, json=body)
            attempts.append((what, response))

        a = s.provider_a()
        for contract_id, proposal_id in ((shared.id, target), (b_only, b_only_proposal)):
            url = consents.format(contract_id, proposal_id)
            attempt("A for B", url, a, {"onBehalfOf": B})
            attempt("A for B, keyed", url, a, {"onBehalfOf": B}, **{"Idempotency-Key": "r8-k1"})
            attempt("A for B, If-Match *", url, a, {"onBehalfOf": B}, **{"If-Match": "*"})
            attempt("A for B, session", url, a, {"onBehalfOf": B, "sessionId": shared.session_id})
            attempt("A for B in lower case", url, a, {"onBehalfOf": B.upper()})
            attempt("A's name as B", url, s.token_for(A, sub=B_SUBJECT, name="Bea Boer"), {})
            attempt("the commissioner for B", url, s.commissioner(), {"onBehalfOf": B})
            for name, forged in forged_tokens().items():
                attempt(f"forged: {name}", url, forged, {})
                attempt(f"forged: {name}, for B", url, forged, {"onBehalfOf": B})
        # A consented above under B's person's name and subject, for A (the only 2xx): the
        # consent is A's, not B's. A second consent of A is refused.
        attempt("A for itself", consents.format(shared.id, target), a, {})
        # Where A is no party, A cannot act at all.
        attempt("A on B's contract", consents.format(b_only, b_only_proposal), a, {})
        attempt(
            "A proposes on B's contract",
            f"{API}/contracts/{b_only}/proposals",
            a,
            s.proposal_body(b_session, "indicator", s.indicator_add("By A")),
        )
        # B's own consent to the control proposal: the one B consent history may hold.
        b_response = client.post(
            consents.format(shared.id, control), headers=s.provider_b(), json={}
        )
        assert b_response.status_code == 200, b_response.text

        succeeded = [(what, r.status_code) for what, r in attempts if r.is_success]
        assert succeeded == [("A's name as B", 200)], succeeded
        for what, response in attempts:
            if not response.is_success:
                assert response.status_code in (401, 403, 404, 409), (what, response.text)
                s.assert_problem(response, response.status_code)
            if what.startswith("forged"):
                s.assert_unauthenticated(response)
        print("R8 answers:", Counter(r.status_code for _, r in attempts))

        auditor = s.auditor()
        for contract_id in (shared.id, b_only):
            events = full_history(client, contract_id, auditor)
            assert verification(client, contract_id, auditor)["valid"]
            b_consents = [
                e for e in events if e["type"] == "ConsentGiven" and e["data"]["party"] == B
            ]
            for event in b_consents:
                assert event["actor"]["org"] == B and event["actor"]["sub"] == B_SUBJECT, event
            expected = [control] if contract_id == shared.id else []
            assert [e["data"]["proposal_id"] for e in b_consents] == expected, b_consents
            assert not [e for e in events if e["actor"]["org"] == A and contract_id == b_only]
        target_now = client.get(
            f"{API}/contracts/{shared.id}/proposals/{target}", headers=s.commissioner()
        ).json()
        assert target_now["status"] == "open" and target_now["awaiting"] == [B], target_now


def test_r8_an_idempotency_key_never_answers_for_another_organisation(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """Two people of different organisations whose tokens carry the same `sub`, using the same
    Idempotency-Key on the same command: the second must be carried out for its own
    organisation (or refused), never answered 2xx with the first one's result while its own
    consent is never recorded."""
    with served(postgres_database_url, tmp_path) as server, server.client() as client:
        shared = s.active_contract(client, "R8-KEYS")
        proposal_id = _proposal(client, shared.id, shared.session_id, "Keys")
        url = f"{API}/contracts/{shared.id}/proposals/{proposal_id}/consents"
        key = {"Idempotency-Key": "consent-1"}
        as_a = client.post(url, headers={**s.token_for(A, sub="p-001"), **key}, json={})
        assert as_a.status_code == 200, as_a.text
        as_b = client.post(url, headers={**s.token_for(B, sub="p-001"), **key}, json={})
        events = full_history(client, shared.id, s.auditor())
        parties = [e["data"]["party"] for e in events if e["type"] == "ConsentGiven"]
        if as_b.is_success:
            assert as_b.json()["consents"].count(B) == 1, as_b.json()
            assert parties.count(B) == 1, f"B was answered {as_b.status_code} but not recorded"
        else:
            assert parties.count(B) == 0
