"""The OpenAPI document of API v1, shaped to the NLGov REST API Design Rules.

Routes live under /api/v1 in the app; the document names `/api/v1` as its server and lists
every path relative to it (`/openapi.json` included), declares `API-Version` on every 2xx/3xx
response, 400 on every operation that takes input, and problem+json for every error.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

API_PREFIX = "/api/v1"
CONTACT = {
    "name": "dialoog team",
    "url": "https://dialoog.example/contact",
    "email": "api@dialoog.example",
}
DESCRIPTION = """\
Contracts that grow through dialogue: Dutch municipalities and their social-domain providers
open a contract inside a financial framework with a global assignment, and sharpen it for years
through sessions, proposals and consent. Every change is an event in a hash-chained history that
auditors can replay, compare and verify.

**Try it:** get a token (`dialoog token issue --sub me --name Me --org gemeente-utrecht --role
contract_manager`), click *Authorize*, then `POST /contracts`.

Conventions: lowerCamelCase JSON, money as decimal strings, dates `YYYY-MM-DD`, times RFC 3339
with offset. Contract responses carry `ETag: "<version>"` and `Contract-Digest: sha-256=<hex>`;
send `If-Match` to write only at a known version and `Idempotency-Key` to make a POST safe to
repeat. Errors are RFC 9457 problem details whose `type` ends in a stable code.
"""

#: OWASP API9 asks each server to name its environment: this document describes whichever
#: deployment serves it (production, test or a local `make run`), relative to itself.
SERVER_DESCRIPTION = "This server (production, test or local: the one serving this document)"

_HEADERS = {
    "API-Version": {
        "description": "The full version of this API",
        "schema": {"type": "string", "maxLength": 32, "example": "1.0.0"},
    },
}
_ETAG = {
    "description": "An entity tag of this representation: the contract version it reflects "
    '(e.g. `"7"`) where there is one — a read with `asOf` or `inForceOn` is a view, not a '
    'version, and has a weak tag naming the query (`W/"inForceOn=2026-07-15;version=48"`) — '
    "else a strong tag of its bytes; send it back in `If-None-Match` to get a 304 while it is "
    "unchanged",
    "schema": {"type": "string", "maxLength": 120, "pattern": '^(W/)?"[^"]+"$'},
}
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "ETags you hold; when one is current the answer is a 304 without a body",
    "schema": {"type": "string", "maxLength": 1000},
}
_CONTRACT_HEADERS = {
    "ETag": _ETAG,
    "Contract-Digest": {
        "description": "The head digest of the contract's hash chain: a receipt to keep",
        "schema": {
            "type": "string",
            "maxLength": 80,
            "pattern": "^sha-256=[0-9a-f]{64}$",
            "example": "sha-256=3a7bd3e2360a3d29eea436fcfb7e44c73a7bd3e2360a3d29eea436fcfb7e44c7",
        },
    },
}


_LOG_INDEX = {
    "description": "The transparency log's leaf indexes of the events this command appended, "
    "e.g. `12, 13`: ask for their inclusion proofs (absent on a repeat answered from its "
    "Idempotency-Key)",
    "schema": {"type": "string", "maxLength": 400, "pattern": "^[0-9]+(, [0-9]+)*$"},
}


_DOCUMENTS: dict[str, dict[str, Any]] = {}
_DOCUMENTS_LOCK = threading.Lock()


def openapi_document(app: FastAPI, version: str) -> dict[str, Any]:
    """The OpenAPI document of this process's API, built once per version: every app of the
    process (one per worker, one per test) serves the same API routes, and building the
    document analyses every model (≈ 1.7 s). Callers read it and never change it."""
    with _DOCUMENTS_LOCK:
        if version not in _DOCUMENTS:
            _DOCUMENTS[version] = build_openapi(app, version)
        return _DOCUMENTS[version]


def build_openapi(app: FastAPI, version: str) -> dict[str, Any]:
    document = get_openapi(
        title="dialoog API",
        version=version,
        summary="Contracts that grow through dialogue, kept as a verifiable history.",
        description=DESCRIPTION,
        routes=app.routes,
        contact=CONTACT,
        servers=[{"url": API_PREFIX, "description": SERVER_DESCRIPTION}],
        tags=[
            {"name": "contracts", "description": "Open, read and steer contracts"},
            {"name": "dialogue", "description": "Sessions, proposals and consent"},
            {"name": "indicators", "description": "The dashboard and measurements"},
            {"name": "audit", "description": "History, differences and verification"},
            {
                "name": "transparency log",
                "description": "Signed checkpoints and proofs over every event (docs/EVIDENCE.md)",
            },
            {"name": "events", "description": "The change feed and its stream"},
            {
                "name": "privacy",
                "description": "Erasing personal data without breaking the chain (docs/PRIVACY.md)",
            },
            {"name": "open data", "description": "Public contracts as OCDS, without a token"},
            {"name": "meta", "description": "This document"},
        ],
    )
    document["paths"] = {
        path.removeprefix(API_PREFIX): item
        for path, item in document["paths"].items()
        if path.startswith(API_PREFIX + "/")
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _shape_operation(path, method, operation)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _typed_integers(document)
    # OWASP API9 (inventory): say which environment a server is and that it is public.
    for server in document.get("servers", []):
        server["x-internal"] = False
    return document


def _typed_integers(node: Any) -> None:
    """Every integer is a 64-bit one (versions, counts, cursors: PostgreSQL bigint); OWASP
    API4 asks the document to say so."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            node.setdefault("format", "int64")
        for value in node.values():
            _typed_integers(value)
    elif isinstance(node, list):
        for value in node:
            _typed_integers(value)


