"""Serving with several worker processes: one listening socket per worker (SO_REUSEPORT).

With one shared listening socket, the kernel hands most new connections to whichever worker
happens to be waiting in accept(); keep-alive clients then stay on that worker, so under load
one worker runs at 100 % of a core while the other idles (measured: one of two workers served
all 16 connections of a benchmark). With SO_REUSEPORT each worker listens on its own socket and
the kernel spreads connections across them evenly. The supervisor keeps a bound, non-listening
socket so the port stays reserved; it never accepts. Every socket names IPPROTO_TCP and sets
TCP_NODELAY, so keep-alive responses do not wait on delayed ACKs (uvicorn issue #3149).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import multiprocess

log = logging.getLogger("dialoog.server")


def bind_listener(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to (host, port) with TCP_NODELAY; not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


class ReusePortProcess(multiprocess.Process):
    """A uvicorn worker that listens on a socket of its own in the port's SO_REUSEPORT group."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        own = bind_listener(self.config.host, self.config.port, reuse_port=True)
        threading.Thread(target=self.always_pong, daemon=True).start()
        self.server.run([own])

    def join(self) -> None:
        super().join()
        if self.process.pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Its live gauges no longer count (prometheus-client's multiprocess mode).
            from prometheus_client import multiprocess as prometheus_multiprocess

            prometheus_multiprocess.mark_process_dead(self.process.pid)  # type: ignore[no-untyped-call]


def run_workers(config: Any) -> None:
    """uvicorn's supervisor (restarts a worker that dies), with a listener per worker. The
    caller holds a bound, non-listening SO_REUSEPORT socket on the port meanwhile."""
    multiprocess.Process = ReusePortProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[]).run()


# --------------------------------------------------------------------------- slow clients


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with two guards it lacks (uvicorn 0.54):

    * a header timeout: a connection has `dialoog_header_timeout` seconds from its first byte
      (or from connecting) to complete a request's headers, on every request of a keep-alive
      connection too. uvicorn only times out a connection idle between requests and cancels
      even that timer on any byte, so a client sending one header line every few seconds
      (slowloris) held its connection, and a file descriptor, forever;
    * a bound on open connections per worker (`dialoog_max_connections`): one more is closed
      at once, before it costs anything but the accept.

    The settings travel on uvicorn's Config (it is pickled to every worker)."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timeout = float(getattr(config, "dialoog_header_timeout", 10.0))
        self._max_connections = int(getattr(config, "dialoog_max_connections", 1000))
        self._header_timer: asyncio.TimerHandle | None = None
        install_accept_error_log(self.loop)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            _refused.note()
            transport.abort()
            return
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # a new request starts on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()  # its headers are complete

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            _slow.note()
            self.transport.abort()


class _RateLimitedCount:
    """Counts an event and logs it at most once per second, with how many it stood for."""

    def __init__(self, message: str, level: int = logging.WARNING) -> None:
        self.message = message
        self.level = level
        self.count = 0
        self.last = 0.0
        self.detail = ""
        self.lock = threading.Lock()

    def note(self, detail: str = "") -> None:
        now = time.monotonic()
        with self.lock:
            self.count += 1
            self.detail = detail or self.detail
            if now - self.last < 1.0:
                return
            count, self.count, self.last = self.count, 0, now
        log.log(self.level, self.message, count, self.detail)


_accept_errors = _RateLimitedCount("accept() failed %d times in the last second (%s)")
_slow = _RateLimitedCount("closed %d connections that sent no complete headers in time%s")
_refused = _RateLimitedCount("refused %d connections over the per-worker bound%s")


def install_accept_error_log(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio logs every failed accept() (e.g. out of file descriptors) with a traceback: a
    flood of connections filled 16.7 MB of log in 15 s. Here they are counted and logged at
    most once per second; every other loop error goes to the handler that was there before."""
    previous = loop.get_exception_handler()
    if getattr(previous, "dialoog_accept_log", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if "accept" in message:
            error = context.get("exception")
            _accept_errors.note(type(error).__name__ + (f": {error}" if error else ""))
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.dialoog_accept_log = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


def guard_config(config: Any, settings: Any) -> None:
    """Put the guards' settings on a uvicorn Config (see GuardedH11Protocol)."""
    config.dialoog_header_timeout = settings.header_timeout
    config.dialoog_max_connections = settings.max_connections
