"""Logs carry no personal data and no tokens (issue 12, point 5).

A whole story over HTTP — sessions with named participants, free text that names people,
proposals, consents, refusals, bad input, unknown tokens — with every logger at DEBUG; then
every log line, formatted as the service writes it, is searched for every personal value and
every token the test sent. None may appear."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from api.logs import JsonFormatter
from tests.support import api as s
from tests.support import people

#: Values that name or describe people: none may reach a log line.
PERSONAL = (
    "Geertruida Personalia-Zoeker",
    "Hendrik-Jan Vertrouwelijk",
    "mevrouw Onvindbaar woont aan de Geheimstraat 13",
    "gesprek met de heer Anoniem over zijn schulden",
)


def test_a_full_story_leaves_no_personal_value_and_no_token_in_the_logs(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    contract = s.active_contract(client)
    session = client.post(
        contract.url("/sessions"),
        headers=s.commissioner(),
        json={
            **s.session_body(),
            "participants": [
                {"name": PERSONAL[0], "org": people.ANN.org, "role": "wijkcoach"},
                {"name": PERSONAL[1], "org": people.BOB.org, "role": "bewoner", "external": True},
            ],
            "summary": PERSONAL[2],
        },
    )
    assert session.status_code == 201, session.text
    proposal = s.propose(client, contract, "scope_refinement", {"assignment": PERSONAL[3]})
    s.consent(client, contract, proposal["proposalId"], s.provider_a())
    # Refusals and bad input carrying the same values.
    refused = client.post(
        contract.url("/sessions"),
        headers=s.commissioner(),
        json={
            **s.session_body(),
            "participants": [{"name": PERSONAL[0], "org": "onbekend-org", "role": "x"}],
        },
    )
    assert refused.status_code == 400
    invalid = client.post(
        contract.url("/sessions"),
        headers=s.commissioner(),
        json={"heldOn": "gisteren", "summary": PERSONAL[2], "participants": "niemand"},
    )
    assert invalid.status_code == 400
    bogus = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJnZWhlaW0ifQ.bm90LWEtc2lnbmF0dXJl"
    unknown = client.get(contract.path, headers={"Authorization": f"Bearer {bogus}"})
    assert unknown.status_code == 401
    history = client.get(contract.url("/history"), headers=s.auditor())
    assert PERSONAL[0] in history.text  # the values are stored and served: only logs lack them

    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert lines, "nothing was logged at all: the search below would prove nothing"
    tokens = [
        h["Authorization"].removeprefix("Bearer ")
        for h in (s.commissioner(), s.provider_a(), s.provider_b(), s.auditor())
    ] + [bogus]
    for value in (*PERSONAL, *tokens):
        leaking = [line for line in lines if value in line]
        assert leaking == [], f"{value[:20]}… is in the logs: {leaking[:2]}"
