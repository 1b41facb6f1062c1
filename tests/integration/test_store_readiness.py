"""Readiness against PostgreSQL that is not there, or dies: 503 problem+json within 5 s."""

import os
import signal
import socket
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.problems import PROBLEM_BASE
from infrastructure.settings import Settings
from tests.support.pgcluster import PgCluster

pytestmark = pytest.mark.postgres


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_unavailable_within_5_seconds(client: TestClient) -> None:
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "store-unavailable"
    assert body["status"] == 503
    assert body["title"]
    assert body["detail"]


def test_readyz_is_503_when_nothing_listens_on_the_postgres_port() -> None:
    url = f"postgresql://app:secret@127.0.0.1:{closed_port()}/dialoog"
    with TestClient(create_app(Settings(database_url=url))) as client:
        assert_unavailable_within_5_seconds(client)
        assert "secret" not in client.get("/readyz").text


def test_readyz_is_503_when_the_address_does_not_answer() -> None:
    # 192.0.2.0/24 is TEST-NET-1: packets go nowhere, so only our deadline ends the wait.
    url = "postgresql://app:secret@192.0.2.1:5432/dialoog"
    with TestClient(create_app(Settings(database_url=url, connect_timeout=2))) as client:
        assert_unavailable_within_5_seconds(client)


@pytest.mark.slow
def test_readyz_turns_503_within_5_seconds_after_the_cluster_is_killed() -> None:
    with (
        PgCluster() as cluster,
        TestClient(create_app(Settings(database_url=cluster.url))) as client,
    ):
        assert client.get("/readyz").status_code == 200
        os.kill(cluster.postmaster_pid(), signal.SIGKILL)
        assert_unavailable_within_5_seconds(client)
