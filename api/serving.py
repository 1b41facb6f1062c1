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

import os
import socket
import threading
from typing import Any

from uvicorn.supervisors import multiprocess


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
