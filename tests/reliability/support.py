"""Helpers of the reliability tests (tests/reliability/): a real `dialoog serve` subprocess on
127.0.0.1, its worker processes, bounded client loops, marker-carrying commands, and reading a
contract's whole history back over HTTP.

Every wait here is bounded in time; every loop in count. `served()` stops its server (the whole
process group) whatever happens in the block."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import api_support as s
import httpx
from pgcluster import PgCluster
from server_support import free_port, wait_until_healthy

API = s.API
ROOT = Path(__file__).resolve().parents[2]

#: The liveness bound the issue names: during an outage every request is answered within it.
LIVENESS_SECONDS = 5.0
#: A client never waits longer than this for any one answer (a hang shows up as a timeout).
CLIENT_TIMEOUT = 15.0


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> set[int]:
        """The supervisor's worker processes (multiprocessing spawn children, not its helpers)."""
        pids: set[int] = set()
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            for child in children.read_text().split():
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
                    if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
                        pids.add(int(child))
        return pids

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT, **options)


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOOG_")}
    env |= {
        "DIALOOG_DATABASE_URL": database_url,
        "DIALOOG_JWT_SECRET": s.JWT_SECRET,
        "DIALOOG_DATA_DIR": str(data_dir),
        "DIALOOG_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env |= extra
    return env


@contextlib.contextmanager
def served(
    database_url: str,
    tmp_path: Path,
    *,
    workers: int = 1,
    preexec: Callable[[], None] | None = None,
    **extra_env: str,
) -> Iterator[Server]:
    """`dialoog serve --workers N` on a free 127.0.0.1 port, healthy, for the block's duration."""
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_env(database_url, tmp_path, **extra_env),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop supervisor and workers
            preexec_fn=preexec,  # e.g. a lower file-descriptor limit
        )
    server = Server(process, port, log)
    try:
        try:
            wait_until_healthy(port, process, seconds=45)
            if workers > 1:
                wait_for(lambda: len(server.worker_pids()) == workers, 30, "workers up")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{server.log_tail()}") from None
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # Workers that outlived the supervisor (they share its process group).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


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


# --------------------------------------------------------------------------- PostgreSQL


def kill_postmaster(cluster: PgCluster) -> int:
    """SIGKILL the postmaster; wait (bounded) until it and its backends no longer answer."""
    pid = cluster.postmaster_pid()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, "postmaster gone")
    return pid


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    return True


def restart_cluster(cluster: PgCluster, seconds: float = 60) -> float:
    """Start the killed cluster again on its data directory and port (crash recovery runs).
    Orphaned backends may hold the shared memory for a moment: retry, bounded."""
    assert cluster.root is not None
    started = time.monotonic()
    deadline = started + seconds
    last = ""
    for _attempt in range(30):
        if time.monotonic() > deadline:
            break
        result = cluster._run(
            "pg_ctl",
            "-D", str(cluster.data_dir),
            "-l", str(cluster.root / "postgres.log"),
            "-w", "-t", "30",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {cluster.root / 'sock'}",
            "start",
        )  # fmt: skip
        if result.returncode == 0:
            return time.monotonic() - started
        last = result.stdout + result.stderr
        time.sleep(0.5)
    raise AssertionError(f"PostgreSQL did not restart within {seconds:g} s:\n{last}")


# --------------------------------------------------------------------------- commands


def publication(marker: str) -> dict[str, str]:
    """A command whose stored event carries `marker` (its summary), so it can be counted."""
    return {"audience": "council", "channel": "web", "summary": marker}


def publish_path(contract_id: str) -> str:
    return f"{API}/contracts/{contract_id}/publications"


def setup_contracts(server: Server, count: int, prefix: str) -> list[str]:
    """`count` active contracts of the commissioner (zorg-a and zorg-b admitted, one session)."""
    with server.client() as client:
        return [s.active_contract(client, f"{prefix}-{n:03d}").id for n in range(count)]


@dataclass
class Outcome:
    contract_id: str
    marker: str
    status: int | None  # None: no answer (connection reset, timeout)
    started: float
    elapsed: float
    content_type: str = ""
    body: Any = None
    etag: str | None = None


@dataclass
class Ledger:
    """What every client thread sent and what it heard back."""

    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def acknowledged(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and 200 <= o.status < 300]

    def statuses(self) -> Counter[int | None]:
        return Counter(o.status for o in self.outcomes)


