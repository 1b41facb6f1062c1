"""Shared fixtures: one clean store per test on each backend, and the backend count.

* `backend` is parametrised over memory, sqlite and postgres; any test that takes `settings`
  (or `backend`) runs once per backend.
* `settings` is a `Settings` whose database_url names a fresh, empty store for this test:
  memory://, a SQLite file in tmp_path, or a PostgreSQL database created for this test from
  template0 in the cluster named by DIALOOG_TEST_DATABASE_URL (`make test` starts one).
  Without that variable the postgres-parametrised tests FAIL; they are never skipped.
* The run ends with `backends: memory=N sqlite=N postgres=N`, the tests that ran per backend.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from infrastructure.settings import Settings

BACKENDS = ("memory", "sqlite", "postgres")
TEST_DATABASE_URL_VAR = "DIALOOG_TEST_DATABASE_URL"

hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.register_profile("dev", max_examples=50, deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(autouse=True)
def _no_ambient_dialoog_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's DIALOOG_* variables must not leak into Settings built by tests."""
    for name in list(os.environ):
        if name.startswith("DIALOOG_") and name != TEST_DATABASE_URL_VAR:
            monkeypatch.delenv(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    # Carried in the test reports (also across xdist workers) for the backend count.
    request.node.user_properties.append(("backend", name))
    return name


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get(TEST_DATABASE_URL_VAR)
    if not url:
        pytest.fail(
            f"{TEST_DATABASE_URL_VAR} is not set: postgres tests need a cluster. "
            "Run `make test`, or `python tests/support/pgcluster.py run -- pytest`.",
            pytrace=False,
        )
    return url


@pytest.fixture
def postgres_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A database created for this test only, dropped afterwards (with any open sessions)."""
    import psycopg
    from psycopg import sql

    from infrastructure.settings import parse_database_url

    admin = parse_database_url(postgres_admin_url)
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
        )
    try:
        user, password = quote(admin.user, safe=""), quote(admin.password, safe="")
        yield f"postgresql://{user}:{password}@{admin.host}:{admin.port}/{name}"
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        jwt_secret="test-secret-with-enough-length-for-hs256",
        connect_timeout=2,
        lock_timeout=2,
    )


# --------------------------------------------------------------------------- backend count

_ran: Counter[str] = Counter()
#: Tests that validate OCDS against ../shared/ocds (tests/support/ocds.py)
OCDS_TESTS = "tests/api/test_ocds.py"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Under xdist this runs on the controller for every worker's reports too.
    if report.when != "call" or report.skipped:
        return
    if report.nodeid.startswith(OCDS_TESTS):
        _ran["ocds"] += 1
    for key, value in report.user_properties:
        if key == "backend":
            _ran[str(value)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if hasattr(terminalreporter.config, "workerinput"):  # an xdist worker: the controller reports
        return
    counts = " ".join(f"{name}={_ran[name]}" for name in BACKENDS)
    terminalreporter.write_line(f"backends: {counts}")
    from tests.support import ocds  # the one line for the OCDS check without ../shared

    if _ran["ocds"] and not ocds.STANDARD_ZIP.exists():
        terminalreporter.write_line(ocds.SKIP_LINE)
