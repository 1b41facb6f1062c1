"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.problems import PROBLEM_MEDIA_TYPE

router = APIRouter(tags=["health"])

_PROBLEM_RESPONSE = {
    "description": "The event store does not answer",
    "content": {PROBLEM_MEDIA_TYPE: {}},
}


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The event store answers (within ~5 s either way)",
    responses={503: _PROBLEM_RESPONSE},
)
def readyz(services: ServicesDep) -> dict[str, str]:
    services.ready()  # StoreUnavailable becomes a 503 problem via api.problems
    return {"status": "ready"}
