"""`dialoog serve --workers 2` answers keep-alive requests without the ~40 ms Nagle stall of
uvicorn issue #3149. A correctness check (40 ms vs ~1 ms), not a benchmark."""

import http.client
import statistics
import time

import pytest

from tests.support.servers import served

pytestmark = pytest.mark.slow


def test_two_workers_answer_keep_alive_requests_in_single_digit_milliseconds(tmp_path) -> None:
    with served(f"sqlite:///{tmp_path / 'dialoog.sqlite'}", tmp_path, workers=2) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
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
