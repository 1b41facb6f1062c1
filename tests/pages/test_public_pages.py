"""The residents' pages over HTTP, without signing in, on every backend: only disclosed
contracts are listed (per commissioner) and shown; a withdrawn disclosure hides the contract
again; no person's name, minutes, session, open or rejected proposal or evaluation reaches the
page; each indicator's SVG chart and its table carry the same numbers; anything not public is a
Dutch 404, never a 500."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.pages.conftest import sign_in
from tests.support import api as s
from tests.support import people
from tests.support.api import API

VISION = "Inwoners van Noord doen naar vermogen mee"
PERFORMANCE = "Buurtbewoners lopen wekelijks een ronde langs eenzame ouderen"
OPEN_GOAL = "Een zwembad in elke wijk"
REJECTED_INDICATOR = "Aantal bezoeken aan het zwembad"
REJECTION_REASON = "Eerst de nulmeting afwachten"
EVALUATION = "Geheime conclusie van de evaluatie"
CONSULTATION = "Inwoners willen het spreekuur ook op zaterdag"
PUBLICATION = "Voortgangsbrief aan de raad over de wijkaanpak"
#: What the test contract records about people and sessions (tests/support/api.py): all of it
#: is on the contract (the test checks that), none of it may be on the public page.
PRIVATE = (
    people.ANN.name,
    people.BOB.name,
    people.BEA.name,
    "NOT-2025-02",  # the session's minutes reference
    "Kick-off of the dialogue",  # the session's summary
    "director",  # a participant's role
    "Preselected: fits the DNA",  # a provider's admission rationale
    "Agreed in dialogue",  # proposals' rationales
    OPEN_GOAL,
    REJECTED_INDICATOR,
    REJECTION_REASON,
    EVALUATION,
)
#: The indicator's baseline, measurements and target, as the page writes them.
INDICATOR_NUMBERS = ["60", "75", "82,5", "90"]


@dataclass(frozen=True)
class Scene:
    contract: s.ActiveContract
    indicator_id: str


def text_of(response: Any) -> str:
    return html.unescape(response.text)


def _post(client: TestClient, path: str, body: dict[str, Any], headers: s.Headers) -> Any:
    response = client.post(path, headers=headers, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def disclose(client: TestClient, contract_id: str, headers: s.Headers | None = None) -> None:
    body = _post(
        client,
        f"{API}/contracts/{contract_id}/disclosure",
        {"reason": "Woo: actieve openbaarmaking"},
        headers or s.commissioner(),
    )
    assert body["public"] is True


def withdraw(client: TestClient, contract_id: str) -> None:
    body = _post(
        client,
        f"{API}/contracts/{contract_id}/disclosure/withdrawal",
        {"reason": "Bijlage met persoonsgegevens"},
        s.commissioner(),
    )
    assert body["public"] is False


def story(client: TestClient, reference: str = "WMO-2025-017") -> Scene:
    """A contract told through the API: a goal chain down to a performance residents deliver,
    an indicator with two measurements, a publication, a consultation, an evaluation, an open
    and a rejected proposal — and the session of the helpers, with its participants."""
    contract = s.active_contract(client, reference)

    def agreed_node(level: str, text: str, parent: str | None, **extra: Any) -> str:
        change = {**s.goal_add(level, text, parent), **extra}
        node_id: str = s.agree(client, contract, "goal", change)["createdIds"]["nodeId"]
        return node_id

    vision = agreed_node("vision", VISION, None)
    effect = agreed_node("effect", "Minder inwoners zijn eenzaam", vision)
    result = agreed_node("result", "Ouderen hebben wekelijks contact", effect)
    agreed_node("performance", PERFORMANCE, result, deliveredBy="residents")
    indicator = s.agree(
        client, contract, "indicator", {**s.indicator_add("Bereik"), "resultId": result}
    )["createdIds"]["indicatorId"]
    for (start, end), value in zip(
        (("2025-01-01", "2025-03-31"), ("2025-04-01", "2025-06-30")), ("75", "82.5"), strict=True
    ):
        _post(
            client,
            contract.url(f"/indicators/{indicator}/measurements"),
            {"period": {"start": start, "end": end}, "value": value, "source": "Registratie"},
            s.provider_a(),
        )
    _post(
        client,
        contract.url("/publications"),
        {"audience": "gemeenteraad", "channel": "raadsinformatiebrief", "summary": PUBLICATION},
        s.commissioner(),
    )
    _post(
        client,
        contract.url("/consultations"),
        {
            "heldOn": "2025-06-10",
            "method": "wijkavond",
            "participantsCount": 41,
            "summary": CONSULTATION,
        },
        s.commissioner(),
    )
    _post(
        client,
        contract.url("/evaluations"),
        {"heldOn": "2025-06-30", "summary": EVALUATION, "conclusions": EVALUATION},
        s.commissioner(),
    )
    s.propose(client, contract, "goal", s.goal_add("performance", OPEN_GOAL, result))
    rejected = s.propose(
        client, contract, "indicator", s.indicator_add(REJECTED_INDICATOR), s.provider_a()
    )
    _post(
        client,
        contract.url(f"/proposals/{rejected['proposalId']}/rejection"),
        {"reason": REJECTION_REASON},
        s.commissioner(),
    )
    return Scene(contract, indicator)


def _value(text: str) -> float:
    return float(text.replace(",", "."))


def public_page(client: TestClient, contract_id: str) -> Any:
    return client.get(f"/openbaar/contracten/{contract_id}")


# ------------------------------------------------------------------------------ the index


def test_only_disclosed_contracts_are_listed_per_commissioner(visitor: TestClient) -> None:
    shown = s.active_contract(visitor, "WMO-2025-017")
    hidden = s.active_contract(visitor, "WMO-2025-018")
    elsewhere = _post(
        visitor,
        f"{API}/contracts",
        s.contract_body("AMF-2025-001", title="Jeugdhulp Amersfoort"),
        s.headers_of(people.GERT),
    )["id"]
    disclose(visitor, shown.id)
    disclose(visitor, elsewhere, s.headers_of(people.GERT))

    index = visitor.get("/openbaar")
    assert index.status_code == 200
    assert "set-cookie" not in index.headers  # no forms, nobody signed in
    page = text_of(index)
    assert f'href="/openbaar/contracten/{shown.id}"' in page
    assert f'href="/openbaar/contracten/{elsewhere}"' in page
    assert hidden.id not in page and "WMO-2025-018" not in page
    # One section per commissioner, each with its own contracts.
    sections = dict(
        re.findall(r'<section aria-labelledby="kop-([a-z0-9-]+)">(.*?)</section>', page, re.S)
    )
    assert set(sections) == {"gemeente-amersfoort", "gemeente-utrecht"}
    assert shown.id in sections["gemeente-utrecht"]
    assert elsewhere not in sections["gemeente-utrecht"]
    assert elsewhere in sections["gemeente-amersfoort"]

    utrecht = text_of(visitor.get("/openbaar/gemeente-utrecht"))
    assert shown.id in utrecht and elsewhere not in utrecht and hidden.id not in utrecht
    assert visitor.get("/openbaar/zorg-a").status_code == 404  # no public contract of its own


def test_a_withdrawn_disclosure_hides_the_contract_again(visitor: TestClient) -> None:
    contract = s.active_contract(visitor)
    assert public_page(visitor, contract.id).status_code == 404
    disclose(visitor, contract.id)
    assert public_page(visitor, contract.id).status_code == 200
    assert contract.id in visitor.get("/openbaar").text

    withdraw(visitor, contract.id)
    gone = public_page(visitor, contract.id)
    assert gone.status_code == 404
    assert "niet openbaar" in text_of(gone)
    assert contract.id not in visitor.get("/openbaar").text
    assert "Er zijn nu geen openbare contracten." in text_of(visitor.get("/openbaar"))
    assert visitor.get("/openbaar/gemeente-utrecht").status_code == 404


# ------------------------------------------------------------------------- the contract page


def test_the_public_page_shows_the_contract_and_nothing_personal(visitor: TestClient) -> None:
    scene = story(visitor)
    recorded = str(s.read_contract(visitor, scene.contract)) + str(
        [
            s.read_records(visitor, scene.contract, kind)
            for kind in ("sessions", "proposals", "publications", "consultations", "evaluations")
        ]
    )
    for private in PRIVATE:  # the contract really holds each of these…
        assert private in recorded, private
    disclose(visitor, scene.contract.id)

    response = public_page(visitor, scene.contract.id)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    page = text_of(response)
    for private in PRIVATE:  # …and the public page shows none of them
        assert private not in page, private
    assert "Inwoners van Noord krijgen dichtbij passende ondersteuning." in page  # assignment
    assert VISION in page and PERFORMANCE in page
    assert "Wie doet het: inwoners" in page  # the performance residents deliver
    assert "Bereik" in page
    assert PUBLICATION in page and "raadsinformatiebrief" in page
    assert CONSULTATION in page and "wijkavond, 41 inwoners deden mee" in page
    assert "Zorg zorg-a" in page  # the providers are organisations, named
    # The goal chain is a tree: the performance sits inside the vision's list.
    vision_item = page[page.index(VISION) :]
    assert vision_item.index(PERFORMANCE) < vision_item.index("</ul>\n</li></ul>")


def test_the_chart_and_its_table_carry_the_same_numbers(visitor: TestClient) -> None:
    scene = story(visitor)
    disclose(visitor, scene.contract.id)
    page = public_page(visitor, scene.contract.id).text
    key = f"grafiek-{scene.indicator_id}"
    article = re.search(rf'<article [^>]*id="{key}".*?</article>', page, re.S)
    assert article, "no chart for the indicator"
    svg = re.search(r"<svg .*?</svg>", article.group(0), re.S)
    table = re.search(r"<table .*?</table>", article.group(0), re.S)
    assert svg and table

    drawn = re.findall(r'class="dialoog-chart__value"[^>]*>([^<]+)<', svg.group(0))
    tabled = re.findall(r'dialoog-number">([^<]+)<', table.group(0))
    assert sorted(drawn, key=_value) == sorted(tabled, key=_value) == INDICATOR_NUMBERS

    # Accessible: an image with a title and a description, and a captioned table beside it.
    opening = svg.group(0).split(">", 1)[0]
    assert 'role="img"' in opening
    assert f'aria-labelledby="{key}-titel {key}-uitleg"' in opening
    assert f'<title id="{key}-titel">Bereik: ' in svg.group(0)
    description = re.search(rf'<desc id="{key}-uitleg">([^<]+)</desc>', svg.group(0))
    assert description and "75, 82,5" in description.group(1)
    assert '<caption class="utrecht-table__caption">Bereik: ' in table.group(0)
    assert " style=" not in page and "<script" not in page

    # Drawn where the numbers say: higher values higher up (smaller y), in period order.
    points = [float(y) for y in re.findall(r'<circle [^>]*cy="([0-9.]+)"', svg.group(0))]
    assert len(points) == 2 and points[1] < points[0]
    baseline = re.search(r'class="dialoog-chart__baseline"[^>]*y1="([0-9.]+)"', svg.group(0))
    target = re.search(r'class="dialoog-chart__target"[^>]*y1="([0-9.]+)"', svg.group(0))
    assert baseline and target
    assert float(target.group(1)) < points[1] < points[0] < float(baseline.group(1))
    # 82.5 is (82.5 - 60) / (90 - 60) = 75% of the way from baseline to target.
    assert "75% van de weg van de nulmeting naar de streefwaarde" in html.unescape(page)


@pytest.mark.parametrize(
    "path",
    [
        "/openbaar/contracten/" + "0" * 32,
        "/openbaar/contracten/not-a-contract",
        "/openbaar/contracten/" + "A" * 32,
        "/openbaar/contracten/" + "f" * 5000,
        "/openbaar/contracten/%00%27%3Cscript%3E",
        "/openbaar/Gemeente%20Utrecht",
        "/openbaar/" + "a" * 65,
        "/openbaar/--",
    ],
)
def test_anything_not_public_is_a_dutch_404(visitor: TestClient, path: str) -> None:
    response = visitor.get(path)
    assert response.status_code == 404
    page = text_of(response)
    assert '<html lang="nl"' in response.text and "Niet gevonden" in page
    assert 'href="/openbaar">Naar de openbare contracten' in page
    assert "content-security-policy" in response.headers
    assert "<script>" not in response.text


def test_an_undisclosed_contract_is_the_same_404_as_a_missing_one(visitor: TestClient) -> None:
    scene = story(visitor)
    undisclosed = public_page(visitor, scene.contract.id)
    missing = public_page(visitor, "0" * 32)
    assert undisclosed.status_code == missing.status_code == 404
    assert undisclosed.text == missing.text
    assert VISION not in undisclosed.text


# ------------------------------------------------------------------------------------ links


def test_everyone_finds_the_public_pages_and_the_manager_the_public_page(
    visitor: TestClient,
) -> None:
    for path in ("/aanmelden", "/toegankelijkheid", "/openbaar"):
        assert 'href="/openbaar">Openbare contracten</a>' in visitor.get(path).text
    contract = s.active_contract(visitor)
    sign_in(visitor, "annemarie.devries")  # the demo's manager at gemeente-utrecht
    own = f"/contracten/{contract.id}"
    assert f'href="/openbaar/contracten/{contract.id}"' not in visitor.get(own).text
    disclose(visitor, contract.id)
    assert f'href="/openbaar/contracten/{contract.id}">Openbare pagina' in visitor.get(own).text
