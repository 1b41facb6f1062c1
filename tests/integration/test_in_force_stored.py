"""The in-force property through the store (issue 10, point 2): random histories with random
effective dates are saved on memory, SQLite and PostgreSQL, read back as stored, and the
contract in force on every date the history names — as the service answers `inForceOn` —
satisfies the invariants the current state does."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application import time_travel
from domain.chain import sealing
from domain.contract import Contract
from domain.errors import DomainError
from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support.app import AUDITOR
from tests.support.builders import PROVIDER_A, Scene, opened
from tests.unit.application.test_in_force_on import _run, assert_could_exist, early_days, step


def test_stored_histories_in_force_on_every_date_could_exist(settings: Settings) -> None:
    service = contract_service(settings, with_read_models=False)
    try:

        @settings_for_backend
        @given(
            start=st.lists(early_days, min_size=4, max_size=4).map(sorted),
            steps=st.lists(step, min_size=5, max_size=25),
        )
        def check(start: list[date], steps: list[Any]) -> None:
            # The domain records personal texts sealed as the service would (their digests cover
            # the sealed form the store keeps).
            with sealing(service.personal_data):
                contract = _history(start, steps)
            service.save(contract)
            stored = list(service.events.get(contract.id))
            assert [e.originator_version for e in stored] == list(range(1, contract.version + 1))
            dates = sorted({e.effective_on for e in stored})
            for day in sorted({d + timedelta(days=k) for d in dates for k in (-1, 0)}):
                if day < dates[0]:
                    continue
                view = time_travel.in_force_on(stored, day)
                assert_could_exist(view)
            # The service's own answer for one of those dates, through visibility and rendering.
            answer = service.get_contract(AUDITOR, contract.id.hex, in_force_on=dates[-1])
            assert answer.version == contract.version

        check()
    finally:
        service.close()


def _history(start: list[date], steps: list[Any]) -> Contract:
    scene = Scene()
    opened()(scene)
    contract: Contract = scene.c
    beginning = [
        ("admit", PROVIDER_A.org, start[0]),
        ("accept", PROVIDER_A.org, start[1]),
        ("activate", None, start[2]),
        ("session", PROVIDER_A.org, start[3]),
    ]
    for kind, arg, day in beginning + steps:
        try:
            with contract.taking_effect_on(day):
                _run(contract, kind, arg, day)
        except DomainError:
            pass
    return contract


settings_for_backend = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
