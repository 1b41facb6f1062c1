"""Bearer tokens: who is calling, for which organisation, in which roles.

Tokens are JWTs. HS256 with DIALOOG_JWT_SECRET (or the generated secret in the data directory);
for production RS256/ES256/PS256/EdDSA with a public key (PEM) or a JWKS file named by
DIALOOG_JWT_PUBLIC_KEY_FILE — and then HS256 is no longer accepted unless
DIALOOG_JWT_ALGORITHMS names it. Claims: `sub`, `name`, `org`, `roles` and `exp` (all required),
`iss` and `aud` when DIALOOG_JWT_ISSUER / DIALOOG_JWT_AUDIENCE are set, and a lifetime
(`exp - iat`, or `exp - now` without `iat`) of at most DIALOOG_JWT_MAX_LIFETIME seconds.
Every claim is checked by type and content before use. A missing, malformed, badly signed,
expired or otherwise unacceptable token is a 401 with `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from application.service import Principal
from domain.values import ORG_ID, Role
from infrastructure.settings import JWT_ALGORITHMS, MIN_SECRET_BYTES, Settings

ROLES = frozenset(role.value for role in Role)
#: Claims name a person and an organisation: no control characters at all (C0, DEL, C1 — not
#: even newlines, which separate the parts of an idempotency scope) and no lone surrogates
#: (they cannot be encoded, so they would fail later as a 500).
UNACCEPTABLE_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: Kept for callers that imported the old name.
ANY_CONTROL_CHARACTER = UNACCEPTABLE_CHARACTER
ASYMMETRIC_ALGORITHMS = [a for a in JWT_ALGORITHMS if a != "HS256"]
LEEWAY_SECONDS = 30
MAX_TEXT_CLAIM = 200
DEFAULT_MAX_LIFETIME = 12 * 3600
#: What `dialoog token issue` and `make run` put in `iss` / `aud` unless configured otherwise.
LOCAL_ISSUER = "dialoog-local"
LOCAL_AUDIENCE = "dialoog-api"


class NotAuthenticated(Exception):
    """No valid bearer token; `detail` says what is wrong without echoing the token."""

    code = "not-authenticated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsafeTokenPolicy(ValueError):
    """The configured token policy cannot be served (e.g. an HS256 secret that is too short)."""


@dataclass
class TokenVerifier:
    secret: str
    public_keys: list[Any] = field(default_factory=list)
    algorithms: tuple[str, ...] = ("HS256", *ASYMMETRIC_ALGORITHMS)
    issuer: str | None = None
    audience: str | None = None
    max_lifetime: int = DEFAULT_MAX_LIFETIME

    def __post_init__(self) -> None:
        if "HS256" in self.algorithms and len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise UnsafeTokenPolicy(
                f"the HS256 secret is shorter than {MIN_SECRET_BYTES} bytes; set a longer "
                "DIALOOG_JWT_SECRET (or remove HS256 from DIALOOG_JWT_ALGORITHMS)"
            )

    @classmethod
    def from_files(cls, secret: str, public_key_file: Path | None) -> TokenVerifier:
        return cls(secret=secret, public_keys=_public_keys(public_key_file))

    @classmethod
    def from_settings(cls, settings: Settings, secret: str) -> TokenVerifier:
        return cls(
            secret=secret,
            public_keys=_public_keys(settings.jwt_public_key_file),
            algorithms=settings.accepted_jwt_algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            max_lifetime=settings.jwt_max_lifetime,
        )

    def principal(self, token: str) -> Principal:
        claims = self._claims(token)
        for name in ("sub", "name", "org"):
            value = claims.get(name)
            if not isinstance(value, str) or not value.strip():
                raise NotAuthenticated(f"the token has no '{name}' claim")
            if len(value) > MAX_TEXT_CLAIM or UNACCEPTABLE_CHARACTER.search(value):
                raise NotAuthenticated(f"the token's '{name}' claim is not acceptable")
        if not 3 <= len(claims["org"]) <= 64 or not ORG_ID.fullmatch(claims["org"]):
            # One spelling per organisation everywhere: "Buurtteam-Noord" and "buurtteam-noord"
            # must not become two parties (lowercase words joined by hyphens, 3–64 characters).
            raise NotAuthenticated("the token's 'org' claim is not an organisation id")
        roles = claims.get("roles")
        if isinstance(roles, str):
            roles = [roles]
        if (
            not isinstance(roles, list)
            or not roles
            or not all(isinstance(role, str) and role in ROLES for role in roles)
        ):
            raise NotAuthenticated(f"the token's 'roles' must be a list drawn from {sorted(ROLES)}")
        self._check_lifetime(claims)
        return Principal(
            subject=claims["sub"], name=claims["name"], org=claims["org"], roles=frozenset(roles)
        )

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        expires, issued = claims.get("exp"), claims.get("iat", time.time())
        if not _is_number(expires) or not _is_number(issued):
            raise NotAuthenticated("the token's 'exp' and 'iat' must be numbers")
        if expires - issued > self.max_lifetime + LEEWAY_SECONDS:
            raise NotAuthenticated(
                f"the token lives longer than the {self.max_lifetime} s this service accepts"
            )

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise NotAuthenticated("the bearer token is not a JWT") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise NotAuthenticated(f"tokens signed with {str(algorithm)[:20]!r} are not accepted")
        if algorithm == "HS256":
            keys: list[Any] = [self.secret]
        elif self.public_keys:
            keys = self.public_keys
        else:
            raise NotAuthenticated(f"tokens signed with {algorithm!r} are not accepted")
        required = ["exp", "sub"] + ["iss"] * bool(self.issuer) + ["aud"] * bool(self.audience)
        options: Any = {"require": required, "verify_aud": self.audience is not None}
        try:
            for key in keys:
                try:
                    claims = jwt.decode(
                        token,
                        key,
                        algorithms=[algorithm],
                        options=options,
                        leeway=LEEWAY_SECONDS,
                        issuer=self.issuer,
                        audience=self.audience,
                    )
                except (jwt.InvalidSignatureError, jwt.InvalidKeyError, TypeError, ValueError):
                    continue  # not this key (or not a key of this algorithm's type)
                if not isinstance(claims, dict):
                    raise NotAuthenticated("the bearer token is not valid")
                return dict(claims)
            raise NotAuthenticated("the token's signature does not verify")
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("the token has expired") from None
        except jwt.MissingRequiredClaimError as error:
            raise NotAuthenticated(f"the token has no '{error.claim}' claim") from None
        except jwt.InvalidIssuerError:
            raise NotAuthenticated(
                "the token was issued by someone this service does not trust"
            ) from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated("the token is meant for another audience") from None
        except jwt.PyJWTError:
            raise NotAuthenticated("the bearer token is not valid") from None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _public_keys(public_key_file: Path | None) -> list[Any]:
    if public_key_file is None:
        return []
    text = Path(public_key_file).read_text()
    if text.lstrip().startswith("{"):
        return [jwt.PyJWK(k).key for k in json.loads(text).get("keys", [])]
    return [text]


def issue_token(
    secret: str,
    *,
    sub: str,
    name: str,
    org: str,
    roles: list[str],
    ttl: int,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "name": name,
        "org": org,
        "roles": roles,
        "iat": now,
        "exp": now + ttl,
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


_bearer = HTTPBearer(
    auto_error=False, description="A JWT issued for one person of one organisation"
)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from the token's signature and claims: no I/O (the keys are loaded at
    start), so on the event loop rather than through the thread pool."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.principal(credentials.credentials)
    request.state.principal = principal  # for the access log (api/telemetry.py)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
