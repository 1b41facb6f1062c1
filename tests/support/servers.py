"""The one way tests and benchmarks start a real server: `dialoog serve` (or another server
script) as a subprocess on 127.0.0.1, on a free port, with N workers and its own environment,
ready once GET /healthz answers 200 (and every worker is up), and always stopped.

Used by tests/e2e, tests/reliability and bench/ (bench/http_bench.py). Every wait is bounded.
The server runs in its own process group, so stopping it stops the supervisor and its workers
together: SIGTERM first, SIGKILL for whatever is left when the grace period ends (a fault test
may have left a worker hanging). `Server.kill()` is the kill -9 of the whole group.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

#: How long a server may take to answer /healthz (and start every worker) on a busy machine.
READY_SECONDS = 45.0
#: How long a stopping server may take to finish in-flight requests before SIGKILL.
STOP_SECONDS = 20.0
#: A test client never waits longer than this for any one answer (a hang shows as a timeout).
CLIENT_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll until `condition()`; the seconds it took. Fails after `seconds`."""
    started = time.monotonic()
    deadline = started + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds:g} s")


def wait_until_healthy(
    port: int, server: subprocess.Popen[bytes], seconds: float = READY_SECONDS
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited early with {server.returncode}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            finally:
                connection.close()
        time.sleep(0.1)
    raise AssertionError(f"server not healthy within {seconds:g} s")


@dataclass
class Server:
    """A running server subprocess: its process (the supervisor when it has workers), port,
    log file and the environment it was started with."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT, **options)

    def worker_pids(self) -> set[int]:
        """The supervisor's worker processes (multiprocessing spawn children, not its helpers
        such as the resource tracker). Empty when one process serves without a supervisor."""
        pids: set[int] = set()
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            for child in children.read_text().split():
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
                    if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
                        pids.add(int(child))
        return pids

    def serving_pids(self) -> list[int]:
        """The processes that answer requests: the workers, else the process itself."""
        return sorted(self.worker_pids()) or [self.process.pid]

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def kill(self) -> None:
        """SIGKILL the whole process group (supervisor and workers) and reap the supervisor."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self, seconds: float = STOP_SECONDS) -> None:
        """SIGTERM the process group; what has not ended within `seconds` is killed."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=seconds)
        # Also workers that outlived their supervisor (they share its process group).
        self.kill()


def server_env(
    database_url: str,
    data_dir: Path,
    *,
    secret: str | None = JWT_SECRET,
    log_level: str | None = "WARNING",
    ambient: bool = False,
    **extra: str,
) -> dict[str, str]:
    """The environment of a `dialoog serve`: this process's environment without any DIALOOG_*
    setting of the developer's (unless `ambient`), plus the store, data directory, token secret
    (None: the server's own default) and log level (None: the shipped default)."""
    env = {k: v for k, v in os.environ.items() if ambient or not k.startswith("DIALOOG_")}
    env |= {
        "DIALOOG_DATABASE_URL": database_url,
        "DIALOOG_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }
    if secret is not None:
        env["DIALOOG_JWT_SECRET"] = secret
    if log_level is not None:
        env["DIALOOG_LOG_LEVEL"] = log_level
    return env | extra


@contextlib.contextmanager
def running(
    command: list[str],
    *,
    port: int,
    env: Mapping[str, str],
    log: Path,
    workers: int = 1,
    ready_seconds: float = READY_SECONDS,
    preexec: Callable[[], None] | None = None,
) -> Iterator[Server]:
    """Any server command that listens on `port` and answers GET /healthz, for the block's
    duration. With `workers` > 1 it is ready once that many workers run."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop supervisor and workers
            preexec_fn=preexec,  # e.g. a lower file-descriptor limit
        )
    server = Server(process, port, log, dict(env))
    try:
        try:
            wait_until_healthy(port, process, seconds=ready_seconds)
            if workers > 1:
                wait_for(lambda: len(server.worker_pids()) == workers, ready_seconds, "workers up")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{server.log_tail()}") from None
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def served(
    database_url: str,
    data_dir: Path,
    *,
    workers: int = 1,
    secret: str | None = JWT_SECRET,
    log_level: str | None = "WARNING",
    log: Path | None = None,
    ambient: bool = False,
    preexec: Callable[[], None] | None = None,
    **extra_env: str,
) -> Iterator[Server]:
    """`dialoog serve --workers N` on a free 127.0.0.1 port, healthy, for the block's duration.
    Its log goes to `log` (default: server-<port>.log in `data_dir`)."""
    port = free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--host", HOST]
    command += ["--port", str(port), "--workers", str(workers)]
    env = server_env(
        database_url, data_dir, secret=secret, log_level=log_level, ambient=ambient, **extra_env
    )
    log = log or data_dir / f"server-{port}.log"
    with running(command, port=port, env=env, log=log, workers=workers, preexec=preexec) as server:
        yield server
