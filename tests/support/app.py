"""Service helpers of the application tests (tests/integration/, tests/unit/application/).

Principals of two organisations' contract managers, an auditor, a reader and an outsider (from
the one cast, tests/support/people.py); a service built from a test's `Settings`; a contract
opened, with a provider, active and with one dialogue session held; and raw access to the
stored events (`dialoog_events`) on SQLite and PostgreSQL for the tampering and upcasting tests.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import rfc8785

from application.commands import (
    AcceptInvitation,
    ActivateContract,
    AdmitProvider,
    GiveConsent,
    HoldSession,
    OpenContract,
    SubmitProposal,
)
from application.service import ContractService, Principal
from domain.goals import ChangeAction
from domain.indicators import Baseline, Direction, IndicatorChange, Target
from domain.values import Participant
from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support import people
from tests.support.builders import BUDGET_PERIOD, CEILING, SESSION_DAY, TERM

COMMISSIONER = people.ANN.principal
PROVIDER = people.BOB.principal
AUDITOR = people.CARLA.principal
READER = people.RIK.principal
OUTSIDER = people.FRANK.principal
OTHER_COMMISSIONER = people.GERT.principal


def service_for(settings: Settings, *, read_models: bool = False) -> ContractService:
    return contract_service(settings, with_read_models=read_models)


def open_contract(
    service: ContractService,
    reference: str = "WMO-2025-01",
    *,
    principal: Principal = COMMISSIONER,
    **options: Any,
) -> str:
    result = service.handle(
        principal,
        OpenContract(
            reference=reference,
            title="Wijkteams Utrecht",
            assignment="Help residents live at home",
            procedure="dialogue",
            term=TERM,
            ceiling=CEILING,
            budget_period=BUDGET_PERIOD,
        ),
        **options,
    )
    assert result.version == 1
    return result.contract_id


@dataclass
class Scene:
    contract_id: str
    session_id: str


def active_contract(service: ContractService, reference: str = "WMO-2025-01") -> Scene:
    """Opened (v1), provider invited (v2) and accepting (v3), activated (v4), one session
    held (v5)."""
    contract_id = open_contract(service, reference)
    service.handle(
        COMMISSIONER,
        AdmitProvider(
            contract_id, org="zorg-a", name="Zorg A", rationale="fit", effective_on=TERM.start
        ),
    )
    service.handle(
        PROVIDER, AcceptInvitation(contract_id, org=PROVIDER.org, effective_on=TERM.start)
    )
    service.handle(COMMISSIONER, ActivateContract(contract_id, effective_on=TERM.start))
    session = service.handle(
        COMMISSIONER,
        HoldSession(
            contract_id,
            held_on=SESSION_DAY,
            kind="dialogue",
            participants=(
                Participant(people.ANN.name, people.ANN.org, "contract manager"),
                Participant(people.BOB.name, people.BOB.org, "contract manager"),
            ),
            minutes_ref="MIN-1",
            summary="first dialogue",
        ),
    )
    assert session.version == 5 and session.created_id
    return Scene(contract_id, session.created_id)


def indicator_addition(name: str = "Terugval", target: str = "5") -> IndicatorChange:
    return IndicatorChange(
        action=ChangeAction.ADD,
        name=name,
        definition="Share of residents back in care within a year",
        unit="%",
        direction=Direction.LOWER_IS_BETTER,
        baseline=Baseline(Decimal("7"), date(2025, 1, 1), "CBS"),
        target=Target(Decimal(target), date(2026, 12, 31)),
        frequency="quarterly",
        data_source="CBS",
        effective_on=TERM.start,
    )


def agree(service: ContractService, scene: Scene, change: Any, rationale: str = "why") -> str:
    """Submitted by the provider, consented by the commissioner: agreed."""
    proposal_id = service.handle(
        PROVIDER,
        SubmitProposal(
            scene.contract_id, session_id=scene.session_id, change=change, rationale=rationale
        ),
    ).created_id
    assert proposal_id is not None
    service.handle(COMMISSIONER, GiveConsent(scene.contract_id, proposal_id=proposal_id))
    return proposal_id


def all_versions(service: ContractService, contract_id: str) -> list[int]:
    """Every stored version of the contract, read back through history pages."""
    versions: list[int] = []
    after = 0
    while True:
        page = service.history(AUDITOR, contract_id, after=after, limit=40)
        versions.extend(item.version for item in page.items)
        if page.next_cursor is None:
            return versions
        after = page.next_cursor


# Raw access to the stored events -------------------------------------------------------------


class RawEvents:
    """The `dialoog_events` rows of one contract, read and rewritten behind the service's back."""

    def __init__(self, settings: Settings, contract_id: str) -> None:
        self.database = settings.database
        self.kind = self.database.kind
        self.uuid = UUID(hex=contract_id)

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self.kind == "sqlite":
            sqlite = sqlite3.connect(str(self.database.path))
            try:
                yield sqlite
                sqlite.commit()
            finally:
                sqlite.close()
        else:
            import psycopg

            with psycopg.connect(
                host=self.database.host,
                port=self.database.port,
                dbname=self.database.dbname,
                user=self.database.user,
                password=self.database.password,
                autocommit=True,
                connect_timeout=5,
            ) as connection:
                yield connection

    def _id(self) -> Any:
        return self.uuid.hex if self.kind == "sqlite" else self.uuid

    def _sql(self, text: str) -> str:
        # The library names the table after the application on PostgreSQL only.
        if self.kind == "sqlite":
            return text.replace("dialoog_events", "stored_events")
        return text.replace("?", "%s")

    def rows(self) -> list[tuple[int, str, bytes]]:
        with self._cursor() as db:
            found = db.execute(
                self._sql(
                    "SELECT originator_version, topic, state FROM dialoog_events "
                    "WHERE originator_id = ? ORDER BY originator_version"
                ),
                (self._id(),),
            ).fetchall()
        return [(int(v), str(t), bytes(s)) for v, t, s in found]

    def state(self, version: int) -> dict[str, Any]:
        for v, _, state in self.rows():
            if v == version:
                loaded: dict[str, Any] = json.loads(state)
                return loaded
        raise KeyError(version)

    def set_state(self, version: int, state: dict[str, Any] | bytes) -> None:
        # A careful forger writes canonical bytes, as the service does.
        raw = state if isinstance(state, bytes) else rfc8785.dumps(state)
        with self._cursor() as db:
            changed = db.execute(
                self._sql(
                    "UPDATE dialoog_events SET state = ? "
                    "WHERE originator_id = ? AND originator_version = ?"
                ),
                (raw, self._id(), version),
            ).rowcount
        assert changed == 1

    def delete(self, version: int) -> None:
        with self._cursor() as db:
            changed = db.execute(
                self._sql(
                    "DELETE FROM dialoog_events WHERE originator_id = ? AND originator_version = ?"
                ),
                (self._id(), version),
            ).rowcount
        assert changed == 1

    def insert(self, version: int, topic: str, state: dict[str, Any]) -> None:
        with self._cursor() as db:
            db.execute(
                self._sql(
                    "INSERT INTO dialoog_events (originator_id, originator_version, topic, state) "
                    "VALUES (?, ?, ?, ?)"
                ),
                (self._id(), version, topic, rfc8785.dumps(state)),
            )
