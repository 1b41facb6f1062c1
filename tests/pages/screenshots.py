"""`make screenshots`: every page on the demo contract, in Debian's Chromium, as PNG files.

Starts `dialoog serve` on 127.0.0.1 with the development sign-in and a throwaway SQLite store,
signs in as the demo's commissioner, loads the demo with one click, and photographs the pages;
discloses the demo and photographs the residents' pages; then the timeline."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.pages.browser import chromium, new_page  # noqa: E402
from tests.support.api import API, commissioner  # noqa: E402
from tests.support.servers import served  # noqa: E402


def sign_in(page, base: str, subject: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/aanmelden")
    page.locator(f"input[value='{subject}']").check()
    page.get_by_role("button", name="Aanmelden", exact=True).click()
    page.wait_for_url(f"{base}/contracten")


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        with (
            served(f"sqlite:///{data / 'dialoog.sqlite'}", data, DIALOOG_DEV_SIGNIN="1") as server,
            chromium() as browser,
        ):
            base = server.base_url
            page = new_page(browser)
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(f"{base}/aanmelden")
            page.screenshot(path=target / "aanmelden.png", full_page=True)
            sign_in(page, base, "annemarie.devries")
            page.get_by_role("button", name="Demo-overeenkomst laden").click()
            page.wait_for_url(f"{base}/contracten/*")
            contract_url = page.url
            page.screenshot(path=target / "contract.png", full_page=True)
            page.goto(f"{base}/contracten")
            page.screenshot(path=target / "mijn-contracten.png", full_page=True)
            contract_id = contract_url.rsplit("/", 1)[1]
            with server.client() as api:  # the commissioner discloses the demo (Woo)
                api.post(
                    f"{API}/contracts/{contract_id}/disclosure",
                    headers=commissioner(),
                    json={"reason": "Woo: actieve openbaarmaking"},
                ).raise_for_status()
            page.goto(f"{base}/openbaar")
            page.screenshot(path=target / "openbaar.png", full_page=True)
            page.goto(f"{base}/openbaar/contracten/{contract_id}")
            page.screenshot(path=target / "openbaar-contract.png", full_page=True)
            page.goto(f"{base}/toegankelijkheid")
            page.screenshot(path=target / "toegankelijkheid.png", full_page=True)
            page.goto(f"{contract_url}/tijdlijn?vanversie=20&totversie=40#verschil")
            page.screenshot(path=target / "tijdlijn-verschil.png", full_page=True)
            page.goto(f"{contract_url}/tijdlijn?versie=20#stand")
            page.screenshot(path=target / "tijdlijn-versie.png", full_page=True)
    print(f"screenshots in {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
