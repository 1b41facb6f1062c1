"""Support for the use-case tests: the library's in-memory store, no database, no settings, no
server (fixtures in conftest.py).

`world` is an active contract with one dialogue session, an agreed indicator with one
measurement, two providers and an open proposal of the first provider — a state in which every
command on a contract can run. `case` checks what every command owes its caller: a refusal
stores nothing, a repeat under the same idempotency key is answered once, and a pinned version
that is no longer the latest is refused with nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from application.commands import (
    AcceptInvitation,
    AdmitProvider,
    CommandResult,
    ContractCommand,
    OpenContract,
    RecordMeasurement,
    SubmitProposal,
)
from application.errors import VersionMismatch
from application.principal import Principal
from application.service import ContractService
from application.views import View
from domain.proposals import ScopeRefinement
from domain.values import Period
from tests.support import people
from tests.support.app import COMMISSIONER, PROVIDER, active_contract, agree, indicator_addition

SECOND_PROVIDER = "zorg-b"


@dataclass
class World:
    service: ContractService
    contract_id: str
    session_id: str
    indicator_id: str
    measurement_version: int
    proposal_id: str

    @property
    def version(self) -> int:
        return self.service.get_contract(COMMISSIONER, self.contract_id).version


def build_world(service: ContractService) -> World:
    scene = active_contract(service)
    agree(service, scene, indicator_addition())
    contract = service.get_contract(COMMISSIONER, scene.contract_id)
    indicator_id = contract.indicators[0].indicator_id
    measured = service.handle(
        PROVIDER,
        RecordMeasurement(
            scene.contract_id,
            indicator_id=indicator_id,
            period=Period(date(2025, 1, 1), date(2025, 3, 31)),
            value=Decimal("6.5"),
            source="CBS",
        ),
    )
    service.handle(
        COMMISSIONER,
        AdmitProvider(scene.contract_id, org=SECOND_PROVIDER, name="Zorg B", rationale="reach"),
    )
    service.handle(people.BEA.principal, AcceptInvitation(scene.contract_id, org=people.BEA.org))
    proposal = service.handle(
        PROVIDER,
        SubmitProposal(
            scene.contract_id,
            session_id=scene.session_id,
            change=ScopeRefinement("Help residents live at home, evenings too"),
            rationale="residents asked",
        ),
    )
    assert proposal.created_id is not None
    return World(
        service,
        scene.contract_id,
        scene.session_id,
        indicator_id,
        measured.version,
        proposal.created_id,
    )


def stored(service: ContractService) -> list[tuple[int, str, int]]:
    """Everything in the store: every record of every aggregate, in order."""
    return [
        (n.id, str(n.originator_id), n.originator_version)
        for n in service.recorder.select_notifications(start=1, limit=100_000)
    ]


Make = Callable[[World], OpenContract | ContractCommand]


@dataclass(frozen=True)
class Case:
    """One command: who may carry it out and how, and a variant that breaks a rule."""

    id: str
    by: Principal
    make: Make
    view: View
    refused: Make
    refused_with: type[Exception]
    refused_by: Principal | None = None


class Checks:
    def __init__(self, world: World) -> None:
        self.world = world
        self.service = world.service

    def refusal_stores_nothing(self, case: Case) -> None:
        before = stored(self.service)
        with pytest.raises(case.refused_with):
            self.service.handle(case.refused_by or case.by, case.refused(self.world))
        assert stored(self.service) == before

    def repeat_is_answered_once(self, case: Case) -> None:
        command = case.make(self.world)
        first = self.service.handle(case.by, command, idempotency_key="k-1", view=case.view)
        after_first = stored(self.service)
        again = self.service.handle(case.by, command, idempotency_key="k-1", view=case.view)
        assert stored(self.service) == after_first
        assert again.replayed and not first.replayed
        assert (again.contract_id, again.version, again.created_id) == (
            first.contract_id,
            first.version,
            first.created_id,
        )
        assert again.view == first.view

    def stale_version_is_refused(self, case: Case) -> None:
        before, version = stored(self.service), self.world.version
        with pytest.raises(VersionMismatch) as refused:
            self.service.handle(case.by, case.make(self.world), expected_version=version - 1)
        assert (refused.value.expected, refused.value.actual) == (version - 1, version)
        assert stored(self.service) == before
        done = self.service.handle(case.by, case.make(self.world), expected_version=version)
        assert done.version > version


def run(world: World, case: Case, **options: Any) -> CommandResult:
    return world.service.handle(case.by, case.make(world), view=case.view, **options)
