"""Every recordable fact over HTTP: residents consulted, evaluations, corrections of each record
kind, decision references on lifecycle steps, and the rules that guard them (completion before
the term's end, measurements of periods still running), on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import api as s
from tests.support.api import API, ActiveContract

CONSULTATION = {
    "heldOn": "2026-03-02",
    "method": "Wijkavond in buurthuis De Leeuw",
    "participantsCount": 40,
    "summary": "Bewoners willen avondspreekuren",
}
EVALUATION = {
    "heldOn": "2026-06-30",
    "summary": "Halfjaarevaluatie met beide aanbieders",
    "conclusions": "Wachttijden dalen; de doelboom blijft",
}


def _history(client: TestClient, contract: ActiveContract) -> list[dict[str, Any]]:
    response = client.get(contract.url("/history"), headers=s.auditor(), params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _version(client: TestClient, contract: ActiveContract) -> int:
    return int(s.read_contract(client, contract)["version"])


def _post(client: TestClient, contract: ActiveContract, path: str, body: Any) -> Any:
    return client.post(contract.url(path), headers=s.provider_a(), json=body)


def test_a_consultation_is_recorded_and_takes_effect_on_its_day(client: TestClient) -> None:
    contract = s.active_contract(client)

    response = _post(client, contract, "/consultations", CONSULTATION)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["heldOn"] == "2026-03-02"
    assert body["participantsCount"] == 40
    assert body["summary"] == "Bewoners willen avondspreekuren"
    assert s.read_records(client, contract, "consultations") == [body]
    last = _history(client, contract)[-1]
    assert last["type"] == "ResidentsConsulted"
    assert last["effectiveOn"] == "2026-03-02"
    assert last["actor"]["org"] == s.PROVIDER_A_ORG


def test_an_evaluation_is_recorded(client: TestClient) -> None:
    contract = s.active_contract(client)

    response = _post(client, contract, "/evaluations", EVALUATION)

    assert response.status_code == 201, response.text
    assert s.read_records(client, contract, "evaluations") == [response.json()]
    assert response.json()["conclusions"] == "Wachttijden dalen; de doelboom blijft"
    assert _history(client, contract)[-1]["effectiveOn"] == "2026-06-30"


def _publication(client: TestClient, contract: ActiveContract) -> int:
    body = {"audience": "council", "channel": "raadsbrief", "summary": "Voortgang Q1"}
    assert _post(client, contract, "/publications", body).status_code == 201
    return _version(client, contract)


@pytest.mark.parametrize(
    ("kind", "record", "corrections", "field", "expected"),
    [
        ("publication", _publication, {"channel": "nieuwsbrief"}, "channel", "nieuwsbrief"),
        (
            "consultation",
            lambda c, k: (_post(c, k, "/consultations", CONSULTATION), _version(c, k))[1],
            {"participantsCount": 45},
            "participantsCount",
            45,
        ),
        (
            "evaluation",
            lambda c, k: (_post(c, k, "/evaluations", EVALUATION), _version(c, k))[1],
            {"conclusions": "Wachttijden dalen niet"},
            "conclusions",
            "Wachttijden dalen niet",
        ),
    ],
)
def test_a_correction_changes_what_reads_show_and_history_keeps_both(
    client: TestClient,
    kind: str,
    record: Any,
    corrections: dict[str, Any],
    field: str,
    expected: Any,
) -> None:
    contract = s.active_contract(client)
    version = record(client, contract)
    collection = f"{kind}s"
    before = s.read_records(client, contract, collection)[0]

    response = _post(
        client,
        contract,
        "/corrections",
        {"correctsVersion": version, "corrections": corrections, "reason": "Verkeerd genoteerd"},
    )

    assert response.status_code == 201, response.text
    correction = response.json()
    assert correction["recordKind"] == kind
    assert correction["correctsVersion"] == version
    assert correction["recordedInVersion"] == version + 1
    assert correction["reason"] == "Verkeerd genoteerd"
    now = s.read_records(client, contract, collection)
    assert now[0][field] == expected
    assert now[0] != before
    assert s.read_records(client, contract, "corrections") == [correction]
    # The mistake stays readable at its own version — unless it was personal text, which a
    # rectification erases (AVG art. 16; docs/PRIVACY.md).
    then = client.get(
        contract.url(f"/{collection}"), headers=s.commissioner(), params={"version": version}
    )
    personal = field in ("summary", "conclusions")
    assert then.json()["items"][0] == before | ({field: "[gewist]"} if personal else {})
    # A rectification records the erasure of the text it replaced right after the correction.
    recorded = [e["type"] for e in _history(client, contract)[version:]]
    assert recorded == ["RecordCorrected"] + (["PersonalDataErased"] if personal else [])


def test_a_session_summary_is_corrected(client: TestClient) -> None:
    contract = s.active_contract(client)
    session_version = next(
        e["version"] for e in _history(client, contract) if e["type"] == "SessionHeld"
    )

    response = _post(
        client,
        contract,
        "/corrections",
        {
            "correctsVersion": session_version,
            "corrections": {"summary": "Afspraken over de wachtlijst"},
            "reason": "Samenvatting hoorde bij een andere sessie",
        },
    )

    assert response.status_code == 201, response.text
    (session,) = s.read_records(client, contract, "sessions")
    assert session["summary"] == "Afspraken over de wachtlijst"


@pytest.mark.parametrize(
    ("corrections", "status", "code"),
    [
        ({"participantsCount": "veel"}, 400, "invalid-value"),
        ({"heldOn": "2026-03-03"}, 409, "invalid-correction"),
        ({"method": " "}, 400, "invalid-value"),
    ],
)
def test_a_wrong_correction_is_refused_and_changes_nothing(
    client: TestClient, corrections: dict[str, Any], status: int, code: str
) -> None:
    contract = s.active_contract(client)
    assert _post(client, contract, "/consultations", CONSULTATION).status_code == 201
    version = _version(client, contract)
    before = s.read_contract(client, contract)

    response = _post(
        client,
        contract,
        "/corrections",
        {"correctsVersion": version, "corrections": corrections, "reason": "x"},
    )

    s.assert_problem(response, status, code)
    assert s.read_contract(client, contract) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/consultations", CONSULTATION),
        ("/evaluations", EVALUATION),
        ("/corrections", {"correctsVersion": 5, "corrections": {"summary": "x"}, "reason": "x"}),
        ("/suspension", {"reason": "Onderzoek"}),
        ("/completion", {"reason": "Klaar", "decisionRef": "B&W-9"}),
    ],
)
def test_an_unknown_field_is_a_400_naming_it(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    contract = s.active_contract(client)
    version = _version(client, contract)

    response = client.post(
        contract.url(path), headers=s.commissioner(), json=body | {"effectiveFrom": "2026-01-01"}
    )

    problem = s.assert_problem(response, 400)
    assert [p["name"] for p in problem["invalidParams"]] == ["effectiveFrom"]
    assert _version(client, contract) == version


def test_decision_references_on_lifecycle_steps_are_stored(client: TestClient) -> None:
    contract_id = s.open_contract(client)
    s.admit(client, contract_id, s.PROVIDER_A_ORG)
    s.accept(client, contract_id, s.PROVIDER_A_ORG, s.provider_a())
    url = f"{API}/contracts/{contract_id}"
    steps = [
        ("/activation", {"reason": "Gunning", "decisionRef": "B&W-2025-01"}),
        ("/suspension", {"reason": "Onderzoek", "decisionRef": "B&W-2026-17"}),
        ("/resumption", {"reason": "Onderzoek klaar", "decisionRef": "B&W-2026-18"}),
    ]
    for path, body in steps:
        response = client.post(url + path, headers=s.commissioner(), json=body)
        assert response.status_code == 200, response.text

    history = client.get(url + "/history", headers=s.auditor()).json()["items"]

    assert [(e["type"], e["decisionRef"]) for e in history[-3:]] == [
        ("ContractActivated", "B&W-2025-01"),
        ("ContractSuspended", "B&W-2026-17"),
        ("ContractResumed", "B&W-2026-18"),
    ]


def test_completion_before_the_term_ends_needs_a_decision(client: TestClient) -> None:
    contract = s.active_contract(client)  # its term runs to 2028-12-31
    version = _version(client, contract)

    refused = client.post(
        contract.url("/completion"), headers=s.commissioner(), json={"reason": "Klaar"}
    )

    problem = s.assert_problem(refused, 409, "decision-required")
    assert "2028-12-31" in problem["detail"]
    assert _version(client, contract) == version
    done = client.post(
        contract.url("/completion"),
        headers=s.commissioner(),
        json={"reason": "Opdracht eerder afgerond", "decisionRef": "B&W-2026-40"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"


def test_a_measurement_of_a_period_still_running_is_refused(client: TestClient) -> None:
    contract = s.active_contract(client)
    indicator_id = s.agreed_indicator(client, contract)
    version = _version(client, contract)
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()

    response = client.post(
        contract.url(f"/indicators/{indicator_id}/measurements"),
        headers=s.provider_a(),
        json=s.measurement_body(end=tomorrow),
    )

    problem = s.assert_problem(response, 400, "invalid-value")
    assert tomorrow in problem["detail"]
    assert _version(client, contract) == version


def test_every_invalid_field_is_named_by_its_json_path_at_once(client: TestClient) -> None:
    contract = s.active_contract(client)
    body = s.proposal_body(
        contract.session_id,
        "indicator",
        {
            "action": "add",
            "name": "Wachttijd",
            "definition": "Dagen tot eerste gesprek",
            "unit": "dagen",
            "direction": "sideways",
            "baseline": {"value": "veel", "measuredOn": "2025-01-01", "source": "Registratie"},
        },
    )
    del body["rationale"]

    response = client.post(contract.url("/proposals"), headers=s.commissioner(), json=body)

    problem = s.assert_problem(response, 400, "invalid-request")
    names = {p["name"] for p in problem["invalidParams"]}
    assert {"rationale", "change.direction", "change.baseline.value"} <= names, names
    assert all(not n.startswith(("indicator", "body")) for n in names), names


def test_a_list_item_and_a_union_branch_are_named_as_written(client: TestClient) -> None:
    contract = s.active_contract(client)
    session = s.session_body()
    session["participants"][0]["org"] = "Niet Geldig!"
    correction = {"correctsVersion": 5, "corrections": {"summary": 1.5}, "reason": "x"}

    first = client.post(contract.url("/sessions"), headers=s.commissioner(), json=session)
    second = client.post(contract.url("/corrections"), headers=s.commissioner(), json=correction)

    assert [p["name"] for p in first.json()["invalidParams"]] == ["participants[0].org"]
    assert {p["name"] for p in second.json()["invalidParams"]} == {"corrections.summary"}


def test_a_rule_about_one_field_names_that_field_by_its_json_path(
    client: TestClient, active: s.ActiveContract
) -> None:
    """A refusal by the domain about one value points at it, as the body's own validation
    does: never a single `body` entry."""
    body = s.session_body()
    body["participants"].append({"name": "Niemand", "org": "nobody-org", "role": "x"})
    response = client.post(active.url("/sessions"), headers=s.commissioner(), json=body)
    problem = s.assert_problem(response, 400, "invalid-value")
    assert (
        problem["invalidParams"][0]["name"] == f"participants[{len(body['participants']) - 1}].org"
    )
    future = client.post(
        active.url("/sessions"), headers=s.commissioner(), json=s.session_body("2099-01-01")
    )
    assert s.assert_problem(future, 400)["invalidParams"][0]["name"] == "heldOn"
    indicator = dict(s.indicator_add())
    del indicator["unit"]
    response = client.post(
        active.url("/proposals"),
        headers=s.commissioner(),
        json=s.proposal_body(active.session_id, "indicator", indicator),
    )
    assert s.assert_problem(response, 400)["invalidParams"][0]["name"] == "change.unit"
