"""A commissioner runs a contract from the pages alone: opens it, invites a provider, grants an
outside auditor access, makes it public and withdraws that, suspends, resumes and terminates it,
and records an evaluation — each form a command of the application layer, each refusal Dutch
beside its form with the input kept and the history untouched."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

from api.demo import PEOPLE
from application.views import ContractData
from tests.pages.conftest import post_form, sign_in

ANNEMARIE = PEOPLE["gemeente-utrecht"]
JOOST = PEOPLE["buurtteam-noord"]

NEW_CONTRACT = {
    "kenmerk": "JW-2027-001",
    "titel": "Jeugdhulp in de wijk",
    "opdracht": "Samen met gezinnen passende jeugdhulp dichtbij huis.",
    "procedure": "dialogue",
    "looptijd-van": "2026-01-01",
    "looptijd-tot": "2029-12-31",
    "plafond": "2.400.000,00",
    "kader-van": "2026-01-01",
    "kader-tot": "2026-12-31",
}


def stored(client: TestClient, contract_id: str) -> ContractData:
    return client.app.state.services.contracts.get_contract(ANNEMARIE, contract_id)  # type: ignore[attr-defined]


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.text)


def _open(visitor: TestClient, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    return post_form(visitor, "/contracten", "/contracten/nieuw", fields)


def test_a_commissioner_runs_a_contract_from_the_pages(visitor: TestClient) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    response = _open(visitor, NEW_CONTRACT)
    assert response.status_code == 303, text_of(response)
    page = response.headers["location"].removesuffix("?gelukt=nieuw")
    contract_id = page.removeprefix("/contracten/")
    assert "De overeenkomst is geopend." in text_of(visitor.get(response.headers["location"]))
    opened = stored(visitor, contract_id)
    assert (opened.reference, opened.status, opened.commissioner.org) == (
        "JW-2027-001",
        "draft",
        "gemeente-utrecht",
    )
    assert str(opened.financial_framework.ceiling) == "2400000.00"

    steps = [
        ("aanbieder", {"organisatie": "buurtteam-noord", "naam": "Buurtteam Noord",
                       "motivering": "Kent de wijk", "ingang": "2026-01-01"},
         "De aanbieder is uitgenodigd."),
        ("toegang", {"organisatie": "rekenkamer-utrecht", "rol": "auditor",
                     "reden": "Onderzoek jeugdhulp", "tot": "2027-12-31"},
         "De toegang is verleend."),
        ("openbaar", {"reden": "Woo: actieve openbaarmaking"},
         "De overeenkomst is openbaar gemaakt."),
        ("niet-openbaar", {"reden": "Bijlage met persoonsgegevens"},
         "De overeenkomst is niet langer openbaar."),
    ]  # fmt: skip
    for form, fields, done in steps:
        response = post_form(visitor, page, f"{page}/{form}", fields)
        assert response.status_code == 303, text_of(response)
        assert done in text_of(visitor.get(response.headers["location"]))
    contract = stored(visitor, contract_id)
    assert [(p.org, p.status) for p in contract.providers] == [("buurtteam-noord", "invited")]
    assert [(g.org, g.role) for g in contract.access_grants] == [("rekenkamer-utrecht", "auditor")]
    assert contract.public is False

    # The provider accepts; the commissioner activates, suspends, resumes and terminates.
    post_form(visitor, page, "/afmelden", {})
    sign_in(visitor, JOOST.subject)
    assert post_form(visitor, page, f"{page}/uitnodiging", {}).status_code == 303
    evaluation = {"datum": "2026-06-30", "samenvatting": "Halfjaar", "conclusies": "Goed op weg"}
    assert post_form(visitor, page, f"{page}/evaluatie", evaluation).status_code == 303
    post_form(visitor, page, "/afmelden", {})
    sign_in(visitor, ANNEMARIE.subject)
    for form, fields in [
        ("activeren", {"reden": "Start levering"}),
        ("opschorten", {"reden": "Onderzoek naar de zorgkwaliteit", "besluit": "B-2026-07"}),
        ("hervatten", {"reden": "Onderzoek afgerond"}),
        ("beeindigen", {"reden": "Wederzijds goedvinden", "besluit": "B-2026-12"}),
    ]:
        response = post_form(visitor, page, f"{page}/{form}", fields)
        assert response.status_code == 303, (form, text_of(response))
    contract = stored(visitor, contract_id)
    assert contract.status == "terminated"
    assert [e.summary for e in contract.evaluations] == ["Halfjaar"]
    # A terminated contract offers no lifecycle step any more.
    shown = text_of(visitor.get(page))
    assert "Overeenkomst: opschorten" not in shown and "Overeenkomst: hervatten" not in shown


def test_refusals_are_dutch_beside_the_form_and_store_nothing(visitor: TestClient) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    # A term that ends before it starts: the form says so, the input stays.
    response = _open(visitor, {**NEW_CONTRACT, "looptijd-tot": "2025-12-31"})
    assert response.status_code == 400
    shown = text_of(response)
    assert 'id="fout-nieuw"' in response.text
    assert "‘Looptijd’ eindigt voor zij begint." in shown
    assert 'value="Jeugdhulp in de wijk"' in shown

    response = _open(visitor, NEW_CONTRACT)
    assert response.status_code == 303
    contract_id = response.headers["location"].removesuffix("?gelukt=nieuw").split("/")[-1]
    page = f"/contracten/{contract_id}"
    # The same reference again: refused by the rules, in Dutch.
    response = _open(visitor, NEW_CONTRACT)
    assert response.status_code == 409
    assert 'id="fout-nieuw"' in response.text

    version = stored(visitor, contract_id).version
    # Suspending a draft is not a step the page offers; posted anyway, the rules refuse it.
    response = post_form(visitor, page, f"{page}/opschorten", {"reden": "x"})
    assert response.status_code == 409, text_of(response)
    # An access grant with a role that does not exist.
    response = post_form(
        visitor, page, f"{page}/toegang", {"organisatie": "x", "rol": "eigenaar", "reden": "y"}
    )
    assert response.status_code == 400
    assert "Kies een geldige waarde bij ‘Rol’." in text_of(response)
    assert stored(visitor, contract_id).version == version


def test_only_the_commissioner_sees_the_management_forms(visitor: TestClient) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    response = post_form(visitor, "/contracten", "/contracten/demo", {})
    page = response.headers["location"]
    assert "Beheer door de opdrachtgever" in text_of(visitor.get(page))
    post_form(visitor, page, "/afmelden", {})
    sign_in(visitor, JOOST.subject)
    shown = text_of(visitor.get(page))
    assert "Beheer door de opdrachtgever" not in shown
    assert "Evaluatie vastleggen" in shown
    # Posted anyway by a provider: the application refuses, nothing is stored.
    version = stored(visitor, page.split("/")[-1]).version
    response = post_form(visitor, page, f"{page}/opschorten", {"reden": "x"})
    assert response.status_code in (403, 409), text_of(response)
    assert stored(visitor, page.split("/")[-1]).version == version


def test_an_access_grant_is_revoked_and_a_provider_withdraws_through_the_forms(
    visitor: TestClient,
) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    response = post_form(visitor, "/contracten", "/contracten/demo", {})
    page = response.headers["location"]
    contract_id = page.split("/")[-1]
    grant = {"organisatie": "rekenkamer-utrecht", "rol": "auditor", "reden": "Onderzoek"}
    assert post_form(visitor, page, f"{page}/toegang", grant).status_code == 303
    (granted,) = [g for g in stored(visitor, contract_id).access_grants if g.revoked_on is None]
    assert "Toegang intrekken" in text_of(visitor.get(page))
    revoke = {"toegang": granted.grant_id, "reden": "Onderzoek afgerond"}
    response = post_form(visitor, page, f"{page}/toegang-intrekken", revoke)
    assert response.status_code == 303, text_of(response)
    assert "De toegang is ingetrokken." in text_of(visitor.get(response.headers["location"]))
    (revoked,) = [
        g for g in stored(visitor, contract_id).access_grants if g.grant_id == granted.grant_id
    ]
    assert revoked.revoked_on is not None
    post_form(visitor, page, "/afmelden", {})

    # A provider's manager is offered only their own organisation, and cannot let another go.
    sign_in(visitor, JOOST.subject)
    shown = text_of(visitor.get(page))
    assert "Uw organisatie trekt zich terug" in shown
    others = [p.org for p in stored(visitor, contract_id).providers if p.org != JOOST.org]
    assert others and f'value="{others[0]}"' not in shown.split('id="aanbieder-terugtrekken"')[1]
    version = stored(visitor, contract_id).version
    response = post_form(
        visitor, page, f"{page}/aanbieder-terugtrekken", {"aanbieder": others[0], "reden": "x"}
    )
    assert response.status_code in (403, 409), text_of(response)
    assert 'id="fout-aanbieder-terugtrekken"' in response.text
    assert stored(visitor, contract_id).version == version

    leave = {"aanbieder": JOOST.org, "reden": "Wij stoppen met deze dienst in Noord"}
    response = post_form(visitor, page, f"{page}/aanbieder-terugtrekken", leave)
    assert response.status_code == 303, text_of(response)
    # No longer a party, the provider lands on its own list, which says what happened.
    assert response.headers["location"] == "/contracten?gelukt=aanbieder-terugtrekken"
    assert "De aanbieder is teruggetreden." in text_of(visitor.get(response.headers["location"]))
    providers = {p.org: p.status for p in stored(visitor, contract_id).providers}
    assert providers[JOOST.org] == "withdrawn"
