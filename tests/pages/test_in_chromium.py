"""The pages in Debian's Chromium (Playwright, launched by executable path), with axe-core run on
every page: zero WCAG 2.1 A/AA violations. The story through the pages only: sign in at the
OpenID Connect provider, hold a session, propose an indicator, consent from each party, record a
measurement; then the auditor's timeline at two versions and their difference. The consent form
is also completed with the keyboard alone.

One backend (SQLite, a real `dialoog serve` on 127.0.0.1): the pages call the same application
layer whose backends tests/pages/test_pages_http.py covers one by one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

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


def test_the_story_through_the_pages(chrome: Browser, site: Server) -> None:
    with site.client() as api:
        active = s.active_contract(api)
        # The goal chain so far: a vision and an effect under it (agreed over the API).
        vision = s.agree(api, active, "goal", s.goal_add("vision", "Inwoners doen mee"))
        s.agree(
            api,
            active,
            "goal",
            s.goal_add("effect", "Minder wachten op hulp", vision["createdIds"]["nodeId"]),
        )
        contract_id = active.id
    contract = f"{site.base_url}/contracten/{contract_id}"
    page = new_page(chrome)

    # The commissioner holds a session and proposes, as one package, a result and the
    # indicator that measures it, agreed in that session.
    sign_in(page, site, "ann")
    page.get_by_role("link", name="WMO-2025-017").click()
    assert_accessible(page)
    open_form(page, "Overleg vastleggen")
    form = page.locator("#sessie")
    form.get_by_label("Datum").fill("2025-03-11")
    form.get_by_label("Soort overleg").select_option("dialogue")
    form.get_by_label("Deelnemers").fill(
        "Ann Jansen; gemeente-utrecht; contractmanager\nBob de Boer; zorg-a; contractmanager"
    )
    form.get_by_label("Verslag (kenmerk)").fill("Verslag 2025-03-11")
    form.get_by_label("Samenvatting").fill("Indicatoren afspreken")
    form.get_by_role("button", name="Overleg vastleggen").click()
    expect(page.get_by_text("Het overleg is vastgelegd.")).to_be_visible()
    assert_accessible(page)

    open_form(page, "Voorstel: doel met indicator (één pakket)")
    form = page.locator("#voorstel-pakket")
    form.get_by_label("Besproken in overleg").select_option(
        label="2025-03-11 — Indicatoren afspreken"
    )
    form.get_by_label("Niveau van het doel").select_option("result")
    form.get_by_label("Hangt onder").select_option(label="Effect: Minder wachten op hulp")
    form.get_by_label("Omschrijving van het doel").fill("Hulp begint binnen twee weken")
    form.get_by_label("Naam van de indicator").fill("Wachttijd")
    form.get_by_label("Definitie").fill("Mediane dagen van aanmelding tot plan")
    form.get_by_label("Eenheid").fill("dagen")
    form.get_by_label("Richting").select_option("lower_is_better")
    form.get_by_label("Nulmeting", exact=True).fill("21")
    form.get_by_label("Datum nulmeting").fill("2024-12-31")
    form.get_by_label("Bron nulmeting").fill("Nulmeting 2024")
    form.get_by_label("Streefwaarde").fill("14")
    form.get_by_label("Streefdatum").fill("2026-12-31")
    form.get_by_label("Gegevensbron").fill("Registratie")
    form.get_by_label("Gaat in op").fill("2025-03-11")  # agreed in the session of that day
    form.get_by_label("Toelichting").fill("KPI wachttijd")
    form.get_by_role("button", name="Voorstel indienen").click()
    expect(page.get_by_text("Het voorstel is ingediend.")).to_be_visible()
    assert_accessible(page)
    sign_out(page)

    # Each provider consents through its own people.
    for sub in ("bob", "bea"):
        sign_in(page, site, sub)
        page.get_by_role("link", name=re.compile("Voorstel wacht op uw instemming")).click()
        page.get_by_role("button", name=re.compile("Instemmen namens")).click()
        expect(page.get_by_text("Uw instemming is vastgelegd.")).to_be_visible()
        assert_accessible(page)
        sign_out(page)

    # The indicator is agreed: a provider records a measurement.
    sign_in(page, site, "bob")
    page.goto(contract)
    expect(page.get_by_text("Er staan geen voorstellen open.")).to_be_visible()
    open_form(page, "Meting vastleggen")
    form = page.locator("#meting")
    form.get_by_label("Indicator").select_option(label="Wachttijd (dagen)")
    form.get_by_label("Periode van").fill("2025-04-01")
    form.get_by_label("Periode tot en met").fill("2025-06-30")
    form.get_by_label("Gemeten waarde").fill("18")
    form.get_by_label("Bron").fill("Registratie buurtteams")
    form.get_by_role("button", name="Meting vastleggen").click()
    expect(page.get_by_text("De meting is vastgelegd.")).to_be_visible()
    expect(page.get_by_text(re.compile("laatste meting 18"))).to_be_visible()
    assert_accessible(page)
    sign_out(page)

    # The auditor: the timeline, the contract at two versions, and their difference.
    sign_in(page, site, "carla")
    page.goto(f"{contract}/tijdlijn")
    assert_accessible(page)
    expect(page.locator("#gebeurtenissen")).to_contain_text("Meting vastgelegd")
    expect(page.locator("#gebeurtenissen")).to_contain_text("Bob de Boer")
    page.get_by_label("Versie (1–").fill("7")
    page.get_by_role("button", name="Toon versie").click()
    expect(page.locator("#stand")).to_contain_text("Versie 7")
    expect(page.locator("#stand")).not_to_contain_text("Wachttijd")
    assert_accessible(page)
    version = int(page.get_by_label("Versie (1–").get_attribute("max") or "0")
    page.get_by_label("Versie (1–").fill(str(version))
    page.get_by_role("button", name="Toon versie").click()
    expect(page.locator("#stand")).to_contain_text("Wachttijd")
    page.get_by_label("Van versie").fill("7")
    page.get_by_label("Tot versie").fill(str(version))
    page.get_by_role("button", name="Vergelijk").click()
    expect(page.locator("#verschil")).to_contain_text(f"van versie 7 naar {version}")
    assert_accessible(page)
    page.get_by_role("button", name="Keten controleren").click()
    expect(page.get_by_text("De keten klopt")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{site.base_url}/toegankelijkheid")
    assert_accessible(page)
    page.context.close()


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
