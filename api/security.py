"""Bearer tokens: who is calling, for which organisation, in which roles.

Tokens are JWTs. HS256 with DIALOOG_JWT_SECRET (or the generated secret in the data directory);
for production also RS256/ES256/EdDSA with a public key (PEM) or a JWKS file named by
DIALOOG_JWT_PUBLIC_KEY_FILE. Claims: `sub`, `name`, `org`, `roles` and `exp` (all required).
A missing, malformed, badly signed or expired token is a 401 with `WWW-Authenticate: Bearer`.
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
from domain.values import Role

ROLES = frozenset(role.value for role in Role)
#: Claims name a person and an organisation: no control characters at all (not even newlines,
#: which separate the parts of an idempotency scope).
ANY_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]
LEEWAY_SECONDS = 30


class NotAuthenticated(Exception):
    """No valid bearer token; `detail` says what is wrong without echoing the token."""

    code = "not-authenticated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class TokenVerifier:
    secret: str
    public_keys: list[Any] = field(default_factory=list)

    @classmethod
    def from_files(cls, secret: str, public_key_file: Path | None) -> TokenVerifier:
        keys: list[Any] = []
        if public_key_file is not None:
            text = Path(public_key_file).read_text()
            if text.lstrip().startswith("{"):
                keys = [jwt.PyJWK(k).key for k in json.loads(text).get("keys", [])]
            else:
                keys = [text]
        return cls(secret=secret, public_keys=keys)

    def principal(self, token: str) -> Principal:
        claims = self._claims(token)
        for name in ("sub", "name", "org"):
            if not isinstance(claims.get(name), str) or not claims[name].strip():
                raise NotAuthenticated(f"the token has no '{name}' claim")
            if len(claims[name]) > 200 or ANY_CONTROL_CHARACTER.search(claims[name]):
                raise NotAuthenticated(f"the token's '{name}' claim is not acceptable")
        roles = claims.get("roles")
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not roles or not set(roles) <= ROLES:
            raise NotAuthenticated(f"the token's 'roles' must be a list drawn from {sorted(ROLES)}")
        return Principal(
            subject=claims["sub"], name=claims["name"], org=claims["org"], roles=frozenset(roles)
        )

    def _claims(self, token: str) -> dict[str, Any]:
        options: Any = {"require": ["exp", "sub"]}
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise NotAuthenticated("the bearer token is not a JWT") from None
        algorithm = header.get("alg")
        try:
            if algorithm == "HS256":
                return dict(
                    jwt.decode(
                        token,
                        self.secret,
                        algorithms=["HS256"],
                        options=options,
                        leeway=LEEWAY_SECONDS,
                    )
                )
            if algorithm in ASYMMETRIC_ALGORITHMS and self.public_keys:
                for key in self.public_keys:
                    try:
                        return dict(
                            jwt.decode(
                                token,
                                key,
                                algorithms=[algorithm],
                                options=options,
                                leeway=LEEWAY_SECONDS,
                            )
                        )
                    except (jwt.InvalidSignatureError, jwt.InvalidKeyError, TypeError, ValueError):
                        continue  # not this key (or not a key of this algorithm's type)
                raise NotAuthenticated("the token's signature does not verify")
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("the token has expired") from None
        except jwt.MissingRequiredClaimError as error:
            raise NotAuthenticated(f"the token has no '{error.claim}' claim") from None
        except jwt.InvalidSignatureError:
            raise NotAuthenticated("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise NotAuthenticated("the bearer token is not valid") from None
        raise NotAuthenticated(f"tokens signed with {algorithm!r} are not accepted")


def issue_token(secret: str, *, sub: str, name: str, org: str, roles: list[str], ttl: int) -> str:
    now = int(time.time())
    claims = {"sub": sub, "name": name, "org": org, "roles": roles, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


_bearer = HTTPBearer(
    auto_error=False, description="A JWT issued for one person of one organisation"
)


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.principal(credentials.credentials)
    request.state.principal = principal  # for the access log (api/telemetry.py)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
