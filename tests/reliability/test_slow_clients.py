"""Issue 11, point 1: slow clients (slowloris) do not take the server down.

A real `dialoog serve` runs with a file-descriptor limit of 200 (as a small container would). An
attacker keeps 100 connections open that each send one header line per second and never finish
their headers, reconnecting whenever the server drops one. Meanwhile a normal client's median
latency stays within 2× of what it was before, the server closes the slow connections after its
header timeout, and the log does not fill up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import statistics
import threading
import time
from pathlib import Path

import httpx
import pytest

from api.serving import install_accept_error_log
from tests.support import api as s
from tests.support.servers import Server, served

SLOW_CONNECTIONS = 100
HEADER_TIMEOUT = 2.0
FD_LIMIT = 200
SAMPLES = 40
#: Medians of a few milliseconds jitter with the machine's other work: a ratio is only taken
#: above this floor.
FLOOR_SECONDS = 0.005


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


class Attacker:
    """Keeps SLOW_CONNECTIONS connections sending a header line per second, never finishing."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[socket.socket | None] = [None] * SLOW_CONNECTIONS
        self.dropped = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            connection = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            connection.sendall(b"GET /api/v1/contracts HTTP/1.1\r\nHost: x\r\n")
            connection.setblocking(False)
            return connection
        except OSError:
            return None

    def run(self) -> None:
        line = 0
        while not self.stop.is_set():
            for index, connection in enumerate(self.sockets):
                if connection is not None:
                    try:
                        with contextlib.suppress(BlockingIOError):
                            if connection.recv(1) == b"":
                                raise ConnectionResetError
                        connection.sendall(f"X-Slow-{line}: a\r\n".encode())
                        continue
                    except OSError:
                        self.dropped += 1
                        connection.close()
                self.sockets[index] = self._open()
            line += 1
            self.stop.wait(1.0)
        for connection in self.sockets:
            if connection is not None:
                connection.close()

    def open_count(self) -> int:
        return sum(c is not None for c in self.sockets)


def median_latency(server: Server, path: str, headers: s.Headers) -> float:
    timings = []
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(5):  # warm-up
            client.get(path, headers=headers)
        for _ in range(SAMPLES):
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return statistics.median(timings)


def test_normal_clients_keep_their_latency_while_100_slow_connections_are_open(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
    with served(
        url, tmp_path, preexec=_low_fd_limit, DIALOOG_HEADER_TIMEOUT=str(HEADER_TIMEOUT)
    ) as server:
        with server.client() as client:
            contract = s.active_contract(client).id
        path = f"{s.API}/contracts/{contract}"
        headers = s.commissioner()
        before = median_latency(server, path, headers)

        attacker = Attacker(server.port)
        attacker.thread.start()
        try:
            time.sleep(1.5)
            assert attacker.open_count() >= SLOW_CONNECTIONS * 0.9
            during = median_latency(server, path, headers)
            # The header timeout closes what the attacker keeps half-sent.
            time.sleep(HEADER_TIMEOUT + 2)
            assert attacker.dropped >= SLOW_CONNECTIONS * 0.9, attacker.dropped
        finally:
            attacker.stop.set()
            attacker.thread.join(10)
        log_size = server.log.stat().st_size

    print(f"median before {before * 1000:.1f} ms, during {during * 1000:.1f} ms")
    assert during <= 2 * max(before, FLOOR_SECONDS), (before, during)
    assert log_size < 20_000, server.log_tail()


def test_accept_errors_are_logged_at_most_once_a_second_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.new_event_loop()
    try:
        install_accept_error_log(loop)
        install_accept_error_log(loop)  # idempotent
        context = {
            "message": "socket.accept() out of system resource",
            "exception": OSError(24, "Too many open files"),
        }
        with caplog.at_level(logging.WARNING, logger="dialoog.server"):
            for _ in range(5000):
                loop.call_exception_handler(context)
    finally:
        loop.close()
    lines = [r for r in caplog.records if r.name == "dialoog.server"]
    assert 1 <= len(lines) <= 2, [r.getMessage() for r in lines]
    assert "accept() failed" in lines[0].getMessage()
