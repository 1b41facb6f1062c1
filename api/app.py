"""The app factory. `create_app(settings)` builds a FastAPI app whose lifespan bootstraps the
services once per process and closes them on shutdown."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute

from api import health
from api.conditional import ConditionalGetMiddleware
from api.headers import StandardHeadersMiddleware
from api.logs import RequestContextMiddleware
from api.openapi import API_PREFIX
from api.openapi import openapi_document as api_document
from api.pages import install_pages
from api.problems import install_problem_handlers
from api.routes import (
    access,
    access_log,
    audit,
    contracts,
    disclosure,
    erasures,
    events,
    evidence,
    indicators,
    lifecycle,
    log,
    open_data,
    parties,
    proposals,
    publications,
    record_pages,
    records,
    sessions,
    subscriptions,
)
from api.security import TokenVerifier
from api.streams import EventStreams
from api.telemetry import TelemetryMiddleware, configure_tracing, flush_traces, metrics_router
from application.feed import feed_head
from infrastructure.bootstrap import bootstrap
from infrastructure.secrets import jwt_secret
from infrastructure.settings import Settings

OPENAPI_PATH = f"{API_PREFIX}/openapi.json"


def service_version() -> str:
    try:
        return version("dialoog")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


#: The API's routers, under API_PREFIX (the meta router, which belongs to one app, apart).
API_MODULES = (
    contracts,
    parties,
    access,
    publications,
    records,
    lifecycle,
    sessions,
    proposals,
    indicators,
    record_pages,
    audit,
    access_log,
    log,
    evidence,
    events,
    subscriptions,
    disclosure,
    open_data,
    erasures,
)


@functools.cache
def _api_routes() -> tuple[BaseRoute, ...]:
    """The API's routes, built once per process: FastAPI analyses every endpoint's signature
    when a router is included (≈ 0.6 s for all of them), and the routes hold no per-app state,
    so every app (one per test, one per worker) shares them."""
    holder = APIRouter()
    v1 = APIRouter(prefix=API_PREFIX)
    for module in API_MODULES:
        v1.include_router(module.router)
    holder.include_router(v1)
    return tuple(holder.routes)


def include_routers(app: FastAPI) -> None:
    """Every router the service exposes. Probes sit at the root; the API under API_PREFIX."""
    app.include_router(health.router, include_in_schema=False)
    app.router.routes.extend(_api_routes())
    app.include_router(_meta_router(app), prefix=API_PREFIX)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="dialoog API")


def _meta_router(app: FastAPI) -> APIRouter:
    router = APIRouter(tags=["meta"])
    cache: dict[str, Any] = {}

    @router.get(
        "/openapi.json",
        summary="This OpenAPI document",
        description="Served without authentication, to anyone (CORS `*`).",
        response_model=dict[str, Any],
    )
    def openapi_document() -> JSONResponse:
        if "document" not in cache:
            cache["document"] = api_document(app, service_version())
        return JSONResponse(cache["document"], headers={"Access-Control-Allow-Origin": "*"})

    return router


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = bootstrap(settings)
        app.state.services = services
        app.state.token_verifier = TokenVerifier.from_settings(settings, jwt_secret(settings))
        app.state.streams = EventStreams(
            settings.sse_max_streams,
            lambda: feed_head(services.contracts),
            settings.sse_poll_seconds,
        )
        services.start_runner()
        try:
            yield
        finally:
            services.close()
            flush_traces()

    app = FastAPI(
        title="dialoog",
        summary="Contracts that grow through dialogue, kept as an event-sourced history.",
        version=service_version(),
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry spans (the request's SERVER span, dependencies, endpoint);
        # series come from prometheus-client (api/telemetry.py), logs from api/logs.py.
        telemetry={"tracing": True, "operation_spans": True, "metrics": False, "logs": False},
    )
    app.add_middleware(ConditionalGetMiddleware)  # innermost: sees the body the route sent
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(StandardHeadersMiddleware, api_version=service_version())
    configure_tracing(settings, service_version())
    install_pages(app, settings)  # pages for people under / (api/pages/, docs/PAGES.md)
    app.add_middleware(TelemetryMiddleware, fastapi_app=app)  # outermost: sees every response
    install_problem_handlers(app)
    include_routers(app)
    app.include_router(metrics_router(settings))
    return app
