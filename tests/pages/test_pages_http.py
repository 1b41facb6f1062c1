"""The pages over HTTP, as a visitor without JavaScript uses them, on every backend: sign-in,
the session's timeouts and sign-out, the form token, a three-party agreement through the forms,
refusals in Dutch with the input kept (and nothing stored), and the auditor's timeline."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

from api.demo import AUDITOR, PEOPLE
from api.pages.sessions import COOKIE
from application.views import ContractData
from tests.pages.conftest import CSRF, Clock, form_token, load_demo, post_form, sign_in

ANNEMARIE = PEOPLE["gemeente-utrecht"]
JOOST = PEOPLE["buurtteam-noord"]
FATIMA = PEOPLE["welzijn-plus"]


def stored(client: TestClient, contract_id: str) -> ContractData:
    """The contract as the application layer has it (not as a page shows it)."""
    return client.app.state.services.contracts.get_contract(ANNEMARIE, contract_id)  # type: ignore[attr-defined]


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.text)


def test_pages_are_dutch_with_a_strict_content_security_policy(visitor: TestClient) -> None:
    response = visitor.get("/aanmelden")
    assert response.status_code == 200
    assert '<html lang="nl"' in response.text
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert " style=" not in response.text and "<script" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_page_without_forms_sends_no_cookie(visitor: TestClient) -> None:
    response = visitor.get("/toegankelijkheid")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "WCAG 2.1" in response.text


def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(visitor: TestClient) -> None:
    response = visitor.get("/contracten")
    assert response.status_code == 303
    assert response.headers["location"] == "/aanmelden?volgende=/contracten"
    sign_in(visitor, ANNEMARIE.subject)
    assert visitor.get("/contracten").status_code == 200


def test_the_session_cookie_is_httponly_samesite_and_secure_behind_https(
    visitor: TestClient,
) -> None:
    cookie = visitor.get("/aanmelden").headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = TestClient(visitor.app, base_url="https://testserver", follow_redirects=False)
    assert "; Secure" in secure.get("/aanmelden").headers["set-cookie"]


def test_the_api_keeps_its_bearer_tokens_and_ignores_the_page_session(
    visitor: TestClient,
) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    response = visitor.get("/api/v1/contracts")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_form_without_this_sessions_token_is_refused_and_nothing_is_stored(
    visitor: TestClient,
) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    contract_id = load_demo(visitor)
    before = stored(visitor, contract_id)
    fields = {"reden": "Niet nodig", "voorstel": "x"}
    for token in (None, "forged", form_token(visitor, "/toegankelijkheid") + "x"):
        data = fields if token is None else {**fields, "csrf": token}
        response = visitor.post(f"/contracten/{contract_id}/publicatie", data=data)
        assert response.status_code == 403
        assert "Formulier verlopen" in text_of(response)
    assert stored(visitor, contract_id).version == before.version


def test_an_idle_session_ends(visitor: TestClient, clock: Clock) -> None:
    sign_in(visitor, JOOST.subject)
    clock.now += 14 * 60
    assert visitor.get("/contracten").status_code == 200  # still within 15 idle minutes
    clock.now += 15 * 60 + 1
    response = visitor.get("/contracten")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/aanmelden")
    assert "sessie is verlopen" in text_of(visitor.get("/aanmelden"))
    assert visitor.get("/contracten").status_code == 303


def test_a_busy_session_still_ends_after_its_absolute_timeout(
    visitor: TestClient, clock: Clock
) -> None:
    sign_in(visitor, JOOST.subject)
    for _ in range(47):  # a request every 10 minutes for 7 h 50 min
        clock.now += 600
        assert visitor.get("/contracten").status_code == 200
    clock.now += 600 + 1  # past 8 hours since sign-in
    response = visitor.get("/contracten")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/aanmelden")


def test_sign_out_removes_the_session(visitor: TestClient) -> None:
    sign_in(visitor, FATIMA.subject)
    response = post_form(visitor, "/contracten", "/afmelden", {})
    assert response.status_code == 303
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert visitor.get("/contracten").status_code == 303
    assert "U bent afgemeld" in text_of(visitor.get("/aanmelden?afgemeld=1"))


def test_the_development_sign_in_is_off_unless_asked_for(settings) -> None:  # type: ignore[no-untyped-def]
    from api.app import create_app

    with TestClient(create_app(settings), follow_redirects=False) as client:
        page = client.get("/aanmelden")
        assert "annemarie.devries" not in page.text
        assert "Aanmelden is op deze server niet ingesteld" in page.text
        assert 'name="csrf"' not in page.text  # no form to post at all
        response = client.post("/aanmelden/ontwikkeling", data={"persoon": "annemarie.devries"})
        assert response.status_code == 403
        assert client.get("/contracten").status_code == 303


def _propose_scope(visitor: TestClient, contract_id: str) -> str:
    page = f"/contracten/{contract_id}"
    session_id = stored(visitor, contract_id).sessions[-1].session_id
    response = post_form(
        visitor,
        page,
        f"{page}/voorstel-opdracht",
        {
            "sessie": session_id,
            "opdracht": "Inwoners van Utrecht Noord krijgen dichtbij huis passende steun.",
            "toelichting": "Korter en helderder",
        },
    )
    assert response.status_code == 303, text_of(response)
    (proposal,) = [p for p in stored(visitor, contract_id).proposals if p.status == "open"]
    return proposal.proposal_id


def test_a_three_party_agreement_through_the_forms(visitor: TestClient) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    contract_id = load_demo(visitor)
    page = f"/contracten/{contract_id}"
    proposal_id = _propose_scope(visitor, contract_id)

    for person in (JOOST, FATIMA):
        post_form(visitor, page, "/afmelden", {})
        sign_in(visitor, person.subject)
        waiting = text_of(visitor.get("/contracten"))
        assert "Voorstel wacht op uw instemming: Korter en helderder" in waiting
        response = post_form(visitor, page, f"{page}/instemmen", {"voorstel": proposal_id})
        assert response.status_code == 303
        assert response.headers["location"].endswith(f"?gelukt=instemmen#voorstel-{proposal_id}")
        assert "Uw instemming is vastgelegd." in text_of(visitor.get(response.headers["location"]))

    contract = stored(visitor, contract_id)
    assert contract.assignment.endswith("dichtbij huis passende steun.")
    assert [p.status for p in contract.proposals if p.proposal_id == proposal_id] == ["agreed"]
    assert "dichtbij huis passende steun." in text_of(visitor.get(page))

    # Consenting again is refused, in Dutch, and the history stays as it was.
    response = post_form(visitor, page, f"{page}/instemmen", {"voorstel": proposal_id})
    assert response.status_code == 409
    assert "Dit voorstel staat niet meer open." in text_of(response)
    assert stored(visitor, contract_id).version == contract.version


def test_a_package_of_a_result_and_its_indicator_through_the_forms(visitor: TestClient) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    contract_id = load_demo(visitor)
    page = f"/contracten/{contract_id}"
    before = stored(visitor, contract_id)
    effect = next(g for g in before.goals if g.level == "effect" and g.status != "retired")
    fields = {
        "sessie": before.sessions[-1].session_id,
        "niveau": "result",
        "bovenliggend": effect.node_id,
        "tekst": "Hulp begint binnen twee weken na aanmelding",
        "naam": "Startduur",
        "definitie": "Mediane dagen van aanmelding tot de eerste afspraak",
        "eenheid": "dagen",
        "richting": "lower_is_better",
        "nulwaarde": "19",
        "nuldatum": "2025-06-30",
        "nulbron": "Registratie buurtteams",
        "streefwaarde": "14",
        "streefdatum": "2026-12-31",
        "frequentie": "quarterly",
        "bron": "Registratie buurtteams",
        "toelichting": "Resultaat en meting samen afspreken",
    }
    # Without the indicator's name the package is refused beside the form; nothing is stored.
    response = post_form(visitor, page, f"{page}/voorstel-pakket", fields | {"naam": ""})
    assert response.status_code == 400
    assert 'id="fout-voorstel-pakket"' in response.text
    assert stored(visitor, contract_id).version == before.version

    response = post_form(visitor, page, f"{page}/voorstel-pakket", fields)
    assert response.status_code == 303, text_of(response)
    (proposal,) = [p for p in stored(visitor, contract_id).proposals if p.status == "open"]
    assert proposal.kind == "package"
    for person in (JOOST, FATIMA):
        post_form(visitor, page, "/afmelden", {})
        sign_in(visitor, person.subject)
        response = post_form(visitor, page, f"{page}/instemmen", {"voorstel": proposal.proposal_id})
        assert response.status_code == 303, text_of(response)

    after = stored(visitor, contract_id)
    (result,) = [g for g in after.goals if g.text.startswith("Hulp begint binnen twee weken")]
    assert (result.level, result.parent_id) == ("result", effect.node_id)
    (indicator,) = [i for i in after.indicators if i.name == "Startduur"]
    assert indicator.result_id == result.node_id


def test_a_refusal_is_dutch_beside_the_form_and_keeps_the_input(visitor: TestClient) -> None:
    sign_in(visitor, JOOST.subject)
    contract_id = load_demo(visitor)
    page = f"/contracten/{contract_id}"
    before = stored(visitor, contract_id)
    indicator = before.indicators[0].indicator_id
    fields = {
        "indicator": indicator,
        "van": "2026-01-01",
        "tot": "2026-03-31",
        "waarde": "zes komma twee",
        "bron": "Registratie buurtteams Q1",
    }
    response = post_form(visitor, page, f"{page}/meting", fields)
    assert response.status_code == 400
    shown = text_of(response)
    assert 'id="fout-meting"' in response.text
    assert "‘Gemeten waarde’ is geen getal." in shown
    assert 'value="zes komma twee"' in shown and 'value="Registratie buurtteams Q1"' in shown

    # A rule of the contract (the ceiling) refuses an allocation: 409, input kept.
    response = post_form(
        visitor,
        page,
        f"{page}/voorstel-budget",
        {
            "sessie": before.sessions[-1].session_id,
            "budget-buurtteam-noord": "9.000.000,00",
            "grondslag": "Art. 2.163b Aanbestedingswet",
            "waarde": "0",
            "ingang": "2025-11-01",
            "toelichting": "Alles naar het buurtteam",
        },
    )
    assert response.status_code == 409
    shown = text_of(response)
    assert "De verdeling gaat boven het plafond van het financieel kader." in shown
    assert 'value="9.000.000,00"' in shown
    assert stored(visitor, contract_id).version == before.version


def test_a_measurement_through_the_form(visitor: TestClient) -> None:
    sign_in(visitor, JOOST.subject)
    contract_id = load_demo(visitor)
    page = f"/contracten/{contract_id}"
    before = stored(visitor, contract_id)
    indicator = before.indicators[0]
    response = post_form(
        visitor,
        page,
        f"{page}/meting",
        {
            "indicator": indicator.indicator_id,
            "van": "2026-01-01",
            "tot": "2026-03-31",
            "waarde": "5,9",
            "bron": "Registratie buurtteams",
        },
    )
    assert response.status_code == 303, text_of(response)
    after = stored(visitor, contract_id)
    assert len(after.measurements) == len(before.measurements) + 1
    assert str(after.measurements[-1].value) == "5.9"
    assert "laatste meting 5,9" in text_of(visitor.get(page))


def test_the_auditors_timeline_versions_diff_and_verification(visitor: TestClient) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    contract_id = load_demo(visitor)
    post_form(visitor, "/contracten", "/afmelden", {})
    sign_in(visitor, AUDITOR.subject)
    timeline = f"/contracten/{contract_id}/tijdlijn"

    everything = text_of(visitor.get(timeline))
    version = stored(visitor, contract_id).version
    assert f"{version} van {version} gebeurtenissen" in everything
    assert "Overeenkomst geopend" in everything and "Annemarie de Vries" in everything
    assert "Start levering en dialoog per 1 januari" in everything  # a reason

    only = text_of(visitor.get(f"{timeline}?soort=SessionHeld"))
    table = only.split('id="gebeurtenissen"')[1]
    assert "4 van" in table and "Overleg gehouden" in table and "Voorstel ingediend" not in table

    early = text_of(visitor.get(f"{timeline}?versie=8"))
    later = text_of(visitor.get(f"{timeline}?versie=40"))
    assert "Versie 8" in early and "Nog geen doelen afgesproken." in early
    assert "Versie 40" in later and "Inwoners van Noord leven gezond" in later

    diff = text_of(visitor.get(f"{timeline}?vanversie=8&totversie=40"))
    assert "Wat veranderde van versie 8 naar 40" in diff
    assert "Nieuw in de doelenboom (visie): ‘Inwoners van Noord leven gezond" in diff
    assert "Dialoogsessie op 14 januari 2025: Startbijeenkomst" in diff
    assert "Voorstel ‘De visie uit het beleidsplan sociaal domein’ (doel): aangenomen" in diff
    # and why: the rationale and the session it was agreed in
    assert (
        "waarom: De visie uit het beleidsplan sociaal domein, in de sessie van 14 januari" in diff
    )

    verified = text_of(visitor.get(f"{timeline}?controleer=1"))
    assert f"De keten klopt: {version} versies gecontroleerd" in verified

    refused = visitor.get(f"{timeline}?versie=99999")
    assert refused.status_code == 400
    assert "Deze vraag kan niet beantwoord worden" in text_of(refused)


def test_a_contract_manager_cannot_open_the_timeline_of_another_organisations_contract(
    visitor: TestClient,
) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    contract_id = load_demo(visitor)
    client = TestClient(visitor.app, follow_redirects=False)
    sign_in(client, JOOST.subject)
    assert client.get(f"/contracten/{contract_id}").status_code == 200
    assert client.get(f"/contracten/{'0' * 32}").status_code == 404


def test_sign_in_never_sends_the_visitor_off_site(visitor: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "contracten"):
        token = form_token(visitor, "/aanmelden")
        response = visitor.post(
            "/aanmelden/ontwikkeling",
            data={"csrf": token, "persoon": ANNEMARIE.subject, "volgende": target},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/contracten"
        post_form(visitor, "/contracten", "/afmelden", {})


def _agreed_through_the_forms(
    visitor: TestClient, page: str, form: str, fields: dict[str, str]
) -> None:
    """Proposed by Annemarie (municipality) through `form`, consented by both providers."""
    sign_in(visitor, ANNEMARIE.subject)
    response = post_form(visitor, page, f"{page}/{form}", fields)
    assert response.status_code == 303, text_of(response)
    contract_id = page.rsplit("/", 1)[1]
    (proposal,) = [p for p in stored(visitor, contract_id).proposals if p.status == "open"]
    for person in (JOOST, FATIMA):
        post_form(visitor, page, "/afmelden", {})
        sign_in(visitor, person.subject)
        response = post_form(visitor, page, f"{page}/instemmen", {"voorstel": proposal.proposal_id})
        assert response.status_code == 303, text_of(response)
    post_form(visitor, page, "/afmelden", {})


def test_the_ceiling_and_term_change_through_the_form(visitor: TestClient) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    contract_id = load_demo(visitor)
    page = f"/contracten/{contract_id}"
    before = stored(visitor, contract_id)
    base = {
        "sessie": before.sessions[-1].session_id,
        "grondslag": "Art. 2.163b Aanbestedingswet",
        "waarde": "50.000,00",
        "ingang": "2026-01-01",
        "toelichting": "Een jaar langer, met meer budget",
    }
    # Neither a ceiling nor an end: refused beside the form, nothing stored.
    response = post_form(visitor, page, f"{page}/voorstel-plafond", base)
    assert response.status_code == 400
    assert 'id="fout-voorstel-plafond"' in response.text
    assert "Vul een nieuw plafond of een nieuwe einddatum in" in text_of(response)
    assert stored(visitor, contract_id).version == before.version

    ceiling = before.financial_framework.ceiling + 50000
    _agreed_through_the_forms(
        visitor,
        page,
        "voorstel-plafond",
        base
        | {
            "plafond": f"{ceiling:.2f}".replace(".", ","),
            "einde": "2029-12-31",
            "besluit": "B&W 2025-123",
            "rechtvaardiging": "Onvoorzien: de wachtlijst in Noord verdubbelde (art. 2.163e)",
        },
    )
    after = stored(visitor, contract_id)
    assert after.financial_framework.ceiling == ceiling
    assert str(after.term.end) == "2029-12-31"


def test_a_goal_and_an_indicator_revised_and_retired_through_the_forms(
    visitor: TestClient,
) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    contract_id = load_demo(visitor)
    page = f"/contracten/{contract_id}"
    before = stored(visitor, contract_id)
    session = before.sessions[-1].session_id
    vision = next(g for g in before.goals if g.level == "vision")
    _agreed_through_the_forms(
        visitor,
        page,
        "voorstel-doel-wijzigen",
        {
            "sessie": session,
            "doel": f"vision:{vision.node_id}",
            "actie": "revise",
            "tekst": "Iedereen in Noord doet mee, met hulp dichtbij",
            "toelichting": "Scherper geformuleerd",
        },
    )
    indicator = before.indicators[0]
    _agreed_through_the_forms(
        visitor,
        page,
        "voorstel-indicator-wijzigen",
        {
            "sessie": session,
            "indicator": indicator.indicator_id,
            "actie": "revise",
            "streefwaarde": "4,5",
            "streefdatum": "2027-12-31",
            "toelichting": "Ambitieuzer",
        },
    )
    after = stored(visitor, contract_id)
    assert next(g for g in after.goals if g.node_id == vision.node_id).text.startswith(
        "Iedereen in Noord doet mee"
    )
    revised = next(i for i in after.indicators if i.indicator_id == indicator.indicator_id)
    assert revised.target is not None and str(revised.target.value) == "4.5"
    assert (revised.version, str(revised.target.due_on)) == (indicator.version + 1, "2027-12-31")

    _agreed_through_the_forms(
        visitor,
        page,
        "voorstel-indicator-wijzigen",
        {
            "sessie": session,
            "indicator": indicator.indicator_id,
            "actie": "retire",
            "toelichting": "Meten we niet meer",
        },
    )
    retired = stored(visitor, contract_id)
    assert next(
        i for i in retired.indicators if i.indicator_id == indicator.indicator_id
    ).status == ("retired")
    # A goal from outside the list is refused beside the form.
    sign_in(visitor, ANNEMARIE.subject)
    response = post_form(
        visitor,
        page,
        f"{page}/voorstel-doel-wijzigen",
        {"sessie": session, "doel": "onzin", "actie": "retire", "toelichting": "x"},
    )
    assert response.status_code == 400
    assert "Kies een doel uit de lijst." in text_of(response)


def test_a_kept_contract_page_carries_each_sessions_own_token_and_the_latest_version(
    visitor: TestClient,
) -> None:
    sign_in(visitor, ANNEMARIE.subject)
    contract_id = load_demo(visitor)
    page = f"/contracten/{contract_id}"
    pages = visitor.app.state.pages.rendered  # type: ignore[attr-defined]
    first = visitor.get(page)
    hits = pages.hits
    again = visitor.get(page)
    assert pages.hits == hits + 1  # rendered once, kept
    assert again.text == first.text
    token = CSRF.search(again.text)
    assert token and pages.placeholder not in again.text
    # The kept page's token is this session's: a form posted from it is taken.
    response = post_form(
        visitor,
        page,
        f"{page}/publicatie",
        {"publiek": "gemeenteraad", "kanaal": "raadsbrief", "samenvatting": "Stand van zaken"},
    )
    assert response.status_code == 303, text_of(response)
    assert "Stand van zaken" in text_of(visitor.get(page))  # a new version: rendered anew

    # Another person of another party gets a page of their own, with their own token.
    post_form(visitor, page, "/afmelden", {})
    sign_in(visitor, JOOST.subject)
    theirs = visitor.get(page)
    assert JOOST.name in theirs.text and ANNEMARIE.name not in theirs.text.split("<main")[0]
    other = CSRF.search(theirs.text)
    assert other and other.group(1) != token.group(1)
