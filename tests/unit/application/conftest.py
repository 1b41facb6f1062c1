"""Fixtures of the use-case tests: a service on the library's in-memory store, a contract in a
state where every command can run, and the checks every command owes its caller."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.service import ContractService
from tests.support.use_cases import Checks, World, build_world


@pytest.fixture
def service() -> Iterator[ContractService]:
    service = ContractService()  # the library's default: plain old Python objects, in memory
    yield service
    service.close()


@pytest.fixture
def world(service: ContractService) -> World:
    return build_world(service)


@pytest.fixture
def checks(world: World) -> Checks:
    return Checks(world)
