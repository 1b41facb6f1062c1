"""Page sessions: a signed cookie that says who signed in, when, and the form (CSRF) token.

The cookie (`dialoog_sessie`) is HttpOnly, SameSite=Lax, Secure when the page was asked for
over https, and signed with a key derived from DIALOOG_SESSION_SECRET (else the JWT secret).
It expires after DIALOOG_SESSION_IDLE_TIMEOUT seconds without a request and, however busy,
DIALOOG_SESSION_ABSOLUTE_TIMEOUT seconds after sign-in; signing out removes it. A visitor gets a
cookie only once a page needs one (a form token, or a sign-in), so reading a page without forms
sends none. The bearer-token API never looks at it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.principal import Principal

COOKIE = "dialoog_sessie"
#: Paths the page session never touches (the API, probes and metrics keep their own rules).
NOT_PAGES = ("/api/", "/healthz", "/readyz", "/metrics", "/static/")


@dataclass
class PageSession:
    """What the cookie holds. `user` is None until someone signs in."""

    csrf: str = ""
    created: float = 0.0
    seen: float = 0.0
    user: dict[str, Any] | None = None
    #: the sign-in in progress at the identity provider: state, nonce, PKCE verifier, next page
    pending: dict[str, str] | None = None
    #: why the last session ended (shown once on the sign-in page)
    ended: str | None = None
    dirty: bool = field(default=False, compare=False)
    cleared: bool = field(default=False, compare=False)

    def form_token(self) -> str:
        """The CSRF token forms carry; made (and the cookie sent) on first use."""
        if not self.csrf:
            self.csrf = secrets.token_urlsafe(32)
            self.dirty = True
        return self.csrf

    def token_matches(self, offered: str | None) -> bool:
        return bool(self.csrf and offered) and hmac.compare_digest(
            self.csrf.encode(), str(offered).encode()
        )

    @property
    def principal(self) -> Principal | None:
        if self.user is None:
            return None
        return Principal(
            subject=self.user["sub"],
            name=self.user["name"],
            org=self.user["org"],
            roles=frozenset(self.user["roles"]),
        )

    def sign_in(self, principal: Principal, now: float) -> None:
        """A fresh session (new form token too: no token from before sign-in carries over)."""
        self.user = {
            "sub": principal.subject,
            "name": principal.name,
            "org": principal.org,
            "roles": sorted(principal.roles),
        }
        self.csrf = secrets.token_urlsafe(32)
        self.created = self.seen = now
        self.pending = None
        self.ended = None
        self.dirty = True

    def sign_out(self, why: str | None = None) -> None:
        self.user = None
        self.pending = None
        self.csrf = ""
        self.ended = why
        self.dirty = True
        self.cleared = why is None

    def as_cookie(self) -> dict[str, Any]:
        return {
            "c": self.csrf,
            "t0": self.created,
            "t": self.seen,
            "u": self.user,
            "p": self.pending,
            "e": self.ended,
        }

    @classmethod
    def from_cookie(cls, data: Any) -> PageSession:
        if not isinstance(data, dict):
            return cls()
        user = data.get("u")
        pending = data.get("p")
        return cls(
            csrf=str(data.get("c") or ""),
            created=float(data.get("t0") or 0),
            seen=float(data.get("t") or 0),
            user=user if isinstance(user, dict) else None,
            pending=pending if isinstance(pending, dict) else None,
            ended=data.get("e") if isinstance(data.get("e"), str) else None,
        )


def session_key(secret: str) -> bytes:
    """The cookie-signing key, derived so that it is never the JWT secret itself."""
    return hmac.new(secret.encode(), b"dialoog page sessions", hashlib.sha256).digest()


class PageSessionMiddleware:
    """Loads the page session into `scope["state"]["page_session"]`, applies the timeouts, and
    writes the cookie back when the session changed (or moved its idle clock)."""

    def __init__(
        self,
        app: ASGIApp,
        secret: Callable[[], str],
        idle_timeout: int,
        absolute_timeout: int,
    ) -> None:
        self.app = app
        self._secret = secret
        self._serializer: URLSafeSerializer | None = None
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def serializer(self) -> URLSafeSerializer:
        if self._serializer is None:
            self._serializer = URLSafeSerializer(session_key(self._secret()), salt="sessie")
        return self._serializer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NOT_PAGES):
            await self.app(scope, receive, send)
            return
        clock: Callable[[], float] = getattr(scope["app"].state, "page_clock", time.time)
        now = clock()
        session = self._load(HTTPConnection(scope).cookies.get(COOKIE), now)
        scope.setdefault("state", {})["page_session"] = session
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and (session.dirty or session.cleared):
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", self._cookie(session, secure))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, raw: str | None, now: float) -> PageSession:
        if not raw:
            return PageSession()
        try:
            session = PageSession.from_cookie(self.serializer().loads(raw))
        except (BadSignature, ValueError, TypeError):
            session = PageSession()
            session.cleared = True  # a cookie we did not sign (or an old key's): drop it
            return session
        if session.user is not None:
            if now - session.seen > self.idle_timeout:
                session.sign_out("Uw sessie is verlopen omdat u een tijd niets deed.")
            elif now - session.created > self.absolute_timeout:
                session.sign_out("Uw sessie is verlopen; meld u opnieuw aan.")
            else:
                session.seen = now
                session.dirty = True
        return session

    def _cookie(self, session: PageSession, secure: bool) -> str:
        flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
        if session.cleared and not session.dirty:
            return f"{COOKIE}=; Max-Age=0" + flags
        if session.cleared and session.user is None and not session.csrf and not session.ended:
            return f"{COOKIE}=; Max-Age=0" + flags
        value = self.serializer().dumps(session.as_cookie())
        return f"{COOKIE}={value}; Max-Age={self.absolute_timeout}" + flags
