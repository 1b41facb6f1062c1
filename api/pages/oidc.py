"""Sign-in through the organisation's OpenID Connect provider: the authorization code flow with
PKCE (S256), state and nonce, using Authlib's OAuth 2 client; the ID token is checked
(signature against the provider's JWKS, issuer, audience, expiry, nonce) with PyJWT.

Which claims carry the organisation, the roles and the name is configuration
(DIALOOG_OIDC_ORG_CLAIM, _ROLES_CLAIM, _NAME_CLAIM); the values must pass the same checks as a
bearer token's (an organisation id, known roles, no control characters)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import jwt

from api.security import MAX_TEXT_CLAIM, ROLES, UNACCEPTABLE_CHARACTER
from application.principal import Principal
from domain.values import ORG_ID
from infrastructure.settings import Settings

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import OAuth2Client

#: How long the provider's discovery document is kept before it is fetched again.
DISCOVERY_SECONDS = 3600
HTTP_TIMEOUT = 10.0
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


class SignInFailed(Exception):
    """The provider's answer cannot sign anyone in; the message is Dutch and names no secret."""


@dataclass
class OidcClient:
    issuer: str
    client_id: str
    client_secret: str | None
    scope: str
    org_claim: str
    roles_claim: str
    name_claim: str
    _metadata: dict[str, Any] | None = field(default=None, repr=False)
    _fetched: float = 0.0
    _jwks: jwt.PyJWKClient | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient | None:
        if not settings.oidc_issuer or not settings.oidc_client_id:
            return None
        secret = settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer.rstrip("/"),
            client_id=settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            scope=settings.oidc_scope,
            org_claim=settings.oidc_org_claim,
            roles_claim=settings.oidc_roles_claim,
            name_claim=settings.oidc_name_claim,
        )

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched > DISCOVERY_SECONDS:
                url = f"{self.issuer}/.well-known/openid-configuration"
                try:
                    response = httpx.get(url, timeout=HTTP_TIMEOUT)
                    response.raise_for_status()
                    document = response.json()
                except (httpx.HTTPError, ValueError) as error:
                    raise SignInFailed(
                        "De aanmelddienst is nu niet bereikbaar; probeer het later opnieuw."
                    ) from error
                if document.get("issuer", "").rstrip("/") != self.issuer:
                    raise SignInFailed("De aanmelddienst noemt zich anders dan ingesteld.")
                self._metadata = document
                self._fetched = time.monotonic()
                self._jwks = jwt.PyJWKClient(document["jwks_uri"], timeout=int(HTTP_TIMEOUT))
            return self._metadata

    def _client(self, redirect_uri: str) -> OAuth2Client:
        # Imported when a sign-in needs it: Authlib warns at import that it prefers httpx2.
        from authlib.integrations.httpx_client import OAuth2Client

        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT,
        )

    def start(self, redirect_uri: str) -> tuple[str, dict[str, str]]:
        """The provider's authorization URL, and what the session keeps until the callback."""
        pending = {
            "state": secrets.token_urlsafe(32),
            "nonce": secrets.token_urlsafe(32),
            "verifier": secrets.token_urlsafe(64),
        }
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=pending["state"],
                code_verifier=pending["verifier"],
                nonce=pending["nonce"],
            )
        return str(url), pending

    def finish(
        self, redirect_uri: str, pending: dict[str, str], params: dict[str, str]
    ) -> Principal:
        """Exchange the code for tokens and the ID token for a principal."""
        if "error" in params:
            raise SignInFailed("De aanmelding is afgebroken of geweigerd.")
        state, code = params.get("state"), params.get("code")
        if not state or not code or not secrets.compare_digest(state, pending.get("state", "")):
            raise SignInFailed("Deze aanmelding hoort niet bij uw browsersessie; begin opnieuw.")
        metadata = self.metadata()
        try:
            with self._client(redirect_uri) as client:
                token = client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending["verifier"],
                )
        except Exception as error:  # Authlib raises OAuthError or httpx errors
            raise SignInFailed("De aanmelddienst gaf geen toegang; begin opnieuw.") from error
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("De aanmelddienst gaf geen identiteitsbewijs.")
        claims = self._verified_claims(id_token)
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending.get("nonce", "")):
            raise SignInFailed("Het identiteitsbewijs hoort niet bij deze aanmelding.")
        return self.principal_of(claims)

    def _verified_claims(self, id_token: str) -> dict[str, Any]:
        assert self._jwks is not None  # set by metadata()  # noqa: S101
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            if kid is not None:
                key = self._jwks.get_signing_key(kid).key
            else:
                # No `kid`: allowed when the provider publishes exactly one signing key.
                (only,) = self._jwks.get_signing_keys()
                key = only.key
            claims = jwt.decode(
                id_token,
                key,
                algorithms=ID_TOKEN_ALGORITHMS,
                audience=self.client_id,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=30,
            )
        except (jwt.PyJWTError, ValueError) as error:
            raise SignInFailed("Het identiteitsbewijs is niet geldig.") from error
        return dict(claims)

    def principal_of(self, claims: dict[str, Any]) -> Principal:
        sub, name, org = claims.get("sub"), claims.get(self.name_claim), claims.get(self.org_claim)
        for value in (sub, name, org):
            if (
                not isinstance(value, str)
                or not value.strip()
                or len(value) > MAX_TEXT_CLAIM
                or UNACCEPTABLE_CHARACTER.search(value)
            ):
                raise SignInFailed(
                    "Uw account mist een naam of organisatie; vraag uw beheerder dit te regelen."
                )
        assert isinstance(sub, str) and isinstance(name, str) and isinstance(org, str)  # noqa: S101
        if not 3 <= len(org) <= 64 or not ORG_ID.fullmatch(org):
            raise SignInFailed("De organisatie van uw account is geen geldige organisatiecode.")
        roles = claims.get(self.roles_claim)
        if isinstance(roles, str):
            roles = roles.split()
        if not isinstance(roles, list) or not roles or not all(r in ROLES for r in roles):
            raise SignInFailed("Uw account heeft geen rol in deze dienst.")
        return Principal(subject=sub, name=name, org=org, roles=frozenset(roles))
