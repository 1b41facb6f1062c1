"""Measurement batches (issue 14, point 3): up to 1,000 measurements of agreed indicators in one
all-or-nothing command; a 400 naming every bad row, and nothing recorded."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support import api as s


def _row(indicator_id: str, end: str = "2025-03-31", **fields: Any) -> dict[str, Any]:
    return {**s.measurement_body(end=end), "indicatorId": indicator_id, **fields}


def test_a_batch_is_recorded_at_once(client: TestClient, active: s.ActiveContract) -> None:
    indicator_id = s.agreed_indicator(client, active)
    before = s.read_contract(client, active)
    rows = [_row(indicator_id, end) for end in ("2025-03-31", "2025-06-30", "2025-09-30")]
    response = client.post(
        active.url("/measurement-batches"), headers=s.provider_a(), json={"measurements": rows}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["count"] == 3
    assert [m["period"]["end"] for m in body["measurements"]] == [
        "2025-03-31",
        "2025-06-30",
        "2025-09-30",
    ]
    after = s.read_contract(client, active)
    assert after["version"] == before["version"] + 3
    assert after["counts"]["measurements"] == before["counts"]["measurements"] + 3
    assert len(s.read_records(client, active, "measurements")) == after["counts"]["measurements"]


def test_a_batch_with_bad_rows_names_each_and_records_nothing(
    client: TestClient, active: s.ActiveContract
) -> None:
    indicator_id = s.agreed_indicator(client, active)
    before = s.read_contract(client, active)
    rows = [
        _row(indicator_id),
        _row("no-such-indicator"),
        _row(indicator_id, end="2099-12-31"),
        _row(indicator_id, indicatorVersion=7),
    ]
    response = client.post(
        active.url("/measurement-batches"), headers=s.provider_a(), json={"measurements": rows}
    )
    problem = s.assert_problem(response, 400, "invalid-batch")
    names = [p["name"] for p in problem["invalidParams"]]
    assert names == ["measurements[1]", "measurements[2].period.end", "measurements[3]"]
    assert "3 of 4 rows" in problem["detail"]
    assert s.read_contract(client, active)["version"] == before["version"]


def test_a_batch_is_bounded(client: TestClient, active: s.ActiveContract) -> None:
    indicator_id = s.agreed_indicator(client, active)
    too_many = {"measurements": [_row(indicator_id)] * 1001}
    response = client.post(
        active.url("/measurement-batches"), headers=s.provider_a(), json=too_many
    )
    s.assert_problem(response, 400, "invalid-request")
    empty = client.post(
        active.url("/measurement-batches"), headers=s.provider_a(), json={"measurements": []}
    )
    s.assert_problem(empty, 400, "invalid-request")
