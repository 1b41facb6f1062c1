"""Conditional GETs (issue 15): every representation a GET returns carries an ETag, and
`If-None-Match` naming it answers 304 without a body — until the representation changes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.conditional import body_etag, none_match
from tests.support import api as s
from tests.support.api import API, ActiveContract


def _reads(active: ActiveContract) -> list[tuple[str, dict[str, str]]]:
    return [
        (active.path, s.reader()),
        (f"{API}/contracts", s.reader()),
        (f"{API}/contracts?limit=1", s.commissioner()),
        (active.url("/indicators"), s.reader()),
        (active.url("/history"), s.auditor()),
        (active.url("/diff?from=1&to=2"), s.auditor()),
        (f"{API}/openapi.json", {}),
    ]


def test_every_read_carries_an_etag_and_a_matching_if_none_match_is_304(
    client: TestClient, active: ActiveContract
) -> None:
    for url, headers in _reads(active):
        first = client.get(url, headers=headers)
        assert first.status_code == 200, (url, first.text)
        etag = first.headers["etag"]
        again = client.get(url, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304, url
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert "content-type" not in again.headers
        assert again.headers["api-version"]  # the standard headers still come along
        weak_list = client.get(url, headers={**headers, "If-None-Match": f'"zz", W/{etag}'})
        assert weak_list.status_code == 304, url
        other = client.get(url, headers={**headers, "If-None-Match": '"something-else"'})
        assert other.status_code == 200
        assert other.content == first.content


def test_a_change_makes_the_old_etag_stale(client: TestClient, active: ActiveContract) -> None:
    urls = [active.path, f"{API}/contracts", active.url("/history")]
    before = {url: client.get(url, headers=s.auditor()).headers["etag"] for url in urls}
    changed = client.post(
        active.url("/stakeholders"),
        headers=s.commissioner(),
        json={"name": "Wijkraad", "kind": "residents"},
    )
    assert changed.status_code == 201, changed.text
    for url in urls:
        fresh = client.get(url, headers={**s.auditor(), "If-None-Match": before[url]})
        assert fresh.status_code == 200, url
        assert fresh.headers["etag"] != before[url]
        assert fresh.json()


def test_errors_carry_no_etag_and_ignore_if_none_match(
    client: TestClient, active: ActiveContract
) -> None:
    missing = client.get(
        f"{API}/contracts/{'0' * 32}", headers={**s.reader(), "If-None-Match": "*"}
    )
    s.assert_problem(missing, 404)
    assert "etag" not in missing.headers


@pytest.mark.parametrize(
    ("header", "matches"),
    [("*", True), ('"a"', True), ('W/"a"', True), ('"b", "a"', True), ('"b"', False), ("", False)],
)
def test_if_none_match_compares_weakly(header: str, matches: bool) -> None:
    assert none_match(header, '"a"') is matches


def test_body_etag_is_strong_and_follows_the_bytes() -> None:
    assert body_etag(b"x") == body_etag(b"x")
    assert body_etag(b"x") != body_etag(b"y")
    assert body_etag(b"x").startswith('"')


def test_a_time_travel_read_keeps_its_weak_etag_and_answers_304(
    client: TestClient, active: ActiveContract
) -> None:
    query = {"inForceOn": "2025-06-01"}
    first = client.get(active.path, headers=s.reader(), params=query)
    assert first.status_code == 200, first.text
    assert first.headers["etag"].startswith('W/"inForceOn=2025-06-01')
    again = client.get(
        active.path, headers={**s.reader(), "If-None-Match": first.headers["etag"]}, params=query
    )
    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]
    assert again.content == b""
