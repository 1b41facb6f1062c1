"""A newcomer's first minutes: `git clone` of HEAD into a temp dir with no ../shared beside it,
then the README's two commands. `make run` must install everything and serve /healthz on the
port asked for (DIALOOG_PORT); after `git clean -xdf` (as fresh as the clone was) `make test`
must pass and print exactly one line for the external check it could not run (the Logius
ruleset from ../shared). What is committed is what is tested: uncommitted changes are not in
the clone.

Under `make soak` only (it installs a virtualenv twice and runs the whole suite); each command
is bounded in time and its whole process group is stopped afterwards. The timings go to the
test's output (`pytest -s`) for the closing note of a release.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.soak, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN_READY_SECONDS = 900  # a cold `pip install` on a busy machine, then the server's start
TEST_SECONDS = 2400  # `make test` is under 10 minutes on 2 idle cores; leave room for load
EXPECTED_SKIP = "skipped: NLGov Logius ruleset (../shared/adr/linter.yaml not found)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _newcomer_env() -> dict[str, str]:
    """This machine's environment without anything a test run or CI put there: no DIALOOG_*
    settings, no CI flag, no pytest, make or virtualenv variables, no virtualenv on the PATH."""
    dropped = ("DIALOOG_", "PYTEST_", "PYTHON", "VIRTUAL_ENV", "HYPOTHESIS_", "MAKE", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped) and k != "CI"}
    env["PATH"] = os.pathsep.join(
        entry
        for entry in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if entry and not entry.startswith(str(ROOT))
    )
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stops the process and everything it started (make, pip, servers, clusters)."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _start(
    command: list[str], cwd: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """HEAD of this repository in tmp_path/dialoog; tmp_path/shared does not exist."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    target = tmp_path / "dialoog"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], check=True
    )
    subprocess.run(["git", "checkout", "--quiet", "--detach", head], cwd=target, check=True)
    assert not (tmp_path / "shared").exists()
    return target


def test_a_fresh_clone_runs_and_passes_its_tests_without_the_shared_folder(
    clone: Path, tmp_path: Path
) -> None:
    env = _newcomer_env()

    port = _free_port()
    run_log = tmp_path / "make-run.log"
    started = time.monotonic()
    server = _start(["make", "run"], clone, env | {"DIALOOG_PORT": str(port)}, run_log)
    try:
        while not _healthy(port):
            assert server.poll() is None, f"make run ended ({server.returncode}):\n{_tail(run_log)}"
            assert time.monotonic() - started < RUN_READY_SECONDS, (
                f"make run: no /healthz on 127.0.0.1:{port} in {RUN_READY_SECONDS} s:\n"
                + _tail(run_log)
            )
            time.sleep(1)
        run_seconds = time.monotonic() - started
    finally:
        _stop(server)

    subprocess.run(["git", "clean", "-xdfq"], cwd=clone, check=True)  # fresh again

    test_log = tmp_path / "make-test.log"
    started = time.monotonic()
    tests = _start(["make", "test"], clone, env, test_log)
    try:
        returncode = tests.wait(timeout=TEST_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"make test ran longer than {TEST_SECONDS} s:\n{_tail(test_log)}")
    finally:
        _stop(tests)
    test_seconds = time.monotonic() - started

    output = test_log.read_text(errors="replace")
    skips = [line for line in output.splitlines() if line.startswith("skipped:")]
    summary = [line for line in output.splitlines() if line.startswith("backends:")]
    print(  # the figures for the closing note (pytest -s), whatever the outcome
        f"\nfresh clone: make run healthy after {run_seconds:.0f} s (install included); "
        f"make test exit {returncode} after {test_seconds:.0f} s; {skips}; {summary[-1:]}"
    )
    assert returncode == 0, f"make test failed ({returncode}):\n{_tail(test_log, 80)}"
    assert skips == [EXPECTED_SKIP]
    assert summary, "make test printed no `backends:` line"
