"""The auditor's dossier on every store: in Dutch, the parties, money against the ceiling and
the modification limit, each agreed change with its consents and session, indicators against
their targets, the timeline, and the verification against a signed checkpoint; printed as PDF."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from application.checkpoints import Checkpointer
from application.errors import ContractNotFound
from infrastructure.log_key import log_signer
from infrastructure.pdf import pdf_of
from infrastructure.settings import Settings
from tests.support.app import COMMISSIONER, OUTSIDER, service_for
from tests.support.use_cases import build_world


class Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(html: str) -> str:
    parser = Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_the_dossier_tells_the_contract_in_dutch_and_prints(settings: Settings) -> None:
    service = service_for(settings)
    try:
        world = build_world(service)
        checkpoints = Checkpointer(
            service.recorder, log_signer(settings), origin=settings.log_origin, interval=0
        )
        html = service.dossier(COMMISSIONER, world.contract_id, checkpoints)
        with pytest.raises(ContractNotFound):
            service.dossier(OUTSIDER, world.contract_id, checkpoints)
        size = service.merkle_log().size()
    finally:
        service.close()
    text = _text(html)
    assert "Dossier WMO-2025-01 — Wijkteams Utrecht" in text
    assert "Status: actief" in text
    assert "plafond per periode € 1.000.000,00" in text
    assert "wijzigingsgrens" in text and "binnen de grens" in text
    assert "Overeengekomen wijzigingen" in text
    # kind, rationale, proposer, consents, session
    consented = "zorg-a, gemeente-utrecht 3 februari 2025 (dialogue, verslag MIN-1)"
    assert f"indicator why zorg-a {consented}" in text
    assert "Terugval (v1) % 7 5 per 31 december 2026 6.5 (31 maart 2025)" in text
    assert "Tijdlijn" in text and "ContractOpened" in text
    assert "de hashketen klopt (12 versies)" in text
    assert f"boomgrootte {size}" in text
    assert f"Opnamebewijs van de laatste versie (blad {size - 1}): klopt" in text
    pdf = pdf_of(html)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5000
