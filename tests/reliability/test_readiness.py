"""Issue 11, point 2: `/readyz` reads the event store's tables within its deadline, and `serve`
refuses a file that is not a database or a schema it does not recognise (one line, exit 2)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.problems import PROBLEM_BASE
from infrastructure.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def serve_once(database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOOG_")}
    env |= {"DIALOOG_DATABASE_URL": database_url, "DIALOOG_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(run: subprocess.CompletedProcess[str]) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr


def assert_not_ready(client: TestClient) -> dict[str, object]:
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    print(f"/readyz answered 503 in {elapsed:.2f} s")
    assert elapsed < 5
    assert response.status_code == 503, response.text
    body: dict[str, object] = response.json()
    assert body["type"] == PROBLEM_BASE + "store-unavailable"
    return body


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "dialoog.sqlite"
    path.write_bytes(b"this is a text file, not SQLite\n" * 200)
    url = f"sqlite:///{path}"
    with TestClient(create_app(Settings(database_url=url, data_dir=tmp_path))) as client:
        body = assert_not_ready(client)
        # Unauthenticated callers learn nothing of the file's whereabouts.
        assert str(tmp_path) not in str(body) and "sqlite" not in str(body).lower()
    run = serve_once(url, tmp_path)
    assert_refused(run)
    assert "not an event store" in run.stderr


def test_a_schema_it_does_not_recognise(tmp_path: Path) -> None:
    path = tmp_path / "dialoog.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE stored_events (id INTEGER, payload TEXT)")
    url = f"sqlite:///{path}"
    with TestClient(create_app(Settings(database_url=url, data_dir=tmp_path))) as client:
        assert_not_ready(client)
    assert_refused(serve_once(url, tmp_path))


def test_a_new_sqlite_store_and_its_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    url = f"sqlite:///{folder / 'dialoog.sqlite'}"
    settings = Settings(database_url=url, data_dir=folder, jwt_secret=None)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():  # the database, its -wal/-shm, the generated keys
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.postgres
def test_readyz_is_503_while_the_events_table_is_locked(postgres_database_url: str) -> None:
    settings = Settings(database_url=postgres_database_url)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.services.contracts is not None  # type: ignore[attr-defined]
        assert client.get("/readyz").status_code == 200
        locked = threading.Event()
        release = threading.Event()

        def hold_lock() -> None:
            with psycopg.connect(postgres_database_url) as connection, connection.transaction():
                connection.execute("LOCK TABLE dialoog_events IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait(20)

        holder = threading.Thread(target=hold_lock, daemon=True)
        holder.start()
        try:
            assert locked.wait(10)
            body = assert_not_ready(client)
            assert "dialoog_events" not in str(body)
        finally:
            release.set()
            holder.join(10)
        assert client.get("/readyz").status_code == 200
