"""One visibility rule everywhere, and one damaged contract does not take the list down."""

from __future__ import annotations

import pytest

from application.commands import AcceptInvitation, AdmitProvider, IssuePublication, WithdrawProvider
from application.errors import ContractNotFound
from application.read_models import SummaryFilter
from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support import people
from tests.support.app import AUDITOR, COMMISSIONER, PROVIDER, RawEvents, active_contract


def test_a_provider_that_withdrew_no_longer_sees_the_contract(settings: Settings) -> None:
    service = contract_service(settings)
    try:
        scene = active_contract(service)
        service.handle(
            COMMISSIONER, AdmitProvider(scene.contract_id, org="zorg-b", name="B", rationale="r")
        )
        service.handle(people.BEA.principal, AcceptInvitation(scene.contract_id, org="zorg-b"))
        assert service.list_contracts(PROVIDER, SummaryFilter())
        service.handle(
            PROVIDER, WithdrawProvider(scene.contract_id, org="zorg-a", reason="stopping")
        )
        assert service.list_contracts(PROVIDER, SummaryFilter()) == []
        with pytest.raises(ContractNotFound):
            service.get_contract(PROVIDER, scene.contract_id)
        with pytest.raises(ContractNotFound):
            service.verify(PROVIDER, scene.contract_id)
    finally:
        service.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_contract_whose_history_no_longer_replays_is_left_out_of_the_list(
    settings: Settings,
) -> None:
    service = contract_service(settings)
    try:
        damaged = active_contract(service, "WMO-DAMAGED")
        healthy = active_contract(service, "WMO-HEALTHY")
        RawEvents(settings, damaged.contract_id).delete(2)
        service.handle(
            COMMISSIONER,
            IssuePublication(healthy.contract_id, audience="raad", channel="brief", summary="news"),
        )
        reopened = contract_service(settings)  # a fresh process rebuilds from the log
        try:
            reopened.rebuild_read_models()
            listed = {s.reference for s in reopened.list_contracts(AUDITOR, SummaryFilter())}
            assert listed == {"WMO-HEALTHY"}
            assert not reopened.verify(AUDITOR, damaged.contract_id).valid
        finally:
            reopened.close()
    finally:
        service.close()