def _absent_not_null(parameter: dict[str, Any]) -> None:
    """An optional query or header parameter is left out, never sent as null: its schema is the
    value's own (FastAPI writes `anyOf: [value, null]` for `X | None`)."""
    schema = parameter.get("schema") or {}
    variants = schema.get("anyOf")
    if not isinstance(variants, list) or {"type": "null"} not in variants:
        return
    values = [v for v in variants if v != {"type": "null"}]
    if len(values) != 1:
        return
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    parameter["schema"] = {**values[0], **rest}


def _shape_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") in ("query", "header"):
            _absent_not_null(parameter)
    responses: dict[str, Any] = operation["responses"]
    if method == "get":
        # Conditional GETs (api/conditional.py): every 200 carries an ETag.
        operation.setdefault("parameters", []).append(dict(_IF_NONE_MATCH))
        if "200" in responses:
            responses["200"].setdefault("headers", {})["ETag"] = _ETAG
            responses["304"] = {"description": "Not modified: `If-None-Match` names the ETag"}
    validation = responses.pop("422", None)
    takes_input = bool(operation.get("parameters")) or "requestBody" in operation
    if validation is not None and method == "post":
        responses["422"] = _problem("The Idempotency-Key was used before with a different body")
    if takes_input and "400" not in responses:
        responses["400"] = _problem("Invalid input; see invalidParams")
    if operation.get("security") and "401" not in responses:
        responses["401"] = _problem("No valid bearer token")
    # Anything unforeseen is a problem+json 500 with a request id (never a stack trace).
    responses.setdefault("500", _problem("Internal error; the operators have been told"))
    for code, response in responses.items():
        if code.startswith(("2", "3")):
            headers = response.setdefault("headers", {})
            headers.update(_HEADERS)
            if path.startswith("/contracts/") and path.endswith("/export"):
                pass  # a zip of the stored events, not a view of the contract
            elif path.startswith("/contracts/") or (path == "/contracts" and method == "post"):
                headers.update(_CONTRACT_HEADERS)
            if path == "/contracts/{contractId}" and method == "get":
                headers["Contract-Version"] = {
                    "description": "With `asOf` or `inForceOn`: the version of the history the "
                    "view was computed from",
                    "schema": {"type": "integer", "minimum": 1},
                }
            if method == "post" and path.startswith("/contracts"):
                headers["Log-Index"] = _LOG_INDEX
            if code == "201" and path == "/contracts":
                headers["Location"] = {
                    "description": "Where the new contract can be read",
                    "schema": {"type": "string", "format": "uri-reference", "maxLength": 2048},
                }
        elif code.startswith(("4", "5")):
            content: dict[str, Any] = response.get("content") or {}
            first: dict[str, Any] = next(iter(content.values()), {})
            schema = first.get("schema") or {"$ref": "#/components/schemas/Problem"}
            response["content"] = {"application/problem+json": {"schema": schema}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
