"""Fixtures of the page tests: the app with the development sign-in on each backend, a clock the
tests move (for the session timeouts), and helpers that act as a person in a browser would:
read the form token from the page, post the form, follow the redirect."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.settings import Settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def visitor(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    """A client that keeps its cookies, like a browser, against the app with the dev sign-in."""
    app = create_app(settings.model_copy(update={"dev_signin": True}))
    app.state.page_clock = clock
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def form_token(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    match = CSRF.search(response.text)
    assert match, f"no form token on {path}"
    return match.group(1)


def sign_in(client: TestClient, subject: str) -> None:
    token = form_token(client, "/aanmelden")
    response = client.post(
        "/aanmelden/ontwikkeling",
        data={"csrf": token, "persoon": subject, "volgende": "/contracten"},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/contracten"


def post_form(client: TestClient, page: str, action: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    """Post a form the way the page offers it: with the token that page carries."""
    token = form_token(client, page)
    return client.post(action, data={"csrf": token, **fields})


def load_demo(client: TestClient) -> str:
    response = post_form(client, "/contracten", "/contracten/demo", {})
    assert response.status_code == 303, response.text
    return str(response.headers["location"]).removeprefix("/contracten/")
