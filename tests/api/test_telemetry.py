"""What operators see (issue 9, point 5): a trace per request that continues the caller's
`traceparent` and shows route, command and store write; the trace id as request id; and
Prometheus series by route template, command and outcome, at GET /metrics for loopback callers
or holders of the metrics token."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.logs import JsonFormatter
from infrastructure.settings import Settings
from tests.support import api as s

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"

_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans finished during the test (the app installs the SDK's provider)."""
    create_app(Settings(database_url="memory://"))  # installs the provider if none yet
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    if not getattr(provider, "_dialoog_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        provider._dialoog_test_exporter = True  # type: ignore[attr-defined]
    _exporter.clear()
    yield _exporter
    _exporter.clear()


def _trace_id(span: ReadableSpan) -> str:
    return format(span.context.trace_id, "032x")


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


def _value(samples: dict, name: str, **labels: str) -> float:
    return float(samples.get((name, frozenset(labels.items())), 0.0))


@pytest.mark.postgres
def test_one_command_is_one_trace_route_then_command_then_store_write(
    spans: InMemorySpanExporter, postgres_database_url: str, tmp_path
) -> None:
    settings = Settings(
        database_url=postgres_database_url, data_dir=tmp_path, jwt_secret=s.JWT_SECRET
    )
    with TestClient(create_app(settings)) as client:
        contract = s.active_contract(client)
        spans.clear()
        response = client.post(
            contract.url("/proposals"),
            headers={**s.commissioner(), "traceparent": TRACEPARENT},
            json=s.proposal_body(contract.session_id, "goal", s.goal_add("vision", "Thuis")),
        )
        assert response.status_code == 201, response.text
        scraped = _scrape(client)

    assert response.headers["X-Request-ID"] == CALLER_TRACE
    assert response.headers["traceparent"].startswith(f"00-{CALLER_TRACE}-")
    finished = [span for span in spans.get_finished_spans() if _trace_id(span) == CALLER_TRACE]
    by_id = {span.context.span_id: span for span in finished}
    [server] = [span for span in finished if span.kind == trace.SpanKind.SERVER]
    assert server.name == "POST /api/v1/contracts/{contractId}/proposals"
    assert server.parent is not None and format(server.parent.span_id, "016x") == CALLER_SPAN
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 201
    [command] = [span for span in finished if span.name == "SubmitProposal"]
    assert command.parent is not None and command.parent.span_id == server.context.span_id
    writes = [span for span in finished if span.name == "event_store.insert"]
    assert writes, [span.name for span in finished]
    for write in writes:
        assert _ancestors(write, by_id)[-2:] == ["SubmitProposal", server.name]

    # The PostgreSQL store's own series.
    assert _value(scraped, "dialoog_event_store_seconds_count", operation="insert") >= 1
    assert _value(scraped, "dialoog_event_store_seconds_count", operation="select") >= 1
    assert _value(scraped, "dialoog_group_commit_saves_count") >= 1
    assert _value(scraped, "dialoog_group_commit_events_sum") >= 1


def test_without_a_traceparent_a_new_trace_is_the_request_id_of_the_log_line(
    spans: InMemorySpanExporter, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="dialoog.access"):
        response = client.get(f"{s.API}/contracts", headers=s.commissioner())
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    [server] = [span for span in spans.get_finished_spans() if span.name.startswith("GET ")]
    assert _trace_id(server) == request_id
    [record] = [r for r in caplog.records if r.name == "dialoog.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == line["trace_id"] == request_id


def test_metrics_count_requests_by_route_template_and_commands_by_outcome(
    memory_client: TestClient,
) -> None:
    client = memory_client
    before = _scrape(client)
    contract = s.active_contract(client)
    stale = client.post(
        contract.url("/sessions"),
        headers={**s.commissioner(), "If-Match": '"1"'},
        json=s.session_body(),
    )
    s.assert_problem(stale, 412, "version-mismatch")
    forbidden = client.post(
        contract.url("/suspension"), headers=s.provider_a(), json={"reason": "zomerstop"}
    )
    assert forbidden.status_code in (403, 404)
    assert client.get(contract.path, headers=s.commissioner()).status_code == 200
    client.get("/api/v1/nothing/here")
    after_response = client.get("/metrics")
    after = _samples(after_response.text)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    template = "/api/v1/contracts/{contractId}"
    assert delta("dialoog_http_requests_total", method="GET", route=template, status="200") == 1
    assert (
        delta(
            "dialoog_http_request_duration_seconds_count",
            method="GET",
            route=template,
            status="200",
        )
        == 1
    )
    assert delta("dialoog_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert contract.id not in after_response.text  # never a raw path
    assert delta("dialoog_commands_total", command="OpenContract", outcome="ok") == 1
    assert delta("dialoog_commands_total", command="AdmitProvider", outcome="ok") == 2
    assert delta("dialoog_commands_total", command="HoldSession", outcome="ok") == 1
    assert delta("dialoog_commands_total", command="HoldSession", outcome="version-mismatch") == 1
    refused = forbidden.json()["type"].rsplit("/", 1)[-1]
    assert delta("dialoog_commands_total", command="SuspendContract", outcome=refused) == 1
    # The list has not been read since the writes: every notification is still to be folded.
    assert _value(after, "dialoog_read_model_lag") > 0
    assert client.get(f"{s.API}/contracts", headers=s.commissioner()).status_code == 200
    assert _value(_scrape(client), "dialoog_read_model_lag") == 0


@pytest.fixture
def memory_client(tmp_path) -> Iterator[TestClient]:
    # The runner catches the read models up on every look (1 s by default): one a minute, so
    # the lag the metric shows is what the requests left (its first look is at start-up).
    settings = Settings(
        database_url="memory://",
        data_dir=tmp_path,
        jwt_secret=s.JWT_SECRET,
        webhooks_poll_seconds=60,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_metrics_are_not_for_callers_behind_a_proxy(memory_client: TestClient) -> None:
    s.assert_problem(memory_client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}), 403)
    s.assert_problem(memory_client.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}), 403)


def test_metrics_with_a_token_need_the_token(tmp_path) -> None:
    settings = Settings(
        database_url="memory://",
        data_dir=tmp_path,
        jwt_secret=s.JWT_SECRET,
        metrics_token="m3tr1cs",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        s.assert_problem(client.get("/metrics"), 403)
        s.assert_problem(client.get("/metrics", headers={"Authorization": "Bearer nope"}), 403)
        answered = client.get(
            "/metrics", headers={"Authorization": "Bearer m3tr1cs", "X-Forwarded-For": "10.0.0.1"}
        )
        assert answered.status_code == 200
        assert "dialoog_http_requests_total" in answered.text


def test_metrics_can_be_switched_off(tmp_path) -> None:
    settings = Settings(
        database_url="memory://", data_dir=tmp_path, jwt_secret=s.JWT_SECRET, metrics_enabled=False
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        s.assert_problem(client.get("/metrics"), 404)
