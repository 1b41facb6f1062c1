"""The pages in Debian's Chromium (Playwright, launched by executable path), with axe-core run on
every page: zero WCAG 2.1 A/AA violations. The three-party story through the pages only, every
person signed in at the OpenID Connect provider: open, invite, accept, activate, hold a session,
propose a goal and a package, consent from each party, record a measurement, publish, make
public; then the auditor's timeline at two versions and their difference, and the residents'
page showing what is public and nothing else. The consent form is also completed with the
keyboard alone.

One backend (SQLite, a real `dialoog serve` on 127.0.0.1): the pages call the same application
layer whose backends tests/pages/test_pages_http.py covers one by one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from domain.values import local_date
from tests.pages.browser import assert_accessible, axe_violations, chromium, new_page
from tests.pages.oidc_provider import oidc_provider
from tests.support import api as s
from tests.support.servers import Server, served

pytestmark = pytest.mark.slow

#: Most Tab presses the keyboard test makes to reach a control.
MAX_TABS = 300


@pytest.fixture(scope="module")
def chrome() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider() as url:
        yield url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, issuer: str) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("site")
    with served(
        f"sqlite:///{data / 'dialoog.sqlite'}",
        data,
        DIALOOG_OIDC_ISSUER=issuer,
        DIALOOG_OIDC_CLIENT_ID="dialoog-test",
        DIALOOG_OIDC_CLIENT_SECRET="client-secret-of-the-test",
    ) as server:
        yield server


def sign_in(page: Page, site: Server, sub: str) -> None:
    """At the provider's own page, as the person `sub`."""
    page.goto(f"{site.base_url}/aanmelden")
    assert_accessible(page)
    page.get_by_role("link", name="Aanmelden bij uw organisatie").click()
    page.get_by_role("button", name=sub, exact=True).click()
    page.wait_for_url(f"{site.base_url}/contracten")
    assert_accessible(page)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Afmelden").click()
    expect(page.get_by_text("U bent afgemeld.")).to_be_visible()


def open_form(page: Page, summary: str) -> None:
    page.locator("summary", has_text=summary).click()


def fill(page: Page, form: str, fields: dict[str, str]) -> Locator:
    """Type into the labelled fields of the form `#form` (select fields by their value)."""
    scope = page.locator(f"#{form}")
    for label, value in fields.items():
        field = scope.get_by_label(label, exact=True)
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    return scope


def consent_as(page: Page, site: Server, sub: str) -> None:
    """A provider's person signs in, follows what waits for them and consents."""
    sign_in(page, site, sub)
    page.get_by_role("link", name=re.compile("Voorstel wacht op uw instemming")).click()
    page.get_by_role("button", name=re.compile("Instemmen namens")).click()
    expect(page.get_by_text("Uw instemming is vastgelegd.")).to_be_visible()
    assert_accessible(page)
    sign_out(page)


