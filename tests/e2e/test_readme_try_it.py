"""The README's "Try it" section works as written: start `dialoog serve` on SQLite, run the
section's bash block against it (only BASE and the data directory differ), check its output."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import served

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def try_it_block() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"## Try it\n.*?```bash\n(.*?)```", readme, re.S)
    assert found, "README.md has no bash block under '## Try it'"
    return found.group(1)


def test_the_readme_try_it_section_runs_as_written(tmp_path: Path) -> None:
    # No token secret: the README's reader has none, so server and CLI share the generated one.
    database_url = f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
    with served(database_url, tmp_path, secret=None) as server:
        env = server.env
        shell_env = env | {"BASE": f"{server.base_url}/api/v1"}
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
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "agreed"
    assert lines[1].split() == [
        "ContractOpened",
        "ProviderAdmitted",
        "ProviderAccepted",
        "ContractActivated",
        "SessionHeld",
        "ProposalSubmitted",
        "ConsentGiven",
        "ProposalAgreed",
    ]
    assert '"valid":true' in lines[2]
