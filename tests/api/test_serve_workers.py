"""`dialoog serve --workers 2` answers keep-alive requests without the ~40 ms Nagle stall of
uvicorn issue #3149. A correctness check (40 ms vs ~1 ms), not a benchmark."""

import http.client
import os
import signal
import statistics
import subprocess
import sys
import time

import pytest
from server_support import free_port, wait_until_healthy

pytestmark = pytest.mark.slow


def test_two_workers_answer_keep_alive_requests_in_single_digit_milliseconds(tmp_path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOOG_")}
    env |= {
        "DIALOOG_DATABASE_URL": f"sqlite:///{tmp_path / 'dialoog.sqlite'}",
        "DIALOOG_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: we stop the supervisor and workers
    )
    try:
        wait_until_healthy(port, server)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        timings = []
        deadline = time.monotonic() + 20
        for _ in range(50):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            timings.append(time.perf_counter() - started)
            assert response.status == 200
            assert not response.will_close  # the same keep-alive connection throughout
        connection.close()
        median_ms = statistics.median(timings) * 1000
        print(f"2-worker keep-alive median: {median_ms:.2f} ms over {len(timings)} requests")
        assert len(timings) >= 20
        assert median_ms < 10, f"median {median_ms:.1f} ms: the Nagle/delayed-ACK stall is back"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
