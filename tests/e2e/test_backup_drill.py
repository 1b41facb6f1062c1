"""The backup and restore drill of docs/OPERATIONS.md, performed: seed contracts with events,
`pg_dump -Fc`, `pg_restore` into a new database, verify every contract there, serve from it
and read each contract with the same ETag and digest as before. Also the access log survives,
still append-only."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api.app import create_app
from infrastructure.settings import Settings, parse_database_url
from tests.support import api as s
from tests.support.pgcluster import find_bindir
from tests.support.servers import served

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _seed(client: TestClient) -> dict[str, tuple[str, str]]:
    """Three contracts with some history; their ETag and Contract-Digest."""
    first = s.active_contract(client, "WMO-2025-101")
    s.agree(client, first, "goal", s.goal_add("vision", "Iedereen doet mee"))
    s.active_contract(client, "WMO-2025-102")
    s.open_contract(client, "WMO-2025-103")
    listed = client.get(f"{s.API}/contracts", headers=s.commissioner()).json()["items"]
    seen = {}
    for item in listed:
        response = client.get(f"{s.API}/contracts/{item['id']}", headers=s.commissioner())
        seen[item["id"]] = (response.headers["etag"], response.headers["contract-digest"])
    assert len(seen) == 3
    return seen


def _libpq_env(url: str) -> dict[str, str]:
    """Connection settings for pg_dump/pg_restore without a password on the command line."""
    parts = parse_database_url(url)
    return {
        **os.environ,
        "PGHOST": parts.host,
        "PGPORT": str(parts.port),
        "PGUSER": parts.user,
        "PGPASSWORD": parts.password,
    }


def test_dump_restore_verify_and_serve(
    postgres_admin_url: str, postgres_database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=postgres_database_url, data_dir=tmp_path, jwt_secret=s.JWT_SECRET
    )
    with TestClient(create_app(settings)) as client:
        before = _seed(client)
        audited = client.get(f"{s.API}/access-log", headers=s.auditor(), params={"limit": 500})
        logged = len(audited.json()["items"])
        assert logged > 0

    bindir = find_bindir()
    dump = tmp_path / "dialoog.dump"
    source = parse_database_url(postgres_database_url)
    subprocess.run(
        [bindir / "pg_dump", "--format=custom", f"--file={dump}", source.dbname],
        env=_libpq_env(postgres_database_url),
        check=True,
        timeout=60,
    )
    restored_name = f"restored_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(restored_name)))
    restored_url = postgres_database_url.rsplit("/", 1)[0] + f"/{restored_name}"
    try:
        subprocess.run(
            [
                bindir / "pg_restore",
                "--exit-on-error",
                "--no-owner",
                "--dbname",
                restored_name,
                str(dump),
            ],
            env=_libpq_env(postgres_database_url),
            check=True,
            timeout=60,
        )
        _serve_and_compare(restored_url, tmp_path, before, logged)
        with (
            psycopg.connect(restored_url, autocommit=True) as connection,
            pytest.raises(psycopg.errors.RaiseException, match="append-only"),
        ):
            connection.execute("DELETE FROM dialoog_access_log")
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(restored_name)
                )
            )


def _serve_and_compare(
    restored_url: str, data_dir: Path, before: dict[str, tuple[str, str]], logged: int
) -> None:
    """`dialoog serve` on the restored database (the same data directory: the snapshot key),
    then every contract verified and read as before."""
    with served(restored_url, data_dir) as server:

        def get(path: str, headers: s.Headers) -> tuple[int, dict[str, str], dict]:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                return response.status, dict(response.getheaders()), json.loads(response.read())
            finally:
                connection.close()

        listed = get(f"{s.API}/contracts", s.commissioner())[2]["items"]
        assert {item["id"] for item in listed} == set(before)
        for contract_id, (etag, digest) in before.items():
            status, _, verdict = get(f"{s.API}/contracts/{contract_id}/verification", s.auditor())
            assert (status, verdict["valid"]) == (200, True), verdict
            status, headers, _ = get(f"{s.API}/contracts/{contract_id}", s.commissioner())
            assert status == 200
            assert (headers["etag"], headers["contract-digest"]) == (etag, digest)
        audit = get(f"{s.API}/access-log?limit=500", s.auditor())[2]
        # Everything logged before the dump, and the reads just made on the restored copy.
        assert len(audit["items"]) > logged