def test_the_story_through_the_pages(chrome: Browser, site: Server) -> None:
    """The three-party story with the pages alone, each person signed in at the provider."""
    today = local_date(datetime.now(UTC)).isoformat()
    month_start = today[:8] + "01"
    page = new_page(chrome)

    # The commissioner opens the contract and invites two providers.
    sign_in(page, site, "ann")
    open_form(page, "Nieuwe overeenkomst openen")
    fill(page, "nieuw", {
        "Kenmerk": "WMO-2026-101", "Titel": "Ondersteuning in de wijk",
        "Globale opdracht": "Inwoners krijgen snel passende ondersteuning dichtbij huis.",
        "Procedure": "dialogue", "Looptijd: van": "2026-01-01",
        "Looptijd: tot en met": "2029-12-31", "Financieel kader (plafond, €)": "1.200.000,00",
        "Periode van het kader: van": "2026-01-01",
        "Periode van het kader: tot en met": "2026-12-31",
    }).get_by_role("button", name="Overeenkomst openen").click()  # fmt: skip
    expect(page.get_by_text("De overeenkomst is geopend.")).to_be_visible()
    assert_accessible(page)
    contract = page.url.split("?")[0]
    contract_id = contract.rsplit("/", 1)[1]
    for org, name in (("zorg-a", "Zorg A"), ("zorg-b", "Zorg B")):
        open_form(page, "Aanbieder uitnodigen")
        fill(page, "aanbieder", {
            "Organisatie (kenmerk)": org, "Naam van de aanbieder": name,
            "Motivering": "Kent de wijk en de mensen",
        }).get_by_role("button", name="Uitnodigen").click()  # fmt: skip
        expect(page.get_by_text("De aanbieder is uitgenodigd.")).to_be_visible()
    sign_out(page)

    # Each provider accepts; the commissioner activates and holds the first session.
    for sub in ("bob", "bea"):
        sign_in(page, site, sub)
        page.get_by_role("link", name="WMO-2026-101: Uitnodiging om partij te worden").click()
        page.get_by_role("button", name="Uitnodiging aanvaarden").click()
        expect(page.get_by_text("U hebt de uitnodiging aanvaard.")).to_be_visible()
        assert_accessible(page)
        sign_out(page)
    sign_in(page, site, "ann")
    page.goto(contract)
    open_form(page, "Overeenkomst activeren")
    fill(page, "activeren", {"Reden": "Start levering"}).get_by_role(
        "button", name="Activeren"
    ).click()
    expect(page.get_by_text("De overeenkomst is actief.")).to_be_visible()
    open_form(page, "Overleg vastleggen")
    fill(page, "sessie", {
        "Datum": today, "Soort overleg": "dialogue",
        "Deelnemers": "Ann Jansen; gemeente-utrecht; contractmanager\n"
        "Bob de Boer; zorg-a; contractmanager\nBea Bakker; zorg-b; contractmanager",
        "Verslag (kenmerk)": "Verslag eerste dialoog", "Samenvatting": "Doelen en indicatoren",
    }).get_by_role("button", name="Overleg vastleggen").click()  # fmt: skip
    expect(page.get_by_text("Het overleg is vastgelegd.")).to_be_visible()
    session = f"{today} — Doelen en indicatoren"

    # The vision and an effect under it, each proposed and consented to by both providers;
    # then, as one package, a result under the effect and the indicator that measures it.
    sign_out(page)
    proposals = [
        ("Voorstel: doel toevoegen", "voorstel-doel",
         {"Niveau": "vision", "Omschrijving": "Inwoners doen mee", "Toelichting": "De visie"},
         {}),
        ("Voorstel: doel toevoegen", "voorstel-doel",
         {"Niveau": "effect", "Omschrijving": "Minder wachten op hulp", "Toelichting": "Effect"},
         {"Hangt onder": "Visie: Inwoners doen mee"}),
        ("Voorstel: resultaat met indicator (één pakket)", "voorstel-pakket",
         {"Omschrijving van het resultaat": "Hulp begint binnen twee weken",
          "Naam van de indicator": "Wachttijd",
          "Definitie": "Mediane dagen van aanmelding tot plan", "Eenheid": "dagen",
          "Richting": "lower_is_better", "Nulmeting": "21", "Datum nulmeting": "2025-12-31",
          "Bron nulmeting": "Nulmeting 2025", "Streefwaarde": "14", "Streefdatum": "2027-12-31",
          "Gegevensbron": "Registratie", "Toelichting": "KPI wachttijd"},
         {"Hangt onder (het effect erboven)": "Effect: Minder wachten op hulp"}),
    ]  # fmt: skip
    before: dict[str, Any] = {}
    for summary, form, fields, options in proposals:
        sign_in(page, site, "ann")
        page.goto(contract)
        open_form(page, summary)
        scope = fill(page, form, fields)
        for label, option in {"Besproken in overleg": session, **options}.items():
            scope.get_by_label(label, exact=True).select_option(label=option)
        scope.get_by_role("button", name="Voorstel indienen").click()
        expect(page.get_by_text("Het voorstel is ingediend.")).to_be_visible()
        assert_accessible(page)
        sign_out(page)
        for sub in ("bob", "bea"):
            consent_as(page, site, sub)
        if form == "voorstel-doel":  # the contract as it stood before the package
            with site.client() as api:
                before = api.get(f"/api/v1/contracts/{contract_id}", headers=s.auditor()).json()
    assert [g["text"] for g in before["goals"]] == ["Inwoners doen mee", "Minder wachten op hulp"]

    # The indicator is agreed: a provider records a measurement and a publication.
    sign_in(page, site, "bob")
    page.goto(contract)
    expect(page.get_by_text("Er staan geen voorstellen open.")).to_be_visible()
    open_form(page, "Meting vastleggen")
    scope = fill(page, "meting", {
        "Periode van": month_start, "Periode tot en met": today, "Gemeten waarde": "18",
        "Bron": "Registratie buurtteams",
    })  # fmt: skip
    scope.get_by_label("Indicator").select_option(label="Wachttijd (dagen)")
    scope.get_by_role("button", name="Meting vastleggen").click()
    expect(page.get_by_text("De meting is vastgelegd.")).to_be_visible()
    expect(page.get_by_text(re.compile("laatste meting 18"))).to_be_visible()
    open_form(page, "Publicatie vastleggen")
    fill(page, "publicatie", {
        "Voor wie": "inwoners", "Kanaal": "website",
        "Samenvatting": "De wachttijd daalt: nu 18 dagen.",
    }).get_by_role("button", name="Publicatie vastleggen").click()  # fmt: skip
    expect(page.get_by_text("De publicatie is vastgelegd.")).to_be_visible()
    assert_accessible(page)
    sign_out(page)

    # The commissioner leaves a proposal open and makes the contract public.
    sign_in(page, site, "ann")
    page.goto(contract)
    open_form(page, "Voorstel: opdracht aanscherpen")
    scope = fill(page, "voorstel-opdracht", {
        "Nieuwe opdracht": "Concept: ook mantelzorgers ondersteunen", "Toelichting": "Nog open",
    })  # fmt: skip
    scope.get_by_label("Besproken in overleg").select_option(label=session)
    scope.get_by_role("button", name="Voorstel indienen").click()
    expect(page.get_by_text("Het voorstel is ingediend.")).to_be_visible()
    open_form(page, "Openbaar maken (Woo)")
    fill(page, "openbaar", {"Reden": "Woo: actieve openbaarmaking"}).get_by_role(
        "button", name="Openbaar maken"
    ).click()
    expect(page.get_by_text("De overeenkomst is openbaar gemaakt.")).to_be_visible()
    sign_out(page)

    # The auditor: the timeline, the contract at two versions, and their difference.
    sign_in(page, site, "carla")
    page.goto(f"{contract}/tijdlijn")
    assert_accessible(page)
    expect(page.locator("#gebeurtenissen")).to_contain_text("Meting vastgelegd")
    expect(page.locator("#gebeurtenissen")).to_contain_text("Bob de Boer")
    page.get_by_label("Versie (1–").fill(str(before["version"]))
    page.get_by_role("button", name="Toon versie").click()
    expect(page.locator("#stand")).to_contain_text(f"Versie {before['version']}")
    expect(page.locator("#stand")).to_contain_text("Minder wachten op hulp")
    expect(page.locator("#stand")).not_to_contain_text("Wachttijd")
    assert_accessible(page)
    version = int(page.get_by_label("Versie (1–").get_attribute("max") or "0")
    page.get_by_label("Versie (1–").fill(str(version))
    page.get_by_role("button", name="Toon versie").click()
    expect(page.locator("#stand")).to_contain_text("Wachttijd")
    page.get_by_label("Van versie").fill(str(before["version"]))
    page.get_by_label("Tot versie").fill(str(version))
    page.get_by_role("button", name="Vergelijk").click()
    expect(page.locator("#verschil")).to_contain_text(
        f"van versie {before['version']} naar {version}"
    )
    expect(page.locator("#verschil")).to_contain_text("Hulp begint binnen twee weken")
    assert_accessible(page)
    page.get_by_role("button", name="Keten controleren").click()
    expect(page.get_by_text("De keten klopt")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{site.base_url}/toegankelijkheid")
    assert_accessible(page)
    page.context.close()

    # A resident, not signed in: what is public, and nothing else; no cookie set or needed.
    resident = new_page(chrome)
    resident.goto(f"{site.base_url}/openbaar")
    assert_accessible(resident)
    resident.get_by_role("link", name=re.compile("WMO-2026-101")).click()
    resident.wait_for_url(f"{site.base_url}/openbaar/contracten/{contract_id}")
    assert_accessible(resident)
    shown = resident.locator("main").inner_text()
    for public in ("Inwoners krijgen snel passende ondersteuning dichtbij huis.",
                   "Inwoners doen mee", "Minder wachten op hulp", "Wachttijd",
                   "Hulp begint binnen twee weken",
                   "De wachttijd daalt: nu 18 dagen.", "Zorg A", "Zorg B"):  # fmt: skip
        assert public in shown, public
    for private in ("Ann Jansen", "Bob de Boer", "Bea Bakker", "Doelen en indicatoren",
                    "Verslag eerste dialoog", "mantelzorgers", "Kent de wijk"):  # fmt: skip
        assert private not in resident.content(), private
    assert resident.context.cookies() == []
    resident.context.close()


def test_the_consent_form_with_the_keyboard_alone(chrome: Browser, site: Server) -> None:
    with site.client() as api:
        scene = s.active_contract(api, reference="WMO-2025-018")
        proposal_id = s.propose(
            api, scene, "goal", s.goal_add("vision", "Inwoners doen naar vermogen mee")
        )["proposalId"]
    page = new_page(chrome)
    sign_in(page, site, "bob")
    page.goto(f"{site.base_url}/contracten/{scene.id}")
    button = page.locator(f"#voorstel-{proposal_id}").get_by_role(
        "button", name=re.compile("Instemmen namens")
    )
    page.locator("body").focus()
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if button.evaluate("element => element === document.activeElement"):
            break
    else:
        raise AssertionError(f"the consent button is not reached in {MAX_TABS} Tab presses")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Uw instemming is vastgelegd.")).to_be_visible()
    expect(page.locator(f"#voorstel-{proposal_id}")).to_contain_text("zorg-a")
    page.context.close()


def test_the_accessibility_check_can_fail(chrome: Browser) -> None:
    """axe really runs: a field without a label and an image without text are violations."""
    page = new_page(chrome)
    page.set_content(
        '<!DOCTYPE html><html lang="nl"><head><title>t</title></head><body><main>'
        '<input type="text"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        "</main></body></html>"
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "image-alt"} <= found
    page.context.close()


@pytest.fixture(scope="module")
def dev_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The site as `make run` serves it: the development sign-in, the demo one click away."""
    data: Path = tmp_path_factory.mktemp("dev-site")
    with served(f"sqlite:///{data / 'dialoog.sqlite'}", data, DIALOOG_DEV_SIGNIN="1") as server:
        yield server


def test_every_page_of_the_demo_is_accessible(chrome: Browser, dev_site: Server) -> None:
    page = new_page(chrome)
    base = dev_site.base_url
    page.goto(f"{base}/aanmelden")
    assert_accessible(page)
    page.get_by_label(re.compile("Annemarie de Vries")).check()
    page.get_by_role("button", name="Aanmelden", exact=True).click()
    page.wait_for_url(f"{base}/contracten")
    page.get_by_role("button", name="Demo-overeenkomst laden").click()
    page.wait_for_url(re.compile(r"/contracten/[0-9a-f]{32}$"))
    contract = page.url
    for summary in page.locator("summary").all():  # every form open, so axe sees its fields
        summary.click()
    assert_accessible(page)

    # A refusal beside its form: still accessible, the input kept.
    form = page.locator("#meting")
    form.get_by_label("Indicator").select_option(index=1)
    form.get_by_label("Periode van").fill("2026-01-01")
    form.get_by_label("Periode tot en met").fill("2026-03-31")
    form.get_by_label("Gemeten waarde").fill("veel")
    form.get_by_label("Bron").fill("Registratie")
    form.get_by_role("button", name="Meting vastleggen").click()
    expect(page.locator("#fout-meting")).to_contain_text("‘Gemeten waarde’ is geen getal.")
    expect(page.locator("#meting").get_by_label("Gemeten waarde")).to_have_value("veel")
    assert_accessible(page)

    for path in (
        "/contracten",
        f"{contract.removeprefix(base)}/tijdlijn?versie=30",
        f"{contract.removeprefix(base)}/tijdlijn?kracht=2025-07-01",
        f"{contract.removeprefix(base)}/tijdlijn?vanversie=20&totversie=60",
        f"{contract.removeprefix(base)}/tijdlijn?soort=MeasurementRecorded&van=2020-01-01",
        f"/contracten/{'0' * 32}",
        "/toegankelijkheid",
    ):
        page.goto(base + path)
        if path == "/contracten":  # the form that opens a contract, open so axe sees it
            for summary in page.locator("summary").all():
                summary.click()
        assert_accessible(page)

    # The version slider of the timeline, moved with the keyboard.
    page.goto(f"{contract}/tijdlijn")
    slider = page.get_by_label(re.compile("Versie met de schuif"))
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(11):
        page.keyboard.press("ArrowRight")
    page.get_by_role("button", name="Toon gekozen versie").click()
    expect(page.locator("#stand")).to_contain_text("Versie 12")
    page.context.close()


def test_the_public_pages_are_accessible_without_signing_in(
    chrome: Browser, dev_site: Server
) -> None:
    """The residents' pages of the disclosed demo: the index, one commissioner, a contract with
    its charts (each an image with a name, its numbers in a table), and the 404 — for a visitor
    who never signs in, with the CSP refusing nothing the pages need."""
    page = new_page(chrome)
    base = dev_site.base_url
    page.goto(f"{base}/aanmelden")
    page.get_by_label(re.compile("Annemarie de Vries")).check()
    page.get_by_role("button", name="Aanmelden", exact=True).click()
    page.get_by_role("button", name="Demo-overeenkomst laden").click()
    page.wait_for_url(re.compile(r"/contracten/[0-9a-f]{32}$"))
    contract_id = page.url.rsplit("/", 1)[1]
    page.context.close()
    with dev_site.client() as api:
        response = api.post(
            f"{s.API}/contracts/{contract_id}/disclosure",
            headers=s.commissioner(),  # gemeente-utrecht, the demo's commissioner
            json={"reason": "Woo: actieve openbaarmaking"},
        )
        assert response.status_code == 200, response.text

    page = new_page(chrome)  # a resident: a fresh browser, never signed in
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(base + "/toegankelijkheid")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role(
        "link", name="Openbare contracten"
    ).click()
    page.wait_for_url(f"{base}/openbaar")
    assert_accessible(page)
    page.get_by_role("link", name="Opdrachtgever gemeente-utrecht").click()
    page.wait_for_url(f"{base}/openbaar/gemeente-utrecht")
    assert_accessible(page)
    page.get_by_role("link", name=re.compile("Integrale wijkondersteuning Utrecht Noord")).click()
    page.wait_for_url(f"{base}/openbaar/contracten/{contract_id}")
    assert_accessible(page)
    charts = page.get_by_role("img", name=re.compile("metingen tegen nulmeting en streefwaarde"))
    expect(charts).to_have_count(3)
    wait = page.get_by_role("img", name=re.compile("^Wachttijd"))
    expect(wait).to_be_visible()
    assert (wait.bounding_box() or {}).get("width", 0) > 200  # drawn, not collapsed
    expect(page.get_by_role("table", name=re.compile("^Wachttijd"))).to_contain_text("15")
    expect(page.get_by_text("Annemarie de Vries")).to_have_count(0)
    page.goto(f"{base}/openbaar/contracten/{'0' * 32}")
    expect(page.get_by_role("heading", name="Niet gevonden")).to_be_visible()
    assert_accessible(page)
    assert refused == []
    page.context.close()
