"""The browser side of the page tests: Debian's Chromium driven by Playwright, axe-core from npm
(installed by `make pages-assets` into .tools/pages), and the dev-signed-in server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.servers import ROOT

CHROMIUM = Path("/usr/lib/chromium/chromium")
AXE = ROOT / ".tools" / "pages" / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.1 A and AA (and the 2.0 rules they include).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: No page waits longer than this for anything (ms).
TIMEOUT_MS = 15_000


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise AssertionError(
            f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], timeout=TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser) -> Page:
    context = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now. axe is evaluated through
    the DevTools protocol (not as a <script> of the page), so the strict CSP stays as served."""
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: run `make pages-assets`")
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_TAGS,
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{page.url}: " + json.dumps(violations, indent=1)
