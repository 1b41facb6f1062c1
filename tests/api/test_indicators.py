"""Indicators router over HTTP: measurements and the dashboard with `onTrack`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import api as s
from tests.support.api import ActiveContract


def test_dashboard_is_empty_before_any_indicator(
    client: TestClient, active: ActiveContract
) -> None:
    response = client.get(active.url("/indicators"), headers=s.reader())
    assert response.status_code == 200
    assert response.json() == {"items": []}
    assert response.headers["etag"] == '"7"'


def test_measurement_is_recorded(client: TestClient, active: ActiveContract) -> None:
    indicator_id = s.agreed_indicator(client, active)
    response = client.post(
        active.url(f"/indicators/{indicator_id}/measurements"),
        headers=s.provider_a(),
        json=s.measurement_body("75.5"),
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "measurementId": body["measurementId"],
        "indicatorId": indicator_id,
        "indicatorVersion": 1,
        "period": {"start": "2025-01-01", "end": "2025-03-31"},
        "value": "75.5",
        "source": "Registry",
    }
    assert s.read_records(client, active, "measurements") == [body]
    (indicator,) = s.read_contract(client, active)["indicators"]
    assert indicator["latestMeasurement"] == body


def test_the_body_carries_each_indicators_latest_period(
    client: TestClient, active: ActiveContract
) -> None:
    indicator_id = s.agreed_indicator(client, active)
    url = active.url(f"/indicators/{indicator_id}/measurements")
    recorded = {}
    for value, end in (("70", "2025-06-30"), ("80", "2025-12-31"), ("75", "2025-09-30")):
        response = client.post(url, headers=s.provider_a(), json=s.measurement_body(value, end))
        assert response.status_code == 201, response.text
        recorded[end] = response.json()
    body = s.read_contract(client, active)
    (indicator,) = body["indicators"]
    assert (
        indicator["latestMeasurement"] == recorded["2025-12-31"]
    )  # the latest period, not the last recorded
    assert body["counts"]["measurements"] == 3


def test_dashboard_on_track_and_off_track(client: TestClient, active: ActiveContract) -> None:
    # Baseline 60 on 2024-12-31, target 90 on 2026-12-31: the line is at 75 on 2025-12-31.
    indicator_id = s.agreed_indicator(client, active)
    dashboard = client.get(active.url("/indicators"), headers=s.reader()).json()
    (row,) = dashboard["items"]
    assert row == {
        "indicatorId": indicator_id,
        "name": "Residents helped within two weeks",
        "version": 1,
        "unit": "%",
        "direction": "higher_is_better",
        "status": "active",
        "baseline": {"value": "60", "measuredOn": "2024-12-31"},
        "target": {"value": "90", "dueOn": "2026-12-31"},
        "latest": None,
        "onTrack": None,
    }
    url = active.url(f"/indicators/{indicator_id}/measurements")
    low = client.post(url, headers=s.provider_a(), json=s.measurement_body("70", "2025-12-31"))
    assert low.status_code == 201
    (row,) = client.get(active.url("/indicators"), headers=s.reader()).json()["items"]
    assert row["latest"] == {"value": "70", "periodEnd": "2025-12-31"}
    assert row["onTrack"] is False
    high = client.post(url, headers=s.provider_b(), json=s.measurement_body("80", "2026-03-31"))
    assert high.status_code == 201
    (row,) = client.get(active.url("/indicators"), headers=s.reader()).json()["items"]
    assert row["latest"] == {"value": "80", "periodEnd": "2026-03-31"}
    assert row["onTrack"] is True


def test_lower_is_better_indicator(client: TestClient, active: ActiveContract) -> None:
    change = s.indicator_add("Waiting days")
    change["direction"] = "lower_is_better"
    change["baseline"] = {"value": "30", "measuredOn": "2024-12-31", "source": "Monitor"}
    change["target"] = {"value": "10", "dueOn": "2026-12-31"}
    indicator_id = s.agree(client, active, "indicator", change)["createdIds"]["indicatorId"]
    url = active.url(f"/indicators/{indicator_id}/measurements")
    assert client.post(url, headers=s.commissioner(), json=s.measurement_body("15", "2025-12-31"))
    (row,) = client.get(active.url("/indicators"), headers=s.reader()).json()["items"]
    assert row["direction"] == "lower_is_better"
    assert row["onTrack"] is True


def test_revised_indicator_takes_a_new_version(client: TestClient, active: ActiveContract) -> None:
    indicator_id = s.agreed_indicator(client, active)
    s.agree(
        client,
        active,
        "indicator",
        {
            "action": "revise",
            "indicatorId": indicator_id,
            "target": {"value": "95", "dueOn": "2027-12-31"},
            "effectiveOn": "2025-01-01",
        },
    )
    (row,) = client.get(active.url("/indicators"), headers=s.reader()).json()["items"]
    assert row["version"] == 2
    assert row["target"] == {"value": "95", "dueOn": "2027-12-31"}
    response = client.post(
        active.url(f"/indicators/{indicator_id}/measurements"),
        headers=s.provider_a(),
        json={**s.measurement_body(), "indicatorVersion": 2},
    )
    assert response.status_code == 201
    assert response.json()["indicatorVersion"] == 2
