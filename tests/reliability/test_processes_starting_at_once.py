"""Processes that start at the same moment against one PostgreSQL database — several API hosts
after a deploy — all come up: the schema is created (or checked) by one at a time. Without the
schema lock one of them failed with "tuple concurrently updated" (the library's CREATE OR
REPLACE FUNCTION run by two sessions at once), found by the scale benchmark's seeding
processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.servers import ROOT

PROCESSES = 8
ROUNDS = 4  # the first on an empty database, the others on the schema as it stands

STARTER = """
import sys, time
from pathlib import Path
from infrastructure.settings import Settings
from infrastructure.stores import contract_service
url, data_dir, start = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
contract_service(Settings(database_url=url, data_dir=data_dir)).close()
"""


def test_processes_starting_at_once_all_come_up(postgres_database_url: str, tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        start = time.time() + 2.0  # every process imported and waiting by then
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", STARTER, postgres_database_url, str(tmp_path), str(start)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(PROCESSES)
        ]
        outcomes = []
        for process in processes:
            try:
                output, _ = process.communicate(timeout=60)
            finally:
                process.kill()
            outcomes.append((process.returncode, output.decode(errors="replace")[-600:]))
        failed = [output for code, output in outcomes if code != 0]
        assert not failed, f"round {round_}: {len(failed)} of {PROCESSES} failed:\n{failed[0]}"
