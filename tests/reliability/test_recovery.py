"""Issue 11, point 3: recovery after a PostgreSQL outage.

A real `dialoog serve` whose pooled connections (event store and read models) are all in use
before the outage. The postmaster is SIGKILLed: every endpoint — the list and the read models
included — answers a 503 problem+json within 5 s. PostgreSQL is restarted on the same data
directory; once `/readyz` is 200, the first 20 requests (reads and writes, on every kind of
endpoint) all succeed: no request fails on a connection opened before the outage."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

import httpx

from tests.support import api as s
from tests.support.pgcluster import PgCluster
from tests.support.reliability import (
    LIVENESS_SECONDS,
    kill_postmaster,
    publication,
    restart_cluster,
)
from tests.support.servers import served, wait_for

API = s.API


def requests_for(contract: str) -> list[tuple[str, str, s.Headers, object]]:
    """(method, path, headers, body) of every kind of endpoint: list, read models, reads, a
    replay of the whole history, writes."""
    base = f"{API}/contracts/{contract}"
    return [
        ("GET", f"{API}/contracts", s.commissioner(), None),
        ("GET", base, s.commissioner(), None),
        ("GET", f"{base}/indicators", s.commissioner(), None),
        ("GET", f"{base}/history", s.auditor(), None),
        ("GET", f"{base}/verification", s.auditor(), None),
        ("GET", f"{base}/diff?from=1&to=3", s.auditor(), None),
        ("POST", f"{base}/publications", s.commissioner(), publication(f"p-{uuid4().hex}")),
    ]


def call(client: httpx.Client, method: str, path: str, headers: s.Headers, body: object) -> float:
    """Send one request; the seconds it took, and its response on the function."""
    started = time.monotonic()
    call.response = client.request(method, path, headers=headers, json=body)  # type: ignore[attr-defined]
    return time.monotonic() - started


def test_every_endpoint_503s_in_time_during_an_outage_and_all_succeed_after(
    tmp_path: Path,
) -> None:
    with (
        PgCluster() as cluster,
        served(cluster.url, tmp_path, workers=1) as server,
        server.client() as client,
    ):
        contract = s.active_contract(client, "RECOVERY-1").id
        # Warm every pool: these connections will be stale after the restart.
        for _ in range(3):
            for method, path, headers, body in requests_for(contract):
                assert call(client, method, path, headers, body) < LIVENESS_SECONDS
                assert call.response.status_code < 300, call.response.text  # type: ignore[attr-defined]

        kill_postmaster(cluster)
        slowest = 0.0
        for method, path, headers, body in [
            *requests_for(contract),
            ("GET", "/readyz", {}, None),
        ]:
            elapsed = call(client, method, path, headers, body)
            response = call.response  # type: ignore[attr-defined]
            slowest = max(slowest, elapsed)
            assert elapsed < LIVENESS_SECONDS, (path, elapsed)
            assert response.status_code == 503, (path, response.status_code, response.text)
            assert response.headers["content-type"].startswith(s.PROBLEM_MEDIA_TYPE)
            assert "127.0.0.1" not in response.text and str(cluster.port) not in response.text

        restart_cluster(cluster)
        ready_in = wait_for(
            lambda: client.get("/readyz").status_code == 200, 30, "ready after restart"
        )
        statuses = []
        plan = requests_for(contract) * 3
        for method, path, headers, body in plan[:20]:
            call(client, method, path, headers, body)
            statuses.append(call.response.status_code)  # type: ignore[attr-defined]
        log = server.log_tail(30)
    print(f"slowest 503 during the outage {slowest:.2f} s; ready {ready_in:.2f} s after restart")
    assert all(status < 300 for status in statuses), (statuses, log)
