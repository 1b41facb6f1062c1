"""The app factory. `create_app(settings)` builds a FastAPI app whose lifespan bootstraps the
services once per process and closes them on shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from api import health
from api.logs import RequestContextMiddleware
from api.problems import install_problem_handlers
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings

API_PREFIX = "/api/v1"


def service_version() -> str:
    try:
        return version("dialoog")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def include_routers(app: FastAPI) -> None:
    """Every router the service exposes. Probes sit at the root; the API under API_PREFIX."""
    app.include_router(health.router)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = bootstrap(settings)
        app.state.services = services
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="dialoog",
        summary="Contracts that grow through dialogue, kept as an event-sourced history.",
        version=service_version(),
        lifespan=lifespan,
    )
    app.add_middleware(RequestContextMiddleware)
    install_problem_handlers(app)
    include_routers(app)
    return app
