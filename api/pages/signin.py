"""Signing in and out: through the organisation's OpenID Connect provider, or — for `make run`
only (DIALOOG_DEV_SIGNIN=1) — by picking one of the demo's people."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import demo
from api.pages.common import (
    PAGE_HEADERS,
    FormDep,
    SessionDep,
    redirect,
    render,
    safe_next,
)
from api.pages.oidc import SignInFailed
from application.principal import Principal

router = APIRouter(include_in_schema=False)

#: The people of `dialoog demo` (api/demo.py) a newcomer can be on the development sign-in page.
DEMO_PEOPLE: dict[str, Principal] = {p.subject: p for p in (*demo.PEOPLE.values(), demo.AUDITOR)}


def _now(request: Request) -> float:
    clock = getattr(request.app.state, "page_clock", time.time)
    return float(clock())


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


@router.get("/")
def home(session: SessionDep) -> RedirectResponse:
    return redirect("/contracten" if session.principal else "/aanmelden")


@router.get("/aanmelden")
def sign_in_page(
    request: Request,
    session: SessionDep,
    volgende: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    ended, session.ended = session.ended, None
    if ended:
        session.dirty = True
    return render(
        request,
        "aanmelden.html",
        {
            "title": "Aanmelden",
            "next": safe_next(volgende),
            "ended": ended,
            "people": list(DEMO_PEOPLE.values()) if request.app.state.pages.dev_signin else [],
            "needs_form": True,
        },
    )


@router.get("/aanmelden/oidc")
def oidc_start(
    request: Request,
    session: SessionDep,
    volgende: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    client = request.app.state.pages.oidc
    if client is None:
        return redirect("/aanmelden")
    try:
        url, pending = client.start(_callback_url(request))
    except SignInFailed as error:
        return _sign_in_error(request, str(error))
    session.pending = {**pending, "next": safe_next(volgende)}
    session.dirty = True
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


@router.get("/aanmelden/oidc/terug", name="oidc_callback")
def oidc_callback(request: Request, session: SessionDep) -> Response:
    client = request.app.state.pages.oidc
    pending = session.pending
    if client is None or pending is None:
        return _sign_in_error(request, "Er loopt geen aanmelding; begin opnieuw.")
    params = {k: v for k, v in request.query_params.items() if len(v) <= 4096}
    try:
        principal = client.finish(_callback_url(request), pending, params)
    except SignInFailed as error:
        session.pending = None
        session.dirty = True
        return _sign_in_error(request, str(error))
    session.sign_in(principal, _now(request))
    return redirect(pending.get("next", "/contracten"))


@router.post("/aanmelden/ontwikkeling")
def dev_sign_in(request: Request, session: SessionDep, form: FormDep) -> Response:
    if not request.app.state.pages.dev_signin:
        return _sign_in_error(request, "Aanmelden zonder aanmelddienst staat uit.", 404)
    person = DEMO_PEOPLE.get(form.get("persoon", ""))
    if person is None:
        return _sign_in_error(request, "Kies een persoon om als aan te melden.")
    session.sign_in(person, _now(request))
    return redirect(safe_next(form.get("volgende")))


@router.post("/afmelden")
def sign_out(session: SessionDep, form: FormDep) -> Response:
    session.sign_out()
    return redirect("/aanmelden?afgemeld=1")


def _sign_in_error(request: Request, message: str, status: int = 400) -> HTMLResponse:
    return render(
        request,
        "aanmelden.html",
        {
            "title": "Aanmelden",
            "next": "/contracten",
            "error": message,
            "people": list(DEMO_PEOPLE.values()) if request.app.state.pages.dev_signin else [],
            "needs_form": True,
        },
        status=status,
    )
