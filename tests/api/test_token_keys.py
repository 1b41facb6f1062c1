"""Tokens signed with public-key algorithms: each key is tried only as what it is, and no
crafted header turns into a 500."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.security import NotAuthenticated, TokenVerifier

CLAIMS = {"sub": "s", "name": "N", "org": "gemeente-utrecht", "roles": ["reader"]}


def pem(private_key: object) -> str:
    public = private_key.public_key()  # type: ignore[attr-defined]
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture
def keys() -> tuple[object, object]:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(
        ec.SECP256R1()
    )


def token(key: object, algorithm: str, **extra: object) -> str:
    claims = {**CLAIMS, "exp": int(time.time()) + 60, **extra}
    return jwt.encode(claims, key, algorithm=algorithm)  # type: ignore[arg-type]


def test_an_ec_token_verifies_even_when_an_rsa_key_comes_first(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rsa_key, ec_key = keys
    verifier = TokenVerifier(secret="x" * 40, public_keys=[pem(rsa_key), pem(ec_key)])
    assert verifier.principal(token(ec_key, "ES256")).org == "gemeente-utrecht"
    assert verifier.principal(token(rsa_key, "RS256")).org == "gemeente-utrecht"


def test_a_token_for_a_key_nobody_configured_is_refused_not_a_crash(keys) -> None:  # type: ignore[no-untyped-def]
    rsa_key, ec_key = keys
    verifier = TokenVerifier(secret="x" * 40, public_keys=[pem(rsa_key)])
    with pytest.raises(NotAuthenticated):
        verifier.principal(token(ec_key, "ES256"))
    with pytest.raises(NotAuthenticated):
        verifier.principal(token(ec.generate_private_key(ec.SECP384R1()), "ES384"))


def test_claims_with_control_characters_are_refused() -> None:
    verifier = TokenVerifier(secret="x" * 40)
    crafted = jwt.encode(
        {**CLAIMS, "org": "a\nb", "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256"
    )
    with pytest.raises(NotAuthenticated):
        verifier.principal(crafted)
