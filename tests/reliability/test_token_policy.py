"""Issue 11, points 4 and 7: signed but odd tokens are 401s (never a 5xx), and the token policy
(algorithms, secret length, lifetime, issuer, audience) is enforced.

Every token here is correctly signed with the configured secret: only its claims are odd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import NotAuthenticated, TokenVerifier, UnsafeTokenPolicy
from infrastructure.settings import Settings
from tests.support import api as s

GOOD = {"sub": "ann", "name": "Ann", "org": s.COMMISSIONER_ORG, "roles": ["contract_manager"]}


def signed(secret: str = s.JWT_SECRET, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {**GOOD, "iat": now, "exp": now + 600}
    body.update(claims)
    for name in [name for name, value in body.items() if value is _DROP]:
        del body[name]
    # Signed as raw JSON: jwt.encode itself refuses some of the odd claims a client could send.
    return jwt.api_jws.encode(json.dumps(body).encode(), secret, algorithm="HS256")


_DROP = object()

#: Claims a signed token may carry that must each be a 401 (issue 11 found 500s for several).
MALFORMED_CLAIMS: dict[str, dict[str, Any]] = {
    "roles holding an object": {"roles": [{"role": "contract_manager"}]},
    "roles holding a list": {"roles": [["contract_manager"]]},
    "roles an object": {"roles": {"contract_manager": True}},
    "roles a number": {"roles": 7},
    "roles empty": {"roles": []},
    "roles unknown": {"roles": ["admin"]},
    "roles null": {"roles": None},
    "lone surrogate in name": {"name": "Ann \ud800"},
    "lone surrogate in sub": {"sub": "\udfffann"},
    "lone surrogate in org": {"org": "gemeente-\ud83d"},
    "newline in org": {"org": "a\nb"},
    "C1 control in name": {"name": "Ann\x85"},
    "DEL in sub": {"sub": "ann\x7f"},
    "name a number": {"name": 42},
    "org a list": {"org": ["gemeente-utrecht"]},
    "org blank": {"org": "   "},
    "sub an object": {"sub": {"id": "ann"}},
    "name too long": {"name": "A" * 201},
    "exp a string": {"exp": "tomorrow"},
    "exp centuries ahead": {"exp": int(time.time()) + 300 * 365 * 86400},
    "iat a string": {"iat": "now"},
    "lifetime 13 h": {"exp": int(time.time()) + 13 * 3600},
    "no roles": {"roles": _DROP},
    "no exp": {"exp": _DROP},
    "no org": {"org": _DROP},
    # One spelling per organisation (issue 10): these would be three parties.
    "org in capitals": {"org": "Buurtteam-Noord"},
    "org with a zero-width space": {"org": "buurtteam-noord\u200b"},
    "org with a double hyphen": {"org": "buurtteam--noord"},
    "org too short": {"org": "bn"},
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url="memory://", data_dir=tmp_path, jwt_secret=s.JWT_SECRET, connect_timeout=2
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("case", sorted(MALFORMED_CLAIMS))
def test_every_malformed_claim_token_is_a_401(client: TestClient, case: str) -> None:
    token = signed(**MALFORMED_CLAIMS[case])
    headers = s.bearer(token)
    for response in (
        client.get(f"{s.API}/contracts", headers=headers),
        client.get(f"{s.API}/contracts/{'0' * 32}", headers=headers),
        client.post(f"{s.API}/contracts", headers=headers, json={"reference": "x"}),
    ):
        assert response.status_code == 401, (case, response.status_code, response.text)
        assert response.headers["content-type"].startswith(s.PROBLEM_MEDIA_TYPE)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_well_formed_token_still_works(client: TestClient) -> None:
    assert client.get(f"{s.API}/contracts", headers=s.bearer(signed())).status_code == 200


def _ec_key_file(tmp_path: Path) -> tuple[Any, Path]:
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "key.pem"
    path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, path


def test_hs256_is_refused_once_a_public_key_is_configured(tmp_path: Path) -> None:
    private, path = _ec_key_file(tmp_path)
    settings = Settings(jwt_public_key_file=path, jwt_secret=s.JWT_SECRET)
    verifier = TokenVerifier.from_settings(settings, s.JWT_SECRET)
    with pytest.raises(NotAuthenticated, match="HS256"):
        verifier.principal(signed())
    now = int(time.time())
    es256 = jwt.encode({**GOOD, "iat": now, "exp": now + 60}, private, algorithm="ES256")
    assert verifier.principal(es256).org == s.COMMISSIONER_ORG
    # Named explicitly, HS256 comes back.
    both = Settings(jwt_public_key_file=path, jwt_algorithms="ES256,HS256")  # type: ignore[arg-type]
    assert TokenVerifier.from_settings(both, s.JWT_SECRET).principal(signed()).subject == "ann"


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Settings(jwt_secret="x" * 31)  # type: ignore[arg-type]
    with pytest.raises(UnsafeTokenPolicy):
        TokenVerifier(secret="x")


def test_issuer_and_audience_are_checked_when_set() -> None:
    settings = Settings(jwt_issuer="https://idp.example", jwt_audience="dialoog")
    verifier = TokenVerifier.from_settings(settings, s.JWT_SECRET)
    good = signed(iss="https://idp.example", aud="dialoog")
    assert verifier.principal(good).subject == "ann"
    for odd in (
        signed(),
        signed(iss="https://evil.example", aud="dialoog"),
        signed(iss="https://idp.example", aud="other-api"),
        signed(iss="https://idp.example"),
        signed(iss=["https://idp.example"], aud="dialoog"),
    ):
        with pytest.raises(NotAuthenticated):
            verifier.principal(odd)
    # Not configured: not checked, so tokens from `dialoog token issue` (which carry both) pass.
    plain = TokenVerifier.from_settings(Settings(), s.JWT_SECRET)
    assert plain.principal(signed(iss="dialoog-local", aud="dialoog-api")).subject == "ann"


def test_the_maximum_lifetime_is_a_setting() -> None:
    verifier = TokenVerifier.from_settings(Settings(jwt_max_lifetime=3600), s.JWT_SECRET)
    assert verifier.principal(signed()).subject == "ann"
    with pytest.raises(NotAuthenticated, match="longer"):
        verifier.principal(signed(exp=int(time.time()) + 2 * 3600))
    # Counted from `iat`: a token issued long ago for long is refused even near its end.
    with pytest.raises(NotAuthenticated, match="longer"):
        verifier.principal(signed(iat=int(time.time()) - 3 * 3600, exp=int(time.time()) + 60))
    # Without `iat` the lifetime counts from now.
    with pytest.raises(NotAuthenticated, match="longer"):
        verifier.principal(signed(iat=_DROP, exp=int(time.time()) + 2 * 3600))


def test_serve_refuses_a_short_secret_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOOG_")}
    env |= {"DIALOOG_JWT_SECRET": "too-short", "DIALOOG_DATABASE_URL": "memory://"}
    env |= {"DIALOOG_DATA_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "32 bytes" in run.stderr
    assert "too-short" not in run.stderr
