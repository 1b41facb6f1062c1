"""An attacker with database access, against an auditor who kept a checkpoint (issue 13), on
SQLite and PostgreSQL with a running server.

The auditor takes a checkpoint. Then, in the database: (a) a contract's chain is re-hashed
consistently from version 1 (ceiling ×10), (b) a contract's last events are deleted, (c) a whole
contract is deleted, (d) one byte of a stored event is edited. Each time `dialoog verify
--server URL --checkpoint OLD.txt --contract ID` and `python verify.py BUNDLE --checkpoint
OLD.txt` (the bundle written by `dialoog export`) fail and name what changed, while the
untouched contract passes both. Then the attacker covers their tracks — rebuilds the whole log
from the edited events and removes the stored checkpoints: the server signs again, but the log
no longer extends the auditor's checkpoint, and both forms say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import rfc8785
from eventsourcing.persistence import StoredEvent

from domain.chain import GENESIS_DIGEST
from infrastructure.merkle_log import SqlMerkleLog, contract_leaves
from infrastructure.settings import Settings
from tests.support import api as s
from tests.support.api import API
from tests.support.app import RawEvents
from tests.support.servers import ROOT, served, server_env

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    request.node.user_properties.append(("backend", request.param))
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dialoog.sqlite'}"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


def run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


class Auditor:
    def __init__(self, url: str, env: dict[str, str], workdir: Path, old: Path) -> None:
        self.url, self.env, self.workdir, self.old = url, env, workdir, old
        self.token = s.auditor()["Authorization"].removeprefix("Bearer ")
        self.old_size = int(old.read_text().split("\n")[1])

    def server_form(self, contract_id: str) -> subprocess.CompletedProcess[str]:
        return run(
            [
                *(sys.executable, "-m", "api.cli", "verify", "--server", self.url),
                *("--checkpoint", str(self.old), "--contract", contract_id),
                *("--token", self.token),
            ],
            self.env,
        )

    def bundle_form(self, contract_id: str, name: str) -> subprocess.CompletedProcess[str]:
        bundle = self.workdir / f"{name}.zip"
        exported = run(
            [
                *(sys.executable, "-m", "api.cli", "export", contract_id, "-o", str(bundle)),
                *("--from-size", str(self.old_size)),
            ],
            self.env,
        )
        assert exported.returncode == 0, exported.stderr
        folder = self.workdir / name
        with zipfile.ZipFile(bundle) as archive:
            archive.extract("verify.py", folder)
        # verify.py on its own: run from its folder, nothing of ours on the path
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        return run(
            [sys.executable, "-I", "verify.py", str(bundle), "--checkpoint", str(self.old)],
            clean,
            cwd=folder,
        )


def _rehash_from_version_1(raw: RawEvents) -> None:
    """Ceiling ×10 in the opening event, and every digest after it recomputed: a chain that
    holds on its own (form 2: each record links to SHA-256 of the rewritten one before it)."""
    prior = GENESIS_DIGEST
    for version, _topic, state_bytes in raw.rows():
        state = json.loads(state_bytes)
        if version == 1:
            _times_ten(state, "ceiling")
        state["priorDigest"] = prior
        rewritten = rfc8785.dumps(state)
        raw.set_state(version, rewritten)
        prior = hashlib.sha256(rewritten).hexdigest()


def _times_ten(node: Any, key: str) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                wrapped = isinstance(v, dict) and "_data_" in v
                value = Decimal(v["_data_"] if wrapped else v) * 10
                if wrapped:
                    v["_data_"] = str(value)
                else:
                    node[k] = str(value)
            else:
                _times_ten(v, key)
    elif isinstance(node, list):
        for v in node:
            _times_ten(v, key)


def _edit_one_byte(raw: RawEvents) -> None:
    state = raw.rows()[0][2]
    at = state.index(b'"title":"') + len(b'"title":"')
    raw.set_state(1, state[:at] + bytes([state[at] ^ 0x20]) + state[at + 1 :])


def _rebuild_log_and_drop_checkpoints(settings: Settings) -> None:
    """What a thorough attacker does next: a fresh log over the edited events."""
    database = settings.database
    tables = ("leaves", "nodes", "head", "checkpoints")
    if database.kind == "sqlite":
        connection = sqlite3.connect(str(database.path))
        connection.row_factory = sqlite3.Row
        sql = SqlMerkleLog(placeholder="?", blob="BLOB", bigint="INTEGER")
        select = "SELECT rowid AS n, * FROM stored_events ORDER BY rowid"
    else:
        import psycopg
        from psycopg.rows import dict_row

        connection = psycopg.connect(
            host=database.host,
            port=database.port,
            dbname=database.dbname,
            user=database.user,
            password=database.password,
            row_factory=dict_row,
        )
        sql = SqlMerkleLog(placeholder="%s", blob="bytea", bigint="bigint", schema="public")
        select = "SELECT notification_id AS n, * FROM dialoog_events ORDER BY notification_id"
    try:
        cursor = connection.cursor()
        for table in tables:
            cursor.execute(f"DELETE FROM dialoog_log_{table}")  # noqa: S608 - fixed names
        rows = cursor.execute(select).fetchall()
        events = [
            StoredEvent(
                originator_id=UUID(str(row["originator_id"])),
                originator_version=int(row["originator_version"]),
                topic=str(row["topic"]),
                state=bytes(row["state"]),
            )
            for row in rows
        ]
        sql.append(cursor, contract_leaves(events, [int(row["n"]) for row in rows]))
        connection.commit()
    finally:
        connection.close()


def _assert_fails(result: subprocess.CompletedProcess[str], *named: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "VERDICT: FAILED" in result.stdout
    for text in named:
        assert text in result.stdout, result.stdout


def _assert_passes(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("VERDICT: VERIFIED")


def test_every_tampering_is_named_and_the_untouched_contract_passes(
    store_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(database_url=store_url, data_dir=data)
    with served(store_url, data) as server, server.client() as http:
        ids = {
            name: s.active_contract(http, reference=f"WMO-{name}").id
            for name in ("rehashed", "truncated", "removed", "edited", "untouched")
        }
        old = tmp_path / "OLD.txt"
        response = http.get(f"{API}/log/checkpoint")
        assert response.status_code == 200
        old.write_text(response.text, encoding="utf-8")
        auditor = Auditor(server.base_url, server_env(store_url, data), tmp_path, old)

        for contract_id in ids.values():  # the untouched store passes
            _assert_passes(auditor.server_form(contract_id))
        _assert_passes(auditor.bundle_form(ids["untouched"], "before"))

        _rehash_from_version_1(RawEvents(settings, ids["rehashed"]))
        truncated = RawEvents(settings, ids["truncated"])
        truncated.delete(7)
        truncated.delete(6)
        removed = RawEvents(settings, ids["removed"])
        for version in range(7, 0, -1):
            removed.delete(version)
        _edit_one_byte(RawEvents(settings, ids["edited"]))

        expected = {
            "rehashed": ["event v1: not the event the log recorded at leaf"],
            "truncated": [
                "event v6: recorded in the log (leaf",
                "event v7: recorded in the log (leaf",
            ],
            # A form-2 digest is the hash of the bytes: the edited record is named by the log,
            # and the next record no longer links to it.
            "edited": [
                "event v1: not the event the log recorded at leaf",
                "event v2: prior digest does not match v1",
            ],
        }
        for name, named in expected.items():
            _assert_fails(auditor.server_form(ids[name]), *named)
            _assert_fails(auditor.bundle_form(ids[name], name), *named)
        _assert_fails(
            auditor.server_form(ids["removed"]),
            f"contract {ids['removed']}: the server has no such contract (removed?)",
        )
        _assert_fails(
            auditor.bundle_form(ids["removed"], "removed"),
            *[f"event v{v}: recorded in the log (leaf" for v in range(1, 8)],
        )
        _assert_passes(auditor.server_form(ids["untouched"]))
        _assert_passes(auditor.bundle_form(ids["untouched"], "after"))

        _rebuild_log_and_drop_checkpoints(settings)
        # the rebuilt log holds fewer leaves than the auditor's checkpoint (events were removed)
        rewritten = f"your checkpoint (size {auditor.old_size}) is larger than the"
        _assert_fails(auditor.server_form(ids["untouched"]), rewritten, "the log was truncated")
        _assert_fails(
            auditor.bundle_form(ids["untouched"], "rewritten"), rewritten, "the log was truncated"
        )
        # …and with as many events as before, the rewritten log does not extend it either
        filler = {  # a record in form 1, which states its digest
            "digest": "f" * 64,
            "prior_digest": "0" * 64,
            "timestamp": "2025-01-01T00:00:00+00:00",
        }
        for version in (6, 7):
            truncated.insert(version, "domain.events:Filler", filler)
        for version in range(1, 8):
            removed.insert(version, "domain.events:Filler", filler)
        _rebuild_log_and_drop_checkpoints(settings)
        not_extended = "does not extend it"
        _assert_fails(auditor.server_form(ids["untouched"]), not_extended)
        _assert_fails(auditor.bundle_form(ids["untouched"], "rewritten-2"), not_extended)