def send(client: httpx.Client, contract_id: str, marker: str, headers: s.Headers) -> Outcome:
    started = time.monotonic()
    try:
        response = client.post(publish_path(contract_id), headers=headers, json=publication(marker))
    except httpx.HTTPError:
        return Outcome(contract_id, marker, None, started, time.monotonic() - started)
    elapsed = time.monotonic() - started
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Outcome(
        contract_id,
        marker,
        response.status_code,
        started,
        elapsed,
        response.headers.get("content-type", ""),
        body,
        response.headers.get("etag"),
    )


def run_writers(
    server: Server,
    contracts: list[str],
    *,
    threads: int,
    per_thread: int,
    prefix: str,
    seconds: float,
    stop: threading.Event | None = None,
    pause: float = 0.0,
) -> Ledger:
    """`threads` clients, each sending up to `per_thread` marked publications round the
    contracts, for at most `seconds` (or until `stop`). A client whose connection broke makes a
    new one. Returns the ledger once every thread has finished (joins are bounded too)."""
    ledger = Ledger()
    deadline = time.monotonic() + seconds
    headers = s.commissioner()

    def writer(t: int) -> None:
        client = server.client()
        try:
            for n in range(per_thread):
                if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                    return
                contract_id = contracts[(t + n) % len(contracts)]
                outcome = send(client, contract_id, f"{prefix}-t{t:02d}-n{n:03d}", headers)
                ledger.add(outcome)
                if outcome.status is None:
                    client.close()
                    client = server.client()
                if pause:
                    time.sleep(pause)
        finally:
            client.close()

    workers = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 2 * CLIENT_TIMEOUT + 10)
    assert not any(w.is_alive() for w in workers), "a client thread did not finish in time"
    return ledger


# --------------------------------------------------------------------------- reading back


def full_history(client: httpx.Client, contract_id: str, headers: s.Headers) -> list[dict]:
    """Every event of the contract, page by page (bounded: at most 1,000 pages)."""
    events: list[dict] = []
    after = 0
    for _page in range(1000):
        response = client.get(
            f"{API}/contracts/{contract_id}/history",
            headers=headers,
            params={"after": after, "limit": 200},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["items"])
        if page["nextCursor"] is None:
            return events
        after = page["nextCursor"]
    raise AssertionError("history did not end within 1,000 pages")


def verification(client: httpx.Client, contract_id: str, headers: s.Headers) -> dict:
    response = client.get(f"{API}/contracts/{contract_id}/verification", headers=headers)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def assert_acknowledged_stored_once(server: Server, ledger: Ledger, contracts: list[str]) -> None:
    """Every 2xx command is in history exactly once (and at the version its ETag named); no
    marker, acknowledged or not, is stored twice; versions run 1..n without a gap; every chain
    verifies."""
    auditor = s.auditor()
    stored: dict[str, list[tuple[str, int]]] = {}
    with server.client() as client:
        for contract_id in contracts:
            events = full_history(client, contract_id, auditor)
            versions = [e["version"] for e in events]
            assert versions == list(range(1, len(events) + 1)), f"gap or repeat in {contract_id}"
            for event in events:
                if event["type"] == "PublicationIssued":
                    marker = event["data"]["summary"]
                    stored.setdefault(marker, []).append((contract_id, event["version"]))
            report = verification(client, contract_id, auditor)
            assert report["valid"], report
            assert report["versionsChecked"] == len(events), report
    duplicated = {m: where for m, where in stored.items() if len(where) > 1}
    assert not duplicated, f"stored more than once: {sorted(duplicated)[:10]}"
    missing = []
    misplaced = []
    for outcome in ledger.acknowledged():
        where = stored.get(outcome.marker)
        if not where:
            missing.append(outcome.marker)
            continue
        contract_id, version = where[0]
        if contract_id != outcome.contract_id or outcome.etag != f'"{version}"':
            misplaced.append((outcome.marker, outcome.etag, where))
    assert not missing, f"{len(missing)} acknowledged commands are not stored: {missing[:10]}"
    assert not misplaced, f"stored elsewhere than acknowledged: {misplaced[:10]}"
    sent = {o.marker for o in ledger.outcomes}
    assert set(stored) <= sent, f"stored but never sent: {sorted(set(stored) - sent)[:10]}"


def assert_problem_json(outcome: Outcome, status: int) -> None:
    assert outcome.status == status, (outcome.status, outcome.body)
    assert outcome.content_type.startswith(s.PROBLEM_MEDIA_TYPE), outcome.content_type
    assert isinstance(outcome.body, dict), outcome.body
    for key in ("type", "title", "status", "detail"):
        assert key in outcome.body, (key, outcome.body)
    assert outcome.body["status"] == status, outcome.body
