"""R4 (issue 6): schemathesis generates requests from the live OpenAPI document of a running
`dialoog serve` (PostgreSQL) and sends them with a valid token (a contract manager of the
commissioner): never a 5xx, and every error is an RFC 9457 problem+json with type, title,
status and detail.

Path ids are real about half the time (a seeded active contract, its open proposal and an agreed
indicator), so generated bodies reach the rules of the contract and not only "no such contract".
Every operation is fuzzed in schemathesis' positive mode (valid by the schema) and, where the
schema allows it, negative mode (invalid on purpose). The ≥ 1,000-request run (about two
minutes on two cores) is part of `make test`; a ≥ 3,000-request run is marked `soak`
(`make soak`)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support import api as s
from tests.support.servers import Server, served

PROBLEM_KEYS = ("type", "title", "status", "detail")


def _seed(server: Server) -> dict[str, str]:
    """Real ids: an active contract with a session, an open proposal and an agreed indicator."""
    with server.client() as client:
        contract = s.active_contract(client, "R4-SEED")
        indicator_id = s.agreed_indicator(client, contract)
        proposal = s.propose(client, contract, "goal", s.goal_add("vision", "Seeded goal"))
    return {
        "contractId": contract.id,
        "proposalId": proposal["proposalId"],
        "indicatorId": indicator_id,
    }


def _strategies(operation: Any, real: dict[str, str]) -> list[Any]:
    names = {p.name for p in operation.path_parameters}
    fixed = {name: real[name] for name in names if name in real}
    found = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            generated = operation.as_strategy(generation_mode=mode)
            if fixed and mode is GenerationMode.POSITIVE:
                generated = st.one_of(
                    operation.as_strategy(generation_mode=mode, path_parameters=fixed), generated
                )
            found.append(generated)
        except Exception as error:  # a schema that has no invalid form for this mode
            print(f"R4: {operation.label} has no {mode.value} strategy: {error}")
    return found


def _check(case: Any, response: Any, failures: list[str]) -> None:
    where = f"{case.method} {case.formatted_path} {case.query or ''} → {response.status_code}"
    if response.status_code >= 500:
        failures.append(f"{where}: {response.text[:300]}")
        return
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith(s.PROBLEM_MEDIA_TYPE):
        failures.append(f"{where}: content-type {content_type!r}")
        return
    body = response.json()
    missing = [key for key in PROBLEM_KEYS if not body.get(key)]
    if missing or body.get("status") != response.status_code:
        failures.append(f"{where}: not a complete problem: {body}")


@pytest.mark.parametrize(
    ("examples", "goal"),
    [
        # At 30 examples per operation and mode the bound below (3 × 1,000 requests) is reached
        # before the last operations of the document, which only `make soak` fuzzes: at 15, all
        # 63 are reached (1,890 requests) but the run doubles, the dossier PDF being among them.
        pytest.param(30, 1000, id="1000"),  # ~2 min: part of `make test`
        pytest.param(120, 3000, id="soak", marks=pytest.mark.soak),  # ~2 min: `make soak`
    ],
)
def test_r4_generated_requests_never_5xx_and_errors_are_problems(
    postgres_database_url: str, tmp_path: Path, examples: int, goal: int
) -> None:
    with served(postgres_database_url, tmp_path) as server:
        real = _seed(server)
        schema = schemathesis.openapi.from_url(f"{server.base_url}/api/v1/openapi.json")
        base_url = f"{server.base_url}/api/v1"
        auth = s.commissioner()
        statuses: Counter[int] = Counter()
        failures: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 20, "the document lists every operation"
        started = time.monotonic()
        for operation in operations:
            for strategy in _strategies(operation, real):

                @settings(
                    max_examples=examples,
                    derandomize=True,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def send(case: Any) -> None:
                    if sum(statuses.values()) >= goal * 3:  # a bound on the whole run
                        return
                    case.headers = {**(case.headers or {}), **auth}  # always a valid token
                    try:
                        response = case.call(base_url=base_url, timeout=30)
                    except Exception as error:  # e.g. a header value requests refuses to send
                        if isinstance(error, httpx.TimeoutException | TimeoutError):
                            raise
                        return
                    statuses[response.status_code] += 1
                    _check(case, response, failures)

                send()
        elapsed = time.monotonic() - started
        total = sum(statuses.values())
        print(
            f"R4: {total} requests in {elapsed:.1f} s over {len(operations)} operations: "
            f"{dict(sorted(statuses.items()))}"
        )
        assert not failures, (
            f"{len(failures)} bad answers:\n" + "\n".join(failures[:20]) + "\n" + server.log_tail()
        )
        assert total >= goal, f"only {total} requests were generated"
        assert any(200 <= status < 300 for status in statuses), "no request succeeded"


# --------------------------------------------------------------------------- what R4 found
# Two 500s the generated requests found, pinned down as plain requests.


def test_a_nul_character_in_a_title_does_not_break_the_contract_list(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """Refusing the text (400) is fine; storing it and then failing every later list is not."""
    with served(postgres_database_url, tmp_path) as server, server.client() as client:
        s.open_contract(client, "R4-BEFORE")
        opened = client.post(
            f"{s.API}/contracts",
            headers=s.commissioner(),
            json=s.contract_body("R4-NUL", title="Wijkteams\u0000Noord"),
        )
        assert opened.status_code in (201, 400), opened.text
        listed = client.get(f"{s.API}/contracts", headers=s.commissioner())
        assert listed.status_code == 200, listed.text
        assert "R4-BEFORE" in {item["reference"] for item in listed.json()["items"]}


def test_an_indicator_version_beyond_json_integers_is_a_400_not_a_500(
    postgres_database_url: str, tmp_path: Path
) -> None:
    with served(postgres_database_url, tmp_path) as server, server.client() as client:
        contract = s.active_contract(client, "R4-BIG-INT")
        indicator_id = s.agreed_indicator(client, contract)
        response = client.post(
            contract.url(f"/indicators/{indicator_id}/measurements"),
            headers=s.commissioner(),
            json={**s.measurement_body(), "indicatorVersion": 2**60},
        )
        assert response.status_code < 500, response.text
        s.assert_problem(response, response.status_code)


def test_a_nul_character_in_the_list_search_is_a_400_not_a_500(
    postgres_database_url: str, tmp_path: Path
) -> None:
    with served(postgres_database_url, tmp_path) as server, server.client() as client:
        s.open_contract(client, "R4-SEARCH")
        response = client.get(
            f"{s.API}/contracts", headers=s.commissioner(), params={"q": "Wijk\u0000teams"}
        )
        assert response.status_code < 500, response.text
        s.assert_problem(response, response.status_code)
