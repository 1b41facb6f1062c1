"""HTTP figures: servers started as `dialoog serve` would run them, and a bounded load generator.

Load comes from Debian's `wrk` when it is installed (one thread: it must leave the two cores to
the server and PostgreSQL) and otherwise from a bounded Python generator (threads with
keep-alive `http.client` connections, stopped by a request count and a deadline). The servers
are started the one way tests start them (tests/support/servers.py).
Imported by bench/run.py and bench/profile.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from tests.support.servers import HOST, Server, free_port, running, served

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_paths.lua"


def token(secret: str, *, sub: str, org: str, roles: list[str], ttl: int = 3600) -> str:
    now = int(time.time())
    claims = {"sub": sub, "name": sub, "org": org, "roles": roles, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


# Servers -------------------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dialoog_server(
    database_url: str, *, workers: int, secret: str, data_dir: Path, log: Path, **extra_env: str
) -> contextlib.AbstractContextManager[Server]:
    """`dialoog serve` exactly as shipped, started the tests' way (tests/support/servers.py):
    its own TCP_NODELAY listener, `workers` processes, default pool size, timeouts and INFO
    access log (written to a file here), and the caller's DIALOOG_* settings, which the seeding
    in this process shares."""
    return served(
        database_url,
        data_dir,
        workers=workers,
        secret=secret,
        log_level=None,
        log=log,
        ambient=True,
        **extra_env,
    )


def bare_server(
    payload: Path, *, workers: int, log: Path
) -> contextlib.AbstractContextManager[Server]:
    """Ceiling (b): a bare FastAPI GET under the same server configuration (bench/bare_app.py)."""
    port = free_port()
    command = [
        sys.executable, str(Path(__file__).with_name("bare_app.py")),
        "--port", str(port), "--workers", str(workers), "--payload", str(payload),
    ]  # fmt: skip
    return running(command, port=port, env=os.environ, log=log, workers=workers)


def crud_server(
    database_url: str, *, workers: int, log: Path
) -> contextlib.AbstractContextManager[Server]:
    """The CRUD peer (bench/crud_app.py) under the same server configuration, on the same
    database (its own table)."""
    port = free_port()
    command = [
        sys.executable, str(Path(__file__).with_name("crud_app.py")),
        "--port", str(port), "--workers", str(workers), "--database-url", database_url,
        "--pool-size", os.environ.get("DIALOOG_POOL_SIZE", "8"),
    ]  # fmt: skip
    return running(command, port=port, env=os.environ, log=log, workers=workers)


# Clients -------------------------------------------------------------------------------------


@dataclass
class Load:
    """A load run's outcome: requests, non-2xx answers, socket errors, seconds, latencies."""

    requests: int
    non_2xx: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    tool: str
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        """Successful (2xx) requests per second."""
        ok = self.requests - self.non_2xx - self.errors
        return ok / self.seconds if self.seconds > 0 else 0.0


class Client:
    """One keep-alive connection that reconnects after an error."""

    def __init__(self, port: int, headers: dict[str, str], timeout: float = 30) -> None:
        self.port = port
        self.headers = headers
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=data, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.RemoteDisconnected):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, raw = self.call(method, path, body)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} -> {status}: {raw[:300]!r}")
        return json.loads(raw)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def python_load(
    port: int,
    headers: dict[str, str],
    requests: list[tuple[str, str, Any]],
    *,
    connections: int,
    max_requests: int,
    max_seconds: float,
) -> Load:
    """`connections` threads, each with its own keep-alive connection, cycling through
    `requests` (method, path, body) from its own offset until the count or the deadline."""
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    issued = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    def worker(offset: int) -> None:
        nonlocal errors, issued
        client = Client(port, headers)
        n = offset
        while True:
            with lock:
                if issued >= max_requests or time.perf_counter() >= deadline:
                    break
                issued += 1
            method, path, body = requests[n % len(requests)]
            n += 1
            t0 = time.perf_counter()
            try:
                status, _ = client.call(method, path, body)
            except (OSError, http.client.HTTPException):
                with lock:
                    errors += 1
                continue
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
        client.close()

    threads = [
        threading.Thread(target=worker, args=(i * max(1, len(requests) // connections),))
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + 60)
    seconds = time.perf_counter() - started
    latencies.sort()
    non_2xx = sum(c for s, c in statuses.items() if not 200 <= s < 300)
    return Load(
        requests=sum(statuses.values()) + errors,
        non_2xx=non_2xx,
        errors=errors,
        seconds=seconds,
        p50_ms=_pct(latencies, 50) * 1000,
        p99_ms=_pct(latencies, 99) * 1000,
        tool=f"python ({connections} threads)",
        statuses=statuses,
    )


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))]


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_load(
    port: int,
    headers: dict[str, str],
    method: str,
    paths: list[str],
    body: Any,
    *,
    connections: int,
    seconds: float,
    scratch: Path,
) -> Load:
    """wrk with one thread and `connections` connections, cycling through `paths`."""
    paths_file = scratch / f"wrk-paths-{os.getpid()}-{time.monotonic_ns()}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    env = {
        **os.environ,
        "WRK_PATHS": str(paths_file),
        "WRK_METHOD": method,
        "WRK_BODY": "" if body is None else json.dumps(body),
        "WRK_HEADERS": json.dumps(headers),
    }
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(WRK_SCRIPT), f"http://{HOST}:{port}{paths[0]}",
    ]  # fmt: skip
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    paths_file.unlink(missing_ok=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    stats = json.loads(line.removeprefix("WRKJSON "))
    errors = sum(stats[k] for k in ("connect", "read", "write", "timeout"))
    return Load(
        requests=stats["requests"],
        non_2xx=stats["status"],
        errors=errors,
        seconds=stats["duration_us"] / 1e6,
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        tool=f"wrk (1 thread, {connections} connections)",
    )


def load(
    port: int,
    headers: dict[str, str],
    method: str,
    paths: list[str],
    body: Any,
    *,
    connections: int,
    seconds: float,
    max_requests: int,
    scratch: Path,
    use_wrk: bool,
) -> Load:
    if use_wrk:
        return wrk_load(
            port, headers, method, paths, body,
            connections=connections, seconds=seconds, scratch=scratch,
        )  # fmt: skip
    return python_load(
        port,
        headers,
        [(method, p, body) for p in paths],
        connections=connections,
        max_requests=max_requests,
        max_seconds=seconds,
    )


def sequential_latencies(
    client: Client,
    make_path: Callable[[int], str],
    repeats: int,
    *,
    method: str = "GET",
    body: Any = None,
) -> list[float]:
    """One connection, one request at a time: each request's latency in seconds (each answer
    checked for a 2xx)."""
    out = []
    for i in range(repeats):
        path = make_path(i)
        t0 = time.perf_counter()
        status, raw = client.call(method, path, body)
        out.append(time.perf_counter() - t0)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} -> {status}: {raw[:300]!r}")
    return out


def route_exists(client: Client, method: str, path: str, body: Any = None) -> bool:
    """False if the app has no such route (404 with FastAPI's 'Not Found' or a 405)."""
    status, raw = client.call(method, path, body)
    if status == 405:
        return False
    return not (status == 404 and b"Not Found" in raw and b"contract" not in raw.lower())
