"""A snapshot is taken from the contract the command left in hand, not reloaded from the store
(ContractStore._take_snapshots), and holds exactly what replaying the stored events gives —
personal texts, money and proposals included — on every backend."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from application.commands import IssuePublication
from application.contract_store import replay
from application.rendering import contract_data
from application.snapshots import opened, unseal
from domain.contract import Contract
from infrastructure.settings import Settings
from tests.support.app import COMMISSIONER, active_contract, agree, indicator_addition, service_for


def _replayed(service: Any, contract_id: UUID, version: int) -> Any:
    with service.personal_data.reading(contract_id.hex):
        return replay(None, service.events.get(contract_id, lte=version))


def _snapshot(service: Any, contract_id: UUID, version: int) -> Any:
    with service.personal_data.reading(contract_id.hex):
        (snapshot,) = service.snapshots.get(contract_id, lte=version, desc=True, limit=1)
        assert snapshot.originator_version == version
        return snapshot.mutate(None)


def _opened(service: Any, row: Any) -> bytes:
    snapshots = service.snapshots
    state = unseal(
        snapshots._key, row.originator_id, row.originator_version, row.state, Contract.STATE_VERSION
    )
    assert state is not None
    return state


def _untimed(state: bytes) -> dict[str, Any]:
    fields = json.loads(state)
    assert fields.pop("timestamp")
    return dict(fields)


def test_snapshots_taken_in_hand_equal_the_replayed_history(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_for(settings.model_copy(update={"snapshot_interval": 5}))
    try:
        reloads: list[int] = []
        original = service.take_snapshot

        def counted(aggregate_id: UUID, version: int | None = None, **kwargs: Any) -> None:
            reloads.append(version or 0)
            original(aggregate_id, version, **kwargs)

        monkeypatch.setattr(service, "take_snapshot", counted)
        scene = active_contract(service)  # v5: a session with two participants' names
        agree(service, scene, indicator_addition())
        head = service.get_contract(COMMISSIONER, scene.contract_id).version
        for n in range(15 - head):
            service.handle(
                COMMISSIONER,
                IssuePublication(scene.contract_id, audience="raad", channel="web", summary=f"{n}"),
            )
        contract_id = UUID(scene.contract_id)
        for version in (5, 10, 15):
            taken = _snapshot(service, contract_id, version)
            replayed = _replayed(service, contract_id, version)
            assert taken.version == replayed.version == version
            assert contract_data(taken) == contract_data(replayed)
            # Byte for byte what a snapshot reloaded from the store would hold.
            with service.personal_data.reading(contract_id.hex):
                stored = service.snapshots.recorder.select_events(
                    contract_id, lte=version, desc=True, limit=1
                )[0]
                again = service.mapper.to_stored_event(type(replayed).Snapshot.take(replayed))
            assert stored.originator_version == again.originator_version == version
            # (but the moment each was taken)
            assert _untimed(_opened(service, stored)) == _untimed(again.state)
            # The seal names the chain's digest at that version (read without the state).
            found = opened(
                service.snapshots._key, stored.originator_id, version, stored.state,
                Contract.STATE_VERSION,
            )  # fmt: skip
            assert found is not None and found[0] == replayed.head_digest
        assert "Ann" in str(contract_data(_snapshot(service, contract_id, 5)).sessions)
        assert reloads == [], "every snapshot here was taken from the contract in hand"
    finally:
        service.close()
