import json
import logging
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.openapi import SERVER_DESCRIPTION
from api.problems import PROBLEM_BASE
from application.errors import StoreUnavailable
from infrastructure.settings import Settings


@pytest.fixture
def client(settings: Settings):
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_ready_when_the_store_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    document = client.get("/api/v1/openapi.json").json()
    assert document["servers"] == [
        {"url": "/api/v1", "description": SERVER_DESCRIPTION, "x-internal": False}
    ]
    assert "/contracts" in document["paths"]


def test_request_id_is_echoed_or_minted(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    minted = client.get("/healthz").headers["X-Request-ID"]
    assert len(minted) == 32
    # Something unfit for a log line is replaced, not echoed.
    assert (
        client.get("/healthz", headers={"X-Request-ID": "a b\tc"}).headers["X-Request-ID"]
        != "a b\tc"
    )


@pytest.fixture
def memory_app() -> FastAPI:
    app = create_app(Settings(database_url="memory://"))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/unavailable")
    def unavailable() -> None:
        raise StoreUnavailable("the store went away")

    @app.get("/square")
    def square(n: int) -> int:
        return n * n

    return app


def test_access_log_is_json_with_request_id_and_no_authorization(
    memory_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="dialoog.access"), TestClient(memory_app) as client:
        client.get(
            "/healthz",
            headers={"Authorization": "Bearer very-secret-token", "X-Request-ID": "r-1"},
        )
    [record] = [r for r in caplog.records if r.name == "dialoog.access"]
    assert (record.request_id, record.method, record.path, record.status) == (  # type: ignore[attr-defined]
        "r-1",
        "GET",
        "/healthz",
        200,
    )
    from api.logs import JsonFormatter

    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r-1"
    assert line["duration_ms"] >= 0
    assert "very-secret-token" not in caplog.text
    assert "Authorization" not in caplog.text


def test_unhandled_errors_become_500_problems_without_internals(memory_app: FastAPI) -> None:
    with TestClient(memory_app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "internal-error"
    assert body["status"] == 500
    assert body["requestId"] == "r-500"
    assert "hunter2" not in response.text


def test_store_unavailable_becomes_503_problem(
    memory_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dialoog.errors"), TestClient(memory_app) as c:
        response = c.get("/unavailable")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    # The store's own words (they may name a host, port or file) go to the log, not the client.
    assert response.json() == {
        "type": PROBLEM_BASE + "store-unavailable",
        "title": "Event store unavailable",
        "status": 503,
        "detail": "The event store did not answer in time; try again shortly.",
    }
    assert "the store went away" in caplog.text


def test_invalid_parameters_become_400_with_invalid_params(memory_app: FastAPI) -> None:
    with TestClient(memory_app) as client:
        response = client.get("/square", params={"n": "seven"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "invalid-request"
    assert [p["name"] for p in body["invalidParams"]] == ["query.n"]
    assert body["invalidParams"][0]["reason"]


def test_unknown_paths_are_404_problems(memory_app: FastAPI) -> None:
    with TestClient(memory_app) as client:
        response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE + "not-found"


def test_readyz_fails_fast_when_the_sqlite_file_cannot_be_opened(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = Settings(database_url=f"sqlite:///{blocker}/sub/dialoog.sqlite")
    started = time.monotonic()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
