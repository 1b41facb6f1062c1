"""What the API reports to operators: traces, Prometheus series, and the access log of personal
data, from one ASGI middleware that knows which route a request took.

* **Traces** (OpenTelemetry): a W3C `traceparent` from the caller is continued, a new trace is
  started otherwise; the response carries `traceparent` back. Each request is a SERVER span
  named `METHOD /route/{template}`; a command (a POST under /contracts) gets a child span named
  for the command (`SubmitProposal`), and the event store's write a span under that
  (infrastructure/metrics.py). Spans are exported only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  The trace id is the request id of the JSON access log (api/logs.py).
* **Metrics** (prometheus-client): requests and latency by route template (never the raw path)
  and status; commands by type and outcome (`ok` or the problem type's code); at scrape time,
  the read-model lag. `GET /metrics` answers loopback callers, or anyone with the metrics token.
* **Access log**: every contract-scoped request by an authenticated caller becomes an
  `AccessEntry` (who, which contract, which operation, when, outcome, trace id), handed to the
  buffered store without waiting for it (infrastructure/access_log.py).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response
from opentelemetry import propagate, trace
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.openapi import API_PREFIX, openapi_document
from application.access_log import AccessEntry
from infrastructure.settings import Settings

MULTIPROC_DIR_VAR = "PROMETHEUS_MULTIPROC_DIR"
CONTRACTS_PREFIX = f"{API_PREFIX}/contracts"
_CONTRACT_ID = re.compile(r"[0-9a-f]{32}")
_PROBLEM_CODE = re.compile(r"[a-z0-9-]{1,64}")
_UNMATCHED = "unmatched"  # every path no route knows shares one label value

_LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
HTTP_REQUESTS = Counter(
    "dialoog_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "dialoog_http_request_duration_seconds",
    "Time from a request's arrival to its last response byte, by route template and status.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
COMMANDS = Counter(
    "dialoog_commands",
    "Commands carried out or refused, by command and outcome (ok or the problem's code).",
    ["command", "outcome"],
)

_tracer = trace.get_tracer("dialoog.api")


# --------------------------------------------------------------------------- tracing


def configure_tracing(settings: Settings, service_version: str) -> None:
    """Install the SDK's tracer provider once per process; export only to a configured OTLP
    endpoint (the exporter reads the other OTEL_EXPORTER_OTLP_* variables itself)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(
        resource=Resource.create({"service.name": "dialoog", "service.version": service_version})
    )
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def flush_traces() -> None:
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush()


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def command_name(route: Any) -> str:
    """`SubmitProposal` for a route whose operation id is submitProposal or whose endpoint is
    submit_proposal."""
    name = getattr(route, "operation_id", None) or getattr(route, "name", "") or "unmatched"
    parts = re.split(r"_|(?=[A-Z])", name)
    return "".join(part[:1].upper() + part[1:] for part in parts if part)


# --------------------------------------------------------------------------- the middleware


