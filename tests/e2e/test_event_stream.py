"""The change feed as Server-Sent Events against a real `dialoog serve` on 127.0.0.1 (issue 15):
an event committed after the stream opened arrives within a second; a reconnect with
Last-Event-ID resumes without gaps or repeats; heartbeats; the per-worker bound (503 +
Retry-After, the slot given back when a client leaves); the token only from the header; and a
clean end on shutdown. On SQLite and PostgreSQL (a server needs a store that outlives it)."""

from __future__ import annotations

import json
import queue
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import api as s
from tests.support.servers import STOP_SECONDS, Server, served

pytestmark = pytest.mark.slow

STREAM = "/api/v1/events/stream"
#: A stream that says nothing for this long (heartbeats are every 0.3 s here) has failed.
READ_TIMEOUT = 10.0
#: Every wait of these tests is bounded by this.
WAIT = 15.0


@dataclass
class Received:
    """What a stream delivered: events (id, CloudEvent), comment lines, and whether it ended."""

    events: queue.Queue[tuple[int, dict[str, Any], float]] = field(default_factory=queue.Queue)
    comments: queue.Queue[str] = field(default_factory=queue.Queue)
    ended: threading.Event = field(default_factory=threading.Event)
    status: int | None = None
    opened: threading.Event = field(default_factory=threading.Event)

    def take(self, count: int) -> list[tuple[int, dict[str, Any], float]]:
        return [self.events.get(timeout=WAIT) for _ in range(count)]


class Listener:
    """A client of the stream on its own thread; `close()` leaves as a browser tab would."""

    def __init__(self, server: Server, headers: s.Headers, **params: Any) -> None:
        self.received = Received()
        self._client = httpx.Client(
            base_url=server.base_url, timeout=httpx.Timeout(5.0, read=READ_TIMEOUT)
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, args=(headers, params), name="sse-listener", daemon=True
        )
        self._thread.start()
        assert self.received.opened.wait(WAIT), "the stream did not open"

    def _listen(self, headers: s.Headers, params: dict[str, Any]) -> None:
        received = self.received
        try:
            with self._client.stream("GET", STREAM, headers=headers, params=params) as response:
                received.status = response.status_code
                received.opened.set()
                event_id, data = None, []
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith(":"):
                        received.comments.put(line)
                    elif line.startswith("id:"):
                        event_id = int(line[3:].strip())
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "" and data:
                        event = json.loads("\n".join(data))
                        received.events.put((event_id or 0, event, time.monotonic()))
                        event_id, data = None, []
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by close() or by the server
        finally:
            received.opened.set()
            received.ended.set()

    def close(self) -> None:
        self._stop.set()
        self._client.close()
        self._thread.join(WAIT)


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    request.node.user_properties.append(("backend", request.param))  # the backend count
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_database_url")
    with served(
        url,
        tmp_path,
        DIALOOG_SSE_HEARTBEAT_SECONDS="0.3",
        DIALOOG_SSE_MAX_STREAMS="2",
    ) as server:
        yield server


def _feed_ids(client: httpx.Client, headers: s.Headers) -> list[int]:
    ids: list[int] = []
    after = 0
    for _ in range(100):
        page = client.get("/api/v1/events", headers=headers, params={"after": after}).json()
        if not page["items"]:
            return ids
        ids += [int(item["sequence"]) for item in page["items"]]
        after = page["nextCursor"]
    raise AssertionError("the feed never ended")


def test_an_event_committed_after_the_stream_opened_arrives_within_a_second(
    server: Server,
) -> None:
    with server.client() as client:
        s.active_contract(client)
        listener = Listener(server, s.reader())
        try:
            assert listener.received.status == 200
            assert listener.received.comments.get(timeout=WAIT).startswith(":")  # a heartbeat
            time.sleep(0.5)  # the stream is past the events that were there before it opened
            assert listener.received.events.empty()
            written_at = time.monotonic()
            contract_id = s.open_contract(client, "WMO-2025-200")
            (_, event, arrived_at), *_ = listener.received.take(1)
            assert event["type"] == "nl.dialoog.contract.contract-opened"
            assert event["subject"] == contract_id
            assert event["specversion"] == "1.0"
            assert arrived_at - written_at < 1.0, f"{arrived_at - written_at:.2f} s"
        finally:
            listener.close()


def test_a_reconnect_with_last_event_id_resumes_without_gaps_or_repeats(server: Server) -> None:
    with server.client() as client:
        contract = s.active_contract(client)
        before = _feed_ids(client, s.reader())
        first = Listener(server, s.reader(), after=0)
        got = [event_id for event_id, _, _ in first.received.take(3)]
        first.close()
        for n in range(3):
            response = client.post(
                contract.url("/publications"),
                headers=s.commissioner(),
                json={"audience": "council", "channel": "web", "summary": f"Nieuws {n}"},
            )
            assert response.status_code == 201, response.text
        everything = _feed_ids(client, s.reader())
        assert len(everything) == len(before) + 3
        second = Listener(server, {**s.reader(), "Last-Event-ID": str(got[-1])})
        try:
            rest = [event_id for event_id, _, _ in second.received.take(len(everything) - 3)]
            assert got + rest == everything
            time.sleep(0.5)
            assert second.received.events.empty()  # nothing twice
        finally:
            second.close()


def test_streams_per_worker_are_bounded_and_a_leaving_client_frees_its_slot(
    server: Server,
) -> None:
    listeners = [Listener(server, s.reader()) for _ in range(2)]
    try:
        with server.client() as client:
            refused = client.get(STREAM, headers=s.reader())
            s.assert_problem(refused, 503, "too-many-streams")
            assert int(refused.headers["retry-after"]) > 0
            listeners.pop().close()
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                again = Listener(server, s.reader())
                listeners.append(again)
                if again.received.status == 200:
                    break
                listeners.pop().close()
                time.sleep(0.2)
            assert listeners[-1].received.status == 200
    finally:
        for listener in listeners:
            listener.close()


def test_the_token_comes_from_the_header_only_and_bad_input_is_400(server: Server) -> None:
    token = s.reader()["Authorization"].removeprefix("Bearer ")
    with server.client() as client:
        s.assert_unauthenticated(client.get(STREAM, params={"access_token": token}))
        s.assert_unauthenticated(client.get(STREAM))
        bad = client.get(STREAM, headers={**s.reader(), "Last-Event-ID": "seven"})
        s.assert_problem(bad, 400)
        unknown = client.get(STREAM, headers=s.reader(), params={"contractId": "0" * 32})
        s.assert_problem(unknown, 404, "contract-not-found")


def test_a_stream_ends_cleanly_when_the_server_shuts_down(server: Server) -> None:
    listener = Listener(server, s.reader())
    assert listener.received.status == 200
    started = time.monotonic()
    server.stop()  # SIGTERM; SIGKILL only if it has not ended within the grace period
    assert listener.received.ended.wait(WAIT)
    # uvicorn ends a graceful shutdown by raising the SIGTERM it caught again: -15, not -9.
    assert server.process.returncode in (0, -signal.SIGTERM), server.log_tail()
    assert time.monotonic() - started < STOP_SECONDS, "the stream held up the shutdown"
    assert "Traceback" not in server.log_tail(200)
    listener.close()


def test_a_stream_ends_when_its_token_expires(server: Server) -> None:
    short = s.token_for(s.COMMISSIONER_ORG, "reader", sub="rik-short", ttl=2)
    listener = Listener(server, short)
    try:
        assert listener.received.status == 200
        assert listener.received.ended.wait(WAIT), "the stream outlived its token"
    finally:
        listener.close()
