"""Sign-in through a real OpenID Connect provider started on 127.0.0.1: the authorization code
flow with PKCE (S256), state and nonce; the ID token's claims become the person, their
organisation and roles. What does not fit is refused with a Dutch message, and no one is
signed in."""

from __future__ import annotations

import html
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.settings import Settings
from tests.pages.oidc_provider import oidc_provider


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider() as url:
        yield url


@pytest.fixture
def visitor(tmp_path, issuer: str) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url="memory://",
        data_dir=tmp_path,
        jwt_secret="test-secret-with-enough-length-for-hs256",
        oidc_issuer=issuer,
        oidc_client_id="dialoog-test",
        oidc_client_secret="client-secret-of-the-test",
        dev_signin=True,  # ignored: an OIDC issuer switches the development sign-in off
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def _to_provider(visitor: TestClient) -> tuple[str, dict[str, list[str]]]:
    response = visitor.get("/aanmelden/oidc?volgende=/contracten")
    assert response.status_code == 303
    location = response.headers["location"]
    return location, parse_qs(urlsplit(location).query)


def _provider_answers(location: str, sub: str) -> str:
    """The person picks `sub` on the provider's own form; its redirect back to dialoog."""
    answer = httpx.post(location, data={"sub": sub}, timeout=10, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _back_at_dialoog(visitor: TestClient, callback: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(callback)
    assert parts.path == "/aanmelden/oidc/terug"
    return visitor.get(f"{parts.path}?{parts.query}")


def test_sign_in_through_the_provider_with_pkce(visitor: TestClient, issuer: str) -> None:
    location, query = _to_provider(visitor)
    assert location.startswith(f"{issuer}/oauth2/authorize?")
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256 digest
    assert query["state"][0] and query["nonce"][0]
    assert "code_verifier" not in query  # the verifier never leaves the server

    response = _back_at_dialoog(visitor, _provider_answers(location, "ann"))
    assert response.status_code == 303
    assert response.headers["location"] == "/contracten"
    page = html.unescape(visitor.get("/contracten").text)
    assert "Ann Jansen" in page and "gemeente-utrecht" in page and "contractmanager" in page


def test_the_development_sign_in_is_off_with_an_issuer(visitor: TestClient) -> None:
    page = visitor.get("/aanmelden").text
    assert "Aanmelden bij uw organisatie" in page
    assert "annemarie.devries" not in page


def test_a_callback_with_another_state_signs_no_one_in(visitor: TestClient) -> None:
    location, _ = _to_provider(visitor)
    callback = _provider_answers(location, "ann")
    parts = urlsplit(callback)
    params = parse_qs(parts.query)
    response = visitor.get(f"{parts.path}?code={params['code'][0]}&state=someone-elses")
    assert response.status_code == 400
    assert "hoort niet bij uw browsersessie" in html.unescape(response.text)
    assert visitor.get("/contracten").status_code == 303


def test_a_callback_without_a_sign_in_in_progress_is_refused(visitor: TestClient) -> None:
    response = visitor.get("/aanmelden/oidc/terug?code=abc&state=def")
    assert response.status_code == 400
    assert "Er loopt geen aanmelding" in html.unescape(response.text)


def test_an_account_without_an_organisation_is_refused(visitor: TestClient) -> None:
    location, _ = _to_provider(visitor)
    response = _back_at_dialoog(visitor, _provider_answers(location, "nobody"))
    assert response.status_code == 400
    assert "mist een naam of organisatie" in html.unescape(response.text)
    assert visitor.get("/contracten").status_code == 303


def test_serve_refuses_the_development_sign_in_together_with_an_issuer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(
        app,
        ["serve"],
        env={
            "DIALOOG_DATABASE_URL": "memory://",
            "DIALOOG_DATA_DIR": str(tmp_path),
            "DIALOOG_DEV_SIGNIN": "1",
            "DIALOOG_OIDC_ISSUER": "https://login.example.nl",
        },
    )
    assert result.exit_code == 2
    assert "DIALOOG_DEV_SIGNIN=1 is for development only" in result.output
