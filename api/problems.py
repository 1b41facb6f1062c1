"""Errors as RFC 9457 problem details, and the single table that maps exceptions to them.

Routes never raise HTTPException for business reasons: they let application and domain errors
propagate, and `ERROR_STATUS` decides the status code. Add a line there for each new error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic.alias_generators import to_camel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.http import IdempotencyKeyInFlight
from api.logs import current_request_id
from api.security import NotAuthenticated
from application.checkpoints import LogInconsistent
from application.errors import (
    ApplicationError,
    CommitOutcomeUnknown,
    ContractNotFound,
    HistoryCorrupt,
    IdempotencyKeyReused,
    InvalidQuery,
    NotInForce,
    NotPermitted,
    NotStored,
    ReferenceTaken,
    StoreUnavailable,
    SubscriptionNotFound,
    TooMuchContention,
    VersionMismatch,
)
from application.log_queries import LeafNotFound
from application.witnesses import CosignatureRefused, WitnessConflict, WitnessNotFound
from domain import errors as rules

PROBLEM_BASE = "https://dialoog.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

logger = logging.getLogger("dialoog.errors")

# error class -> (status, title). The `type` is PROBLEM_BASE + the error's `code` attribute.
# Looked up along the class's MRO, so a base class covers its subclasses.
ERROR_STATUS: dict[type[Exception], tuple[int, str]] = {
    StoreUnavailable: (503, "Event store unavailable"),
    TooMuchContention: (503, "Too many concurrent changes to this contract; try again"),
    ContractNotFound: (404, "No such contract"),
    NotInForce: (404, "The contract was not in force on that date"),
    HistoryCorrupt: (500, "The stored history of this contract is damaged"),
    NotPermitted: (403, "Your role does not allow this"),
    VersionMismatch: (412, "The contract has moved on since the version you named"),
    ReferenceTaken: (409, "That reference is already in use"),
    IdempotencyKeyReused: (422, "Idempotency-Key reused with a different request"),
    IdempotencyKeyInFlight: (409, "A request with this Idempotency-Key is still running"),
    InvalidQuery: (400, "Request is not valid"),
    SubscriptionNotFound: (404, "No such webhook subscription"),
    LeafNotFound: (404, "No such leaf in a contract you may see"),
    LogInconsistent: (409, "The log no longer extends the last checkpoint signed"),
    WitnessNotFound: (404, "No such witness or checkpoint"),
    WitnessConflict: (409, "The witness key is registered or approved already"),
    CosignatureRefused: (409, "The co-signature was refused"),
    ApplicationError: (400, "Request cannot be carried out"),
    # Who may act is the organisation's business: acting for another party is forbidden.
    rules.NotAParty: (403, rules.NotAParty.title),
    rules.CommissionerOnly: (403, rules.CommissionerOnly.title),
    rules.ConsentNotYours: (403, rules.ConsentNotYours.title),
    rules.NotProposer: (403, rules.NotProposer.title),
    rules.InvalidValue: (400, rules.InvalidValue.title),
    rules.BatchRefused: (400, rules.BatchRefused.title),
    # Every other rule of the contract refused the command: 409, the type names the rule.
    rules.DomainError: (409, rules.DomainError.title),
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem+json response; `code` becomes the stable `type` URI."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    body.update(extensions)
    all_headers = dict(headers or {})
    request_id = current_request_id()
    if request_id:
        all_headers.setdefault("X-Request-ID", request_id)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=all_headers
    )


def _status_for(error: Exception) -> tuple[int, str] | None:
    for cls in type(error).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return None


def _code_of(error: Exception) -> str:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) and code else "error"


#: What a client is told for a 5xx: never the message itself, which may name a host, a port, a
#: database, a file or the library's own words. Operators find those in the log line, under the
#: same request id. Errors whose text this service wrote for clients are listed in PUBLIC_5XX.
GENERIC_DETAIL = {
    503: "The event store did not answer in time; try again shortly.",
    500: "The request could not be carried out; the operators have been told.",
}
HISTORY_CORRUPT_DETAIL = (
    "The stored history of this contract does not replay; the operators have been told. "
    "Ask for its verification to see where it breaks."
)
PUBLIC_5XX: tuple[type[Exception], ...] = (NotStored, CommitOutcomeUnknown, TooMuchContention)


def public_detail(error: Exception, status: int) -> str | None:
    """The detail a client may read for `error` answered with `status`."""
    if status < 500 or isinstance(error, PUBLIC_5XX):
        return str(error) or None
    if isinstance(error, HistoryCorrupt):
        return HISTORY_CORRUPT_DETAIL
    return GENERIC_DETAIL.get(status, GENERIC_DETAIL[500])


def error_problem(error: Exception) -> JSONResponse:
    """The response for an application or domain error listed in ERROR_STATUS."""
    status, title = _status_for(error) or (500, "Internal server error")
    title = getattr(error, "title", None) or title
    if status >= 500 and status != 503:
        logger.error("error mapped to %s", status, exc_info=error)
    elif status == 503:
        logger.warning("%s: %s", _code_of(error), error)
    extensions: dict[str, Any] = dict(getattr(error, "extensions", None) or {})
    if isinstance(error, rules.BatchRefused):
        extensions["invalidParams"] = [
            {"name": f"measurements[{index}]" + _below(refusal), "reason": refusal.detail}
            for index, refusal in error.refusals
        ]
    elif status == 400:
        extensions["invalidParams"] = [{"name": field_path(error), "reason": str(error)}]
    if isinstance(error, VersionMismatch):
        extensions.update(expectedVersion=error.expected, actualVersion=error.actual)
    return problem(status, _code_of(error), title, public_detail(error, status), **extensions)


async def _not_authenticated(_: Request, error: Exception) -> Response:
    detail = error.detail if isinstance(error, NotAuthenticated) else "not authenticated"
    return problem(
        401,
        "not-authenticated",
        "Authentication required",
        detail,
        {"WWW-Authenticate": 'Bearer realm="dialoog"'},
    )


async def _application_error(_: Request, error: Exception) -> Response:
    return error_problem(error)


async def _validation_error(request: Request, error: Exception) -> Response:
    # FastAPI parses the body before it checks the token: a caller without a valid token
    # learns that first, not what is wrong with a body it may not send at all.
    unauthenticated = _unauthenticated(request)
    if unauthenticated is not None:
        return await _not_authenticated(request, unauthenticated)
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    body = getattr(error, "body", None)
    invalid = [
        {"name": json_path(e.get("loc", ()), body), "reason": e.get("msg", "invalid")}
        for e in errors
    ]
    return problem(
        400, "invalid-request", "Request is not valid", "See invalidParams.", invalidParams=invalid
    )


def json_path(loc: Sequence[Any], body: Any) -> str:
    """The place of an invalid value as the client wrote it (`change.baseline.value`,
    `participants[2].org`, `query.limit`): pydantic's location with the labels it adds of its
    own — the tag of a discriminated union (`indicator`), the branch of a union (`str`) —
    left out, found by walking the request body along the location."""
    if not loc:
        return "body"
    if loc[0] != "body":
        return ".".join(str(part) for part in loc)
    path, node, missing = "", body, False
    for part in loc[1:]:
        if isinstance(node, dict) and not missing:
            if part in node:
                node = node[part]
            elif part in node.values():
                continue  # the tag of a discriminated union, already in the body
            else:
                missing, node = True, None  # a field the body lacks
            path += f".{part}" if path else str(part)
        elif isinstance(node, list) and isinstance(part, int) and not missing:
            node = node[part] if 0 <= part < len(node) else None
            path += f"[{part}]"
        elif missing:
            path += f".{part}" if path else str(part)
        # otherwise: a label for the branch of a union under a value; not part of the path
    return path or "body"


def field_path(error: Exception) -> str:
    """The JSON path of the argument a domain error names (`change.baseline.value` for the
    domain's `change.baseline.value`, `heldOn` for `held_on`); `body` where it names none."""
    field = getattr(error, "field", None)
    if not field:
        return "body"
    path, before = "", ""
    for part in field.split("."):
        if part.isdigit():
            # The n-th change of a package is `changes[n].change` in the body.
            path += f"[{part}]" + (".change" if before == "changes" else "")
        else:
            path += ("." if path else "") + to_camel(part)
        before = part
    return path


def _below(error: Exception) -> str:
    """`.field` for a refusal that names a field (`.period.end`), else nothing."""
    path = field_path(error)
    return "" if path == "body" else f".{path}"


def _unauthenticated(request: Request) -> NotAuthenticated | None:
    verifier = getattr(request.app.state, "token_verifier", None)
    if verifier is None or not request.url.path.startswith("/api/v1/contracts"):
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return NotAuthenticated("send 'Authorization: Bearer <token>'")
    try:
        verifier.principal(token.strip())
    except NotAuthenticated as error:
        return error
    return None


async def _http_error(_: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, StarletteHTTPException) else 500
    detail = error.detail if isinstance(error, StarletteHTTPException) else None
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
    code = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
        status, f"http-{status}"
    )
    headers = getattr(error, "headers", None)
    return problem(status, code, titles.get(status, "HTTP error"), str(detail or ""), headers)


async def _unhandled(_: Request, error: Exception) -> Response:
    # Logged with its traceback server-side; the client learns only the request id.
    logger.error("unhandled error", exc_info=error)
    return problem(500, "internal-error", "Internal server error", requestId=current_request_id())


Handler = Callable[[Request, Exception], Awaitable[Response]]

EXCEPTION_HANDLERS: dict[type[Exception], Handler] = {
    NotAuthenticated: _not_authenticated,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    Exception: _unhandled,
}


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers; read at call time so entries added to ERROR_STATUS count."""
    for cls in ERROR_STATUS:
        app.add_exception_handler(cls, _application_error)
    for cls, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(cls, handler)
