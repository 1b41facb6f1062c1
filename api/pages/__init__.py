"""Pages for people (issue 16): server-rendered Dutch pages under `/`, beside the API under
`/api/v1`, calling the same application layer. `install_pages(app, settings)` is the one call
api/app.py makes: the page session, the static files (NL Design System CSS, installed by
`make pages-assets`), the theme, and the routers. See docs/PAGES.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.pages import about, public, signin, timeline, workspace
from api.pages.common import (
    HERE,
    PAGE_HEADERS,
    FormTokenInvalid,
    RenderedPages,
    SignInRequired,
    render,
    sign_in_path,
)
from api.pages.oidc import OidcClient
from api.pages.sessions import PageSessionMiddleware
from infrastructure.secrets import jwt_secret
from infrastructure.settings import Settings

STATIC = HERE / "static"
#: The open example theme (EUPL-1.2), copied here by `make pages-assets`.
OPEN_THEME = STATIC / "nlds" / "theme.css"


@dataclass(frozen=True)
class PagesConfig:
    dev_signin: bool
    oidc: OidcClient | None
    theme: Path
    #: pages rendered once per contract version and person (api.pages.common.RenderedPages)
    rendered: RenderedPages = field(default_factory=RenderedPages)


def install_pages(app: FastAPI, settings: Settings) -> None:
    app.state.pages = PagesConfig(
        dev_signin=settings.dev_signin and not settings.oidc_issuer,
        oidc=OidcClient.from_settings(settings),
        theme=settings.theme_css or OPEN_THEME,
    )

    def secret() -> str:
        if settings.session_secret is not None:
            return settings.session_secret.get_secret_value()
        return jwt_secret(settings)

    app.add_middleware(
        PageSessionMiddleware,
        secret=secret,
        idle_timeout=settings.session_idle_timeout,
        absolute_timeout=settings.session_absolute_timeout,
    )
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.get("/thema.css", include_in_schema=False)
    def theme_css(request: Request) -> Response:
        path: Path = request.app.state.pages.theme
        if not path.is_file():
            return Response(
                "/* no theme installed: run make pages-assets */", media_type="text/css"
            )
        return FileResponse(path, media_type="text/css")

    async def sign_in_first(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequired)  # noqa: S101
        return RedirectResponse(sign_in_path(error.next_path), 303, headers=PAGE_HEADERS)

    async def form_expired(request: Request, error: Exception) -> HTMLResponse:
        return render(
            request,
            "fout.html",
            {
                "title": "Formulier verlopen",
                "message": "Dit formulier is verlopen of kwam niet van deze site. Er is niets "
                "vastgelegd. Open de pagina opnieuw en probeer het nog eens.",
                "needs_form": True,
            },
            status=403,
        )

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(FormTokenInvalid, form_expired)
    for module in (signin, workspace, timeline, public, about):
        app.include_router(module.router)
