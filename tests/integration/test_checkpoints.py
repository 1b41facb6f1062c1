"""Signed checkpoints on every store: signed at most every interval when the log grew, on
demand, and never one the last signed checkpoint is not a prefix of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.checkpoints import Checkpointer, LogInconsistent, open_note, parse_checkpoint
from application.commands import IssuePublication
from infrastructure.log_key import log_signer
from infrastructure.settings import Settings
from tests.support.app import COMMISSIONER, active_contract, service_for


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _publish(service, contract_id: str) -> None:
    service.handle(
        COMMISSIONER,
        IssuePublication(contract_id, audience="council", channel="website", summary="Verslag"),
    )


def test_checkpoints_follow_the_interval_and_open_with_the_published_key(
    settings: Settings,
) -> None:
    service = service_for(settings)
    clock = Clock()
    try:
        scene = active_contract(service)
        signer = log_signer(settings)
        checkpoints = Checkpointer(
            service.recorder, signer, origin=settings.log_origin, interval=60, clock=clock
        )
        first = checkpoints.current()
        assert first.tree_size == 5
        _publish(service, scene.contract_id)
        assert checkpoints.current() == first  # grew, but within the interval
        clock.now += timedelta(seconds=61)
        second = checkpoints.current()
        assert second.tree_size == 6
        assert checkpoints.current() == second  # older than the interval, but no growth
        on_demand = checkpoints.sign_now()
        assert on_demand == second
        text = open_note(second.note, checkpoints.vkey)
        assert parse_checkpoint(text).root_hash == service.merkle_log().root(6)
        assert [c.tree_size for c in service.recorder.log_checkpoints(before=None, limit=9)] == [
            6,
            5,
        ]
    finally:
        service.close()


def test_the_key_file_is_generated_private_and_kept(tmp_path) -> None:
    settings = Settings(database_url="memory://", data_dir=tmp_path / "data")
    first = log_signer(settings)
    path = settings.data_dir / "log-signing-key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().startswith("PRIVATE+KEY+dialoog.localhost/log+")
    assert log_signer(settings).public_key == first.public_key


class Rewritten:
    """The stored log as an attacker left it: every node covering leaf 0 replaced (a consistent
    rewrite of the first event), or the last leaves cut off."""

    def __init__(self, store, *, truncate_to: int | None = None) -> None:
        self.store, self.truncate_to = store, truncate_to

    def __getattr__(self, name):
        return getattr(self.store, name)

    def log_size(self) -> int:
        size = self.store.log_size()
        return size if self.truncate_to is None else self.truncate_to

    def log_nodes(self, keys):
        nodes = self.store.log_nodes(keys)
        if self.truncate_to is None:
            for level, index in nodes:
                if index == 0:
                    nodes[(level, index)] = bytes(32)
        return nodes


@pytest.mark.parametrize("attack", ["rewrite", "truncate"])
def test_no_checkpoint_is_signed_over_a_rewritten_or_truncated_log(
    settings: Settings, attack: str
) -> None:
    service = service_for(settings)
    try:
        scene = active_contract(service)
        signer = log_signer(settings)
        honest = Checkpointer(service.recorder, signer, origin=settings.log_origin, interval=0)
        signed = honest.sign_now()
        _publish(service, scene.contract_id)
        store = Rewritten(service.recorder, truncate_to=3 if attack == "truncate" else None)
        tampered = Checkpointer(store, signer, origin=settings.log_origin, interval=0)
        expected = "rewritten" if attack == "rewrite" else "truncated"
        with pytest.raises(LogInconsistent, match=expected):
            tampered.sign_now()
        assert honest.latest() == signed  # nothing was signed
        assert honest.sign_now().tree_size == 6  # the untouched log still extends it
    finally:
        service.close()


def test_a_witness_co_signature_is_refused_when_the_log_no_longer_extends_its_last(
    settings: Settings,
) -> None:
    from application.witnesses import CosignatureRefused, Witnesses
    from tests.api.test_witnesses import WitnessKey
    from tests.support.people import CARLA

    auditor = CARLA.principal  # an auditor of the commissioning organisation, as the witness
    service = service_for(settings)
    try:
        scene = active_contract(service)
        signer = log_signer(settings)
        honest = Checkpointer(service.recorder, signer, origin=settings.log_origin, interval=0)
        witnesses = Witnesses(service.recorder, honest)
        key = WitnessKey()
        witness = witnesses.register(auditor, key.vkey)
        witnesses.approve(COMMISSIONER, witness.key_id, lambda: True)
        first = honest.sign_now()
        witnesses.cosign(auditor, first.tree_size, key.cosignature(first.note))
        _publish(service, scene.contract_id)
        second = honest.sign_now()
        tampered = Checkpointer(
            Rewritten(service.recorder), signer, origin=settings.log_origin, interval=0
        )
        with pytest.raises(CosignatureRefused, match="does not extend size 5"):
            Witnesses(service.recorder, tampered).cosign(
                auditor, second.tree_size, key.cosignature(second.note)
            )
        accepted = witnesses.cosign(auditor, second.tree_size, key.cosignature(second.note))
        assert open_note(accepted.note, key.vkey)
    finally:
        service.close()
