"""Issue 11, point 5: every contract-scoped endpoint decides visibility from a cheap read before
any work whose cost grows with the contract, so another organisation's 400-event contract costs
what a missing id costs (median of N requests each, interleaved, after a warm-up; the ratio of
the two medians within 2×). Both answers are the same 404 problem."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from application.commands import IssuePublication
from application.service import Principal
from infrastructure.settings import Settings
from tests.support import api as s

EVENTS = 420
ROUNDS = 15
MAX_RATIO = 2.0

#: Every contract-scoped operation, as (method, path under the contract, query or body).
ENDPOINTS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "", {}),
    ("GET", "?version=3", {}),
    ("GET", "/history", {}),
    ("GET", "/diff?from=1&to=400", {}),
    ("GET", "/verification", {}),
    ("GET", "/verification?snapshots=true", {}),
    ("GET", "/indicators", {}),
    ("GET", "/proposals/p-1", {}),
    ("POST", "/publications", {"audience": "council", "channel": "web", "summary": "x"}),
    ("POST", "/activation", {}),
]


@pytest.fixture(scope="module")
def big_contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    tmp = tmp_path_factory.mktemp("timing")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'dialoog.sqlite'}",
        data_dir=tmp,
        jwt_secret=s.JWT_SECRET,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        contract = s.active_contract(client).id
        service = client.app.state.services.contracts  # type: ignore[attr-defined]
        ann = Principal("ann", "Ann", s.COMMISSIONER_ORG, frozenset({"contract_manager"}))
        version = service.get_contract(ann, contract).version
        for n in range(EVENTS - version):
            service.handle(
                ann,
                IssuePublication(contract, audience="council", channel="web", summary=f"news {n}"),
            )
        yield client, contract


def _outsider() -> s.Headers:
    # An auditor and manager of an organisation that is party to nothing here.
    return s.token_for(s.OUTSIDER_ORG, "auditor", sub="otto")


def _timed(client: TestClient, method: str, url: str, body: dict[str, object]) -> float:
    headers = s.token_for(s.OUTSIDER_ORG, sub="otto") if method == "POST" else _outsider()
    started = time.perf_counter()
    response = client.request(method, url, headers=headers, json=body if method == "POST" else None)
    elapsed = time.perf_counter() - started
    assert response.status_code == 404, (url, response.status_code, response.text)
    return elapsed


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS)
def test_another_organisations_contract_costs_what_a_missing_one_costs(
    big_contract: tuple[TestClient, str], method: str, suffix: str, body: dict[str, object]
) -> None:
    client, contract = big_contract
    other = f"{s.API}/contracts/{contract}{suffix}"
    missing = f"{s.API}/contracts/{uuid4().hex}{suffix}"
    for _ in range(3):  # warm-up: caches, connections, code paths
        _timed(client, method, other, body)
        _timed(client, method, missing, body)
    theirs, nobodys = [], []
    for _ in range(ROUNDS):  # interleaved, so a busy moment hits both
        theirs.append(_timed(client, method, other, body))
        nobodys.append(_timed(client, method, missing, body))
    a, b = statistics.median(theirs), statistics.median(nobodys)
    print(f"{method} {suffix or '/'}: other {a * 1000:.2f} ms, missing {b * 1000:.2f} ms")
    assert max(a, b) <= MAX_RATIO * min(a, b), (a, b)
