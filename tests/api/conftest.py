"""Fixtures of the HTTP API tests: an app and TestClient per backend (memory, SQLite,
PostgreSQL; see tests/conftest.py), tokens for every role and organisation and the bad ones
(tests/support/api.py), and an active contract built through the API.

`raise_server_exceptions=False`: a server error reaches the test as the 500 a client would see,
so a status assertion names the bug instead of a traceback from inside the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.settings import Settings
from tests.support import api as s


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def active(client: TestClient) -> s.ActiveContract:
    """gemeente-utrecht's contract with zorg-a and zorg-b admitted, active, one session held."""
    return s.active_contract(client)


# Authorization headers, one fixture per party and per kind of bad token.
@pytest.fixture
def commissioner() -> s.Headers:
    return s.commissioner()


@pytest.fixture
def provider_a() -> s.Headers:
    return s.provider_a()


@pytest.fixture
def provider_b() -> s.Headers:
    return s.provider_b()


@pytest.fixture
def auditor() -> s.Headers:
    return s.auditor()


@pytest.fixture
def reader() -> s.Headers:
    return s.reader()


@pytest.fixture
def outsider() -> s.Headers:
    return s.outsider()


@pytest.fixture(params=sorted(s.BAD_CREDENTIALS))
def bad_credentials(request: pytest.FixtureRequest) -> s.Headers:
    make: Callable[[], s.Headers] = s.BAD_CREDENTIALS[request.param]
    return make()
