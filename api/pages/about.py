"""Pages about the site itself: the accessibility statement (toegankelijkheidsverklaring)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.pages.common import render

router = APIRouter(include_in_schema=False)


@router.get("/toegankelijkheid")
def accessibility_statement(request: Request) -> HTMLResponse:
    return render(request, "toegankelijkheid.html", {"title": "Toegankelijkheidsverklaring"})
