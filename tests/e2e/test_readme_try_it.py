"""The README's "Try it" section works as written: start `dialoog serve` on SQLite, run the
section's bash block against it (only BASE and the data directory differ), check its output."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from server_support import free_port, wait_until_healthy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def try_it_block() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"## Try it\n.*?```bash\n(.*?)```", readme, re.S)
    assert found, "README.md has no bash block under '## Try it'"
    return found.group(1)


def test_the_readme_try_it_section_runs_as_written(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOOG_")}
    env |= {
        "DIALOOG_DATABASE_URL": f"sqlite:///{tmp_path / 'dialoog.sqlite'}",
        "DIALOOG_DATA_DIR": str(tmp_path),
        "DIALOOG_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_healthy(port, server)
        shell_env = env | {"BASE": f"http://127.0.0.1:{port}/api/v1"}
        shell_env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", try_it_block()],
            env=shell_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "agreed"
    assert lines[1].split() == [
        "ContractOpened",
        "ProviderAdmitted",
        "ContractActivated",
        "SessionHeld",
        "ProposalSubmitted",
        "ConsentGiven",
        "ProposalAgreed",
    ]
    assert '"valid":true' in lines[2]
