"""`dialoog` as a user runs it: a real subprocess, so tracebacks and exit codes are what a
shell sees."""

import os
import socket
import subprocess
import sys
import time

import pytest

from api.app import service_version


def run_dialoog(*args: str, env: dict[str, str] | None = None, timeout: float = 20):
    # Only the variables a shell would pass; no ambient DIALOOG_* settings.
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIALOOG_")}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def test_version_prints_the_distribution_version() -> None:
    result = run_dialoog("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"dialoog {service_version()}"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"DIALOOG_DATABASE_URL": "mysql://u:p@h/db"}, "DIALOOG_DATABASE_URL: unsupported scheme"),
        ({"DIALOOG_DATABASE_URL": "postgresql://u:p@h:port/db"}, "DIALOOG_DATABASE_URL"),
        ({"DIALOOG_PORT": "not-a-port"}, "DIALOOG_PORT"),
    ],
)
def test_serve_with_a_bad_setting_ends_with_one_line_and_exit_2(
    env: dict[str, str], fragment: str
) -> None:
    result = run_dialoog("serve", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dialoog: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_with_an_unreachable_postgres_ends_with_one_line_and_exit_2() -> None:
    port = closed_port()
    url = f"postgresql://app:very-secret@127.0.0.1:{port}/dialoog"
    started = time.monotonic()
    result = run_dialoog("serve", env={"DIALOOG_DATABASE_URL": url})
    assert time.monotonic() - started < 8  # interpreter start-up plus a refused connection
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not ready" in lines[0]
    assert f"127.0.0.1:{port}" in lines[0]
    assert "very-secret" not in result.stderr


def test_serve_with_a_port_in_use_ends_with_one_line_and_exit_2(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_dialoog(
            "serve",
            "--port",
            str(port),
            env={"DIALOOG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"},
        )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot listen" in result.stderr


def test_projections_verify_exits_1_naming_each_difference(tmp_path) -> None:
    """On a store the demo filled: the read models agree (exit 0); a summary row edited behind
    the service's back is named, with exit 1, until a rebuild."""
    import sqlite3

    database = tmp_path / "dialoog.sqlite"
    env = {"DIALOOG_DATABASE_URL": f"sqlite:///{database}"}
    demo = run_dialoog("demo", env=env, timeout=120)
    assert demo.returncode == 0, demo.stderr
    fine = run_dialoog("projections", "verify", env=env, timeout=120)
    assert (fine.returncode, fine.stdout.strip()) == (0, "the read models agree with the events")
    with sqlite3.connect(database) as db:
        db.execute("UPDATE dialoog_rm_summaries SET title = 'Vervalst'")
    broken = run_dialoog("projections", "verify", env=env, timeout=120)
    assert broken.returncode == 1
    assert "summary title is 'Vervalst'" in broken.stdout
    assert "difference(s)" in broken.stderr
    assert "Traceback" not in broken.stderr
    rebuilt = run_dialoog("projections", "rebuild", env=env, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = run_dialoog("projections", "verify", env=env, timeout=120)
    assert again.returncode == 0, again.stdout


def test_retention_apply_erases_what_ended_long_enough_ago(tmp_path) -> None:
    """`dialoog retention apply` (issue 12, point 4) on a store holding a contract that ended on
    2025-06-30: nothing within DIALOOG_RETENTION_YEARS, its personal data once past it."""
    from datetime import date

    from application.commands import TerminateContract
    from infrastructure.settings import Settings
    from tests.support.app import AUDITOR, COMMISSIONER, active_contract, service_for

    database = tmp_path / "dialoog.sqlite"
    env = {"DIALOOG_DATABASE_URL": f"sqlite:///{database}", "DIALOOG_DATA_DIR": str(tmp_path)}
    settings = Settings(database_url=env["DIALOOG_DATABASE_URL"], data_dir=tmp_path)
    service = service_for(settings)
    try:
        contract_id = active_contract(service).contract_id
        service.handle(
            COMMISSIONER,
            TerminateContract(contract_id, effective_on=date(2025, 6, 30), reason="budget op"),
        )
    finally:
        service.close()

    within = run_dialoog("retention", "apply", "--today", "2027-06-30", env=env, timeout=60)
    assert within.returncode == 0, within.stderr
    assert within.stdout.splitlines()[-1] == (
        "0 contract(s) past the retention period of 7 years on 2027-06-30"
    )
    past = run_dialoog(
        "retention",
        "apply",
        "--today",
        "2027-06-30",
        env={**env, "DIALOOG_RETENTION_YEARS": "2"},
        timeout=60,
    )
    assert past.returncode == 0, past.stderr
    assert past.stdout.startswith(f"contract {contract_id}: ")
    assert "key(s) destroyed" in past.stdout
    service = service_for(settings)
    try:
        history = service.history(AUDITOR, contract_id).items
        assert history[-1].type == "PersonalDataErased"
        assert {e.actor.name for e in history[:-1]} == {"[gewist]"}
        assert service.verify(AUDITOR, contract_id).valid
    finally:
        service.close()
    bad = run_dialoog("retention", "apply", "--today", "morgen", env=env)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr


def test_a_token_for_a_privacy_officer_can_be_issued(tmp_path) -> None:
    env = {"DIALOOG_DATA_DIR": str(tmp_path)}
    args = ("token", "issue", "--sub", "piet", "--name", "Piet", "--org", "gemeente-utrecht")
    issued = run_dialoog(*args, "--role", "privacy_officer", env=env)
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.count(".") == 2  # a compact JWS
    refused = run_dialoog(*args, "--role", "privacy-officer", env=env)
    assert refused.returncode == 2 and "unknown role privacy-officer" in refused.stderr
