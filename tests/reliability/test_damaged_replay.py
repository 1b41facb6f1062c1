"""Issue 11, point 4: a replayed idempotent command whose receipt names a version past the
stored head (rows removed behind the service's back) is a history-corrupt 500 with a generic
detail and a log line for operators — not a KeyError."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.settings import Settings
from tests.support import api as s
from tests.support.app import RawEvents


def test_a_replay_past_the_head_is_history_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'dialoog.sqlite'}",
        data_dir=tmp_path,
        jwt_secret=s.JWT_SECRET,
        snapshot_interval=0,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        contract = s.active_contract(client)
        headers = {**s.commissioner(), "Idempotency-Key": "publish-once"}
        body = {"audience": "council", "channel": "web", "summary": "kept"}
        path = f"{s.API}/contracts/{contract.id}/publications"
        first = client.post(path, headers=headers, json=body)
        assert first.status_code == 201, first.text
        version = int(first.headers["etag"].strip('"'))
        RawEvents(settings, contract.id).delete(version)
        with caplog.at_level(logging.ERROR, logger="dialoog.errors"):
            again = client.post(path, headers=headers, json=body)
    assert again.status_code == 500, again.text
    assert again.headers["content-type"].startswith(s.PROBLEM_MEDIA_TYPE)
    problem = again.json()
    assert problem["type"] == s.PROBLEM_BASE + "history-corrupt"
    assert "past its stored head" not in problem["detail"]  # the specifics are for operators
    assert str(tmp_path) not in again.text
    assert "past its stored head" in caplog.text
