"""HTTP conventions shared by the routers: ETag / If-Match, Contract-Digest, Idempotency-Key.

* Every contract response carries `ETag: "<version>"` and `Contract-Digest: sha-256=<hex>`.
* A write with `If-Match: "<version>"` applies only at that version (else 412).
* A POST with `Idempotency-Key` is carried out once: a repeat with the same body answers with
  the original status and body (rendered from the contract at the version the first call left),
  a different body is a 422, and a repeat while the first is still running here is a 409.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from application.commands import CommandResult, ContractCommand, OpenContract
from application.errors import ApplicationError, InvalidQuery
from application.principal import Principal
from application.service import ContractService
from application.views import View, Viewed

JSON = "application/json"
ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,10})"\s*$')
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class IdempotencyKeyInFlight(ApplicationError):
    code = "idempotency-key-in-flight"


class _InFlight:
    """Keys being carried out by this process right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[tuple[str, str]] = set()

    @contextmanager
    def hold(self, subject: str, key: str | None) -> Iterator[None]:
        if key is None:
            yield
            return
        entry = (subject, key)
        with self._lock:
            if entry in self._keys:
                raise IdempotencyKeyInFlight(
                    "a request with this idempotency key is still being carried out"
                )
            self._keys.add(entry)
        try:
            yield
        finally:
            with self._lock:
                self._keys.discard(entry)


IN_FLIGHT = _InFlight()


def expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = ETAG.match(if_match)
    if found is None:
        raise InvalidQuery('If-Match must be an entity tag such as "7"')
    return int(found.group(1))


def checked_key(key: str | None) -> str | None:
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidQuery("Idempotency-Key must be 1–200 visible ASCII characters")
    return key


def contract_headers(version: int, digest: str) -> dict[str, str]:
    return {"ETag": f'"{version}"', "Contract-Digest": f"sha-256={digest}"}


def respond(viewed: Viewed[Any], status: int = 200, location: str | None = None) -> Response:
    headers = contract_headers(viewed.version, viewed.head_digest)
    if location is not None:
        headers["Location"] = location
    body = viewed.body
    if isinstance(body, bytes):  # rendered already (ContractQueries.contract_state_json)
        return Response(body, status_code=status, headers=headers, media_type=JSON)
    if isinstance(body, BaseModel):  # serialised by pydantic's core in one step
        content = body.model_dump_json(by_alias=True).encode()
        return Response(content, status_code=status, headers=headers, media_type=JSON)
    return JSONResponse(body, status_code=status, headers=headers)


def run_command(
    service: ContractService,
    principal: Principal,
    command: OpenContract | ContractCommand,
    view: View,
    *,
    if_match: str | None = None,
    idempotency_key: str | None = None,
    status: int = 200,
    location: Callable[[CommandResult], str] | None = None,
) -> Response:
    """Carry out one command and answer with the view of the contract it left behind (a repeat:
    as the first run left it)."""
    key = checked_key(idempotency_key)
    with IN_FLIGHT.hold(principal.scope, key):
        result = service.handle(
            principal,
            command,
            expected_version=expected_version(if_match),
            idempotency_key=key,
            view=view,
        )
    response = respond(result.view, status, location(result) if location else None)
    if result.log_indexes:  # the receipt's second half: where the events sit in the log
        response.headers["Log-Index"] = ", ".join(str(i) for i in result.log_indexes)
    return response
