"""What every page needs: the templates, the session, who is signed in, the form token check,
the headers (strict CSP), and one way to render."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.pages.sessions import PageSession
from application import dutch
from application.principal import Principal
from application.service import ContractService
from domain.values import LOCAL_TIMEZONE
from infrastructure.bootstrap import Services

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

#: Pages load styles and scripts from this origin only; no inline script or style at all.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": PAGE_CSP,
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def _capitalised(*keys: str) -> dict[str, str]:
    return {key: dutch.word(key)[:1].upper() + dutch.word(key)[1:] for key in keys}


#: The application's one Dutch vocabulary, capitalised for labels and badges.
STATUS_NL = _capitalised(
    "draft",
    "active",
    "suspended",
    "terminated",
    "completed",
    "open",
    "agreed",
    "rejected",
    "withdrawn",
    "invited",
    "declined",
    "retired",
)
ROLE_NL = {"contract_manager": "contractmanager", "auditor": "auditor", "reader": "lezer"}
LEVEL_NL = _capitalised("vision", "effect", "result", "performance")
KIND_NL = _capitalised("scope_refinement", "goal", "indicator", "adjustment", "package")


class SignInRequired(Exception):
    """No one is signed in (or the session ended): the handler sends the visitor to sign in."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class FormTokenInvalid(Exception):
    """A form arrived without this session's CSRF token."""


def page_session(request: Request) -> PageSession:
    session = getattr(request.state, "page_session", None)
    if session is None:  # the middleware always sets it for pages; this is a wiring error
        raise RuntimeError("PageSessionMiddleware is not installed")
    return cast(PageSession, session)


def signed_in(request: Request) -> Principal:
    principal = page_session(request).principal
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    request.state.principal = principal  # for the access log, as the API does
    return principal


SessionDep = Annotated[PageSession, Depends(page_session)]
UserDep = Annotated[Principal, Depends(signed_in)]


async def form_data(request: Request) -> dict[str, str]:
    """The posted form as plain strings, once its CSRF token matches the session's."""
    form = await request.form()
    data = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    if not page_session(request).token_matches(data.pop("csrf", None)):
        raise FormTokenInvalid
    return data


FormDep = Annotated[dict[str, str], Depends(form_data)]


def contracts_of(request: Request) -> ContractService:
    return cast(Services, request.app.state.services).contracts


class RenderedPages:
    """Pages rendered once and kept, per key, with the form token left as a placeholder that
    each answer fills in: a signed-in person's contract page depends on the contract's version,
    the person and the day, not on the request. Bounded in count and age (10 minutes)."""

    MAX_PAGES = 64
    MAX_AGE = 600.0

    def __init__(self) -> None:
        self.placeholder = "csrf-" + secrets.token_hex(16)
        self._pages: OrderedDict[tuple[Any, ...], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def get(self, key: tuple[Any, ...]) -> str | None:
        with self._lock:
            kept = self._pages.get(key)
            if kept is None or time.monotonic() - kept[0] > self.MAX_AGE:
                self._pages.pop(key, None)
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return kept[1]

    def put(self, key: tuple[Any, ...], html: str) -> None:
        with self._lock:
            self._pages[key] = (time.monotonic(), html)
            self._pages.move_to_end(key)
            while len(self._pages) > self.MAX_PAGES:
                self._pages.popitem(last=False)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    kept_as: tuple[Any, ...] | None = None,
) -> HTMLResponse:
    """The page; with `kept_as` (a key naming everything the page depends on but the form
    token), rendered once and kept (RenderedPages)."""
    session = page_session(request)
    token = session.form_token() if session.principal or context.get("needs_form") else ""
    base = {
        "user": session.principal,
        "csrf": token,
        "dev_signin": request.app.state.pages.dev_signin,
        "oidc": request.app.state.pages.oidc is not None,
    }
    if kept_as is None or not token:
        return templates.TemplateResponse(
            request, template, {**base, **context}, status_code=status, headers=PAGE_HEADERS
        )
    pages: RenderedPages = request.app.state.pages.rendered
    html = pages.get(kept_as)
    if html is None:
        html = templates.get_template(template).render(
            {**base, **context, "csrf": pages.placeholder, "request": request}
        )
        pages.put(kept_as, html)
    return HTMLResponse(
        html.replace(pages.placeholder, token), status_code=status, headers=PAGE_HEADERS
    )


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers=PAGE_HEADERS)


def sign_in_path(next_path: str) -> str:
    return "/aanmelden?volgende=" + quote(next_path, safe="/")


def safe_next(value: str | None) -> str:
    """Only a path on this site (never `//elsewhere` or a full URL) after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/contracten"


# ---------------------------------------------------------------------------- template filters


def euro(value: Decimal | int | str | None) -> str:
    """€ 1.234.567,89 — Dutch grouping and decimal comma."""
    return dutch.euros(value)


def number(value: Decimal | int | str | None) -> str:
    return dutch.number(value)


def datum(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        local = value.astimezone(LOCAL_TIMEZONE)
        return f"{dutch.day(local.date())} {local:%H:%M:%S}"
    return dutch.day(value)


templates.env.filters.update(
    euro=euro,
    number=number,
    datum=datum,
    status=lambda s: STATUS_NL.get(str(s), str(s)),
    role=lambda r: ROLE_NL.get(str(r), str(r)),
    level=lambda level: LEVEL_NL.get(str(level), str(level)),
    kind=lambda k: KIND_NL.get(str(k), str(k)),
)
