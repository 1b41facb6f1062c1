"""A throwaway PostgreSQL cluster in a temp dir, for tests.

    python tests/support/pgcluster.py run -- pytest -n 2

starts a cluster on a free 127.0.0.1 port, runs the command with DIALOOG_TEST_DATABASE_URL
pointing at it, and stops the cluster and deletes its files whatever the command's outcome.
If the cluster cannot start, the run fails: PostgreSQL tests are never silently skipped.

PostgreSQL refuses to run as root, so under root the cluster runs as the `postgres` system user
(override with PGCLUSTER_USER) in a temp dir that user owns. Durability settings (fsync,
synchronous_commit) stay at their defaults so tests see what production sees.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

USER = "dialoog"
PASSWORD = "dialoog-test"  # loopback-only, throwaway cluster
DATABASE = "dialoog"


def find_bindir() -> Path:
    """Debian keeps server binaries in /usr/lib/postgresql/<major>/bin; prefer 15."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: (p.parent.parent.name != "15", -int(p.parent.parent.name or 0)),
    )
    if candidates:
        return candidates[0].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BINDIR)"
    )


def free_port() -> int:
    # Not servers.free_port: this file also runs as a script, with only the standard library.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgCluster:
    """`with PgCluster() as cluster: cluster.url` — a running cluster for the block's duration."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.port = 0
        self.root: Path | None = None
        self._as_user: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **self._as_user,
        )

    def start(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dialoog-pg-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam(os.environ.get("PGCLUSTER_USER", "postgres"))
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as_user = {
                "user": account.pw_uid,
                "group": account.pw_gid,
                "extra_groups": [],
                "cwd": str(self.root),
            }
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._as_user:
            os.chown(pwfile, self._as_user["user"], self._as_user["group"])
        (self.root / "sock").mkdir()
        if self._as_user:
            os.chown(self.root / "sock", self._as_user["user"], self._as_user["group"])

        init = self._run(
            "initdb",
            "-D", str(self.data_dir),
            "-U", USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E", "UTF8",
            "--locale=C.UTF-8",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")

        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            started = self._run(
                "pg_ctl",
                "-D", str(self.data_dir),
                "-l", str(self.root / "postgres.log"),
                "-w", "-t", "30",
                "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root / 'sock'}",
                "start",
            )  # fmt: skip
            if started.returncode == 0:
                break
            last_error = started.stderr + self._log_tail()
        else:
            raise RuntimeError(f"PostgreSQL did not start:\n{last_error}")

        created = self._run(
            "createdb", "-h", str(self.root / "sock"), "-p", str(self.port), "-U", USER, DATABASE
        )
        if created.returncode != 0:
            raise RuntimeError(f"createdb failed: {created.stderr}")

    def _log_tail(self) -> str:
        assert self.root is not None
        log = self.root / "postgres.log"
        return "\n".join(log.read_text().splitlines()[-20:]) if log.exists() else ""

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                stopped = self._run(
                    "pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "20", "stop"
                )
                if stopped.returncode != 0:
                    with contextlib.suppress(OSError, ValueError):
                        os.kill(self.postmaster_pid(), signal.SIGKILL)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PgCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`, which stops the cluster


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print("usage: pgcluster.py run -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    started_at = time.monotonic()
    cluster: PgCluster | None = None
    try:
        cluster = PgCluster()
        cluster.start()
    except Exception as error:
        print(f"pgcluster: FAILED to start PostgreSQL: {error}", file=sys.stderr)
        if cluster is not None:
            cluster.stop()
        return 1
    try:
        version = cluster._run("postgres", "--version").stdout.strip()
        print(
            f"pgcluster: {version} on 127.0.0.1:{cluster.port} "
            f"(started in {time.monotonic() - started_at:.1f} s)",
            file=sys.stderr,
        )
        env = {**os.environ, "DIALOOG_TEST_DATABASE_URL": cluster.url}
        return subprocess.call(argv[2:], env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        cluster.stop()
        print("pgcluster: stopped and removed", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
