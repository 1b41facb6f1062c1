"""`dialoog serve --workers 2`: whichever worker answers GET /metrics reports the requests of
both (prometheus-client's multiprocess mode, in a private folder made fresh for the run and
removed when the server stops)."""

import http.client
import json
import stat
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import api as s
from tests.support.servers import served

pytestmark = pytest.mark.slow

COMMANDS = 20


def _request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
    # A new connection each time, so the kernel spreads them over both workers' sockets.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {**s.commissioner(), "Content-Type": "application/json"}
        connection.request(method, path, json.dumps(body) if body else None, headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _opened(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "dialoog_commands_total" and sample.labels == {
                "command": "OpenContract",
                "outcome": "ok",
            }:
                return sample.value
    return 0.0


def test_any_worker_reports_the_series_of_all_workers(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    database = f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
    with served(database, tmp_path, workers=2, TMPDIR=str(scratch)) as server:
        [folder] = list(scratch.glob("dialoog-metrics-*"))
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for n in range(COMMANDS):
            status, text = _request(
                server.port, "POST", f"{s.API}/contracts", s.contract_body(f"WMO-2025-{n:03d}")
            )
            assert status == 201, text
        for _ in range(10):
            status, text = _request(server.port, "GET", "/metrics")
            assert status == 200
            assert _opened(text) == COMMANDS
    assert not list(scratch.glob("dialoog-metrics-*"))  # removed with the run