class TelemetryMiddleware:
    """Inside FastAPI's own SERVER span (named `METHOD /route/{template}`, continuing the
    caller's `traceparent`): one route lookup per request feeds the command span, the series
    and the access log.

    Routes under /api/v1 are looked up in the OpenAPI document (built once): its path
    templates and operation ids are what operators and auditors see elsewhere too."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._operations: list[_Operation] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        operation = self._operation(method, scope["path"])
        is_command = method == "POST" and operation is not None and operation.contract_scoped
        server_span = trace.get_current_span()
        outgoing: dict[str, str] = {}
        propagate.inject(outgoing)
        started = time.perf_counter()
        status = 500
        problem_body = bytearray()
        created: list[str] = []  # POST /contracts: the new contract's id, from Location

        async def send_traced(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"location":
                        created.append(value.decode("latin-1").rsplit("/", 1)[-1])
                if "traceparent" in outgoing:
                    extra = [(b"traceparent", outgoing["traceparent"].encode("ascii"))]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif message["type"] == "http.response.body" and status >= 400:
                problem_body.extend(message.get("body", b"")[:8192])
            await send(message)

        command = "command"
        try:
            if is_command:
                # Named for the command once the route is known (its endpoint's name).
                with _tracer.start_as_current_span(command) as command_span:
                    try:
                        await self.app(scope, receive, send_traced)
                    finally:
                        command = command_name(scope.get("route"))
                        command_span.update_name(command)
                        outcome = _outcome(status, problem_body)
                        command_span.set_attribute("dialoog.outcome", outcome)
            else:
                await self.app(scope, receive, send_traced)
        finally:
            if operation is not None:
                template = operation.template
            else:
                template = getattr(scope.get("route"), "path", None) or _UNMATCHED
            labels = (method, template, str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)
            if is_command:
                COMMANDS.labels(command, _outcome(status, problem_body)).inc()
            if operation is not None and operation.contract_scoped:
                self._record_access(scope, operation, status, server_span, created)

    def _operation(self, method: str, path: str) -> _Operation | None:
        if not path.startswith(API_PREFIX + "/"):
            return None
        if self._operations is None:
            self._operations = _operations(openapi_document(self.fastapi_app, "0"))
        relative = path.removeprefix(API_PREFIX)
        found = None
        for operation in self._operations:
            match = operation.pattern.fullmatch(relative)
            if match is not None and operation.method == method:
                return operation.bound(match.groupdict())
            if match is not None and found is None:
                found = operation  # the path is known, the method is not: still this route
        return (
            None
            if found is None
            else _Operation(
                found.method, found.template, "", found.pattern, found.contract_scoped, {}
            )
        )

    def _record_access(
        self,
        scope: Scope,
        operation: _Operation,
        status: int,
        span: trace.Span,
        created: list[str],
    ) -> None:
        principal = (scope.get("state") or {}).get("principal")
        services = getattr(self.fastapi_app.state, "services", None)
        if principal is None or services is None or not operation.operation_id:
            return  # nobody authenticated, or no operation ran: nothing was read or written
        contract_id = operation.path_params.get("contractId") or (created[0] if created else None)
        if not isinstance(contract_id, str) or not _CONTRACT_ID.fullmatch(contract_id):
            contract_id = None
        context = span.get_span_context()
        services.access_log.record(
            AccessEntry(
                at=datetime.now(UTC),
                subject=principal.subject,
                organisation=principal.org,
                roles=",".join(sorted(principal.roles)),
                contract_id=contract_id,
                operation=operation.operation_id,
                status=status,
                trace_id=format(context.trace_id, "032x") if context.is_valid else "",
            )
        )


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str  # with the API prefix: /api/v1/contracts/{contractId}
    operation_id: str
    pattern: re.Pattern[str]  # matches the path below the API prefix
    contract_scoped: bool
    path_params: dict[str, str]

    def bound(self, path_params: dict[str, str]) -> _Operation:
        return _Operation(
            self.method,
            self.template,
            self.operation_id,
            self.pattern,
            self.contract_scoped,
            path_params,
        )


def _operations(document: dict[str, Any]) -> list[_Operation]:
    found = []
    for path, item in document.get("paths", {}).items():
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found.append(
                    _Operation(
                        method=method.upper(),
                        template=API_PREFIX + path,
                        operation_id=operation["operationId"],
                        pattern=re.compile(regex),
                        contract_scoped=path == "/contracts" or path.startswith("/contracts/"),
                        path_params={},
                    )
                )
    # Literal paths before templated ones, so /contracts/x/history never reads as a parameter.
    return sorted(found, key=lambda o: o.template.count("{"))


def _outcome(status: int, body: bytes | bytearray) -> str:
    if status < 400:
        return "ok"
    try:
        code = str(json.loads(bytes(body))["type"]).rsplit("/", 1)[-1]
    except (ValueError, KeyError, TypeError):
        return f"http-{status}"
    return code if _PROBLEM_CODE.fullmatch(code) else f"http-{status}"


# --------------------------------------------------------------------------- GET /metrics


class _ReadModelLag(Collector):
    def __init__(self, services: Any) -> None:
        self.services = services

    def collect(self) -> Any:
        try:
            contracts = self.services.contracts
            projection = getattr(contracts, "projection", None)
            if projection is None:
                return
            lag = max(0, contracts.notification_count() - projection.store.position())
        except Exception:  # the store is down: /readyz says so; the scrape still answers
            return
        gauge = GaugeMetricFamily(
            "dialoog_read_model_lag",
            "Notifications in the event log not yet folded into the read models.",
        )
        gauge.add_metric([], lag)
        yield gauge


def metrics_text(services: Any) -> bytes:
    if os.environ.get(MULTIPROC_DIR_VAR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        shared = generate_latest(registry)
    else:
        shared = generate_latest(REGISTRY)
    own = CollectorRegistry()
    own.register(_ReadModelLag(services))
    return shared + generate_latest(own)


def _is_loopback_direct(request: Request) -> bool:
    if "x-forwarded-for" in request.headers or "forwarded" in request.headers:
        return False  # came through a proxy, even one on this host
    host = request.client.host if request.client else ""
    if host == "testclient":  # Starlette's TestClient
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_router(settings: Settings) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not settings.metrics_enabled:
            raise HTTPException(404)
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        if token:
            offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(offered.encode(), token.encode()):
                raise HTTPException(403, "metrics need the metrics token")
        elif not _is_loopback_direct(request):
            raise HTTPException(403, "metrics answer only loopback callers without a token")
        body = metrics_text(request.app.state.services)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
