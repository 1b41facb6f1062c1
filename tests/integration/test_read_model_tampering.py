"""Read models are checked against the chain (issue 12, point 3): a read-model row edited,
added or deleted, or the position moved, behind the service's back — each is named by
`dialoog projections verify` (the application's `verify_read_models`), and the contract list
never shows a row that does not stand on its contract's history."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from application.read_models import SummaryFilter
from application.service import ContractService
from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support.app import COMMISSIONER, OTHER_COMMISSIONER, PROVIDER, RawEvents, active_contract

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def story(settings: Settings) -> Iterator[tuple[ContractService, RawEvents, str]]:
    service = contract_service(settings)
    scene = active_contract(service)
    service.list_contracts(COMMISSIONER, SummaryFilter())  # the read models caught up
    assert service.verify_read_models() == []
    yield service, RawEvents(settings, scene.contract_id), scene.contract_id
    service.close()


def _listed(service: ContractService) -> list[str]:
    return [row.contract_id for row in service.list_contracts(PROVIDER, SummaryFilter())]


def _execute(raw: RawEvents, statement: str, *parameters: Any) -> None:
    with raw._cursor() as db:
        db.execute(raw._sql(statement), parameters)


def _edit_status(raw: RawEvents, contract_id: str) -> None:
    _execute(
        raw,
        "UPDATE dialoog_rm_summaries SET status = 'completed' WHERE contract_id = ?",
        contract_id,
    )


def _extra_party(raw: RawEvents, contract_id: str) -> None:
    _execute(
        raw,
        "INSERT INTO dialoog_rm_parties (contract_id, role, ordinal, org) VALUES (?, ?, ?, ?)",
        contract_id,
        "provider",
        9,
        OTHER_COMMISSIONER.org,
    )


def _move_version(raw: RawEvents, contract_id: str) -> None:
    _execute(raw, "UPDATE dialoog_rm_summaries SET version = 99 WHERE contract_id = ?", contract_id)


def _delete_row(raw: RawEvents, contract_id: str) -> None:
    _execute(raw, "DELETE FROM dialoog_rm_summaries WHERE contract_id = ?", contract_id)


def _delete_indicators(raw: RawEvents, contract_id: str) -> None:
    _execute(raw, "DELETE FROM dialoog_rm_indicators WHERE contract_id = ?", contract_id)


TAMPERING: dict[str, tuple[Callable[[RawEvents, str], None], str]] = {
    "status edited": (_edit_status, "summary status is 'completed', the events say 'active'"),
    "party added": (_extra_party, "summary providers"),
    "version moved ahead": (_move_version, "summary version is 99"),
    "row deleted": (_delete_row, "no summary row"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
def test_a_tampered_read_model_is_named(
    story: tuple[ContractService, RawEvents, str], tampering: str
) -> None:
    service, raw, contract_id = story
    tamper, named = TAMPERING[tampering]
    tamper(raw, contract_id)
    differences = service.verify_read_models()
    assert any(contract_id in d and named in d for d in differences), differences


def test_a_row_for_no_contract_is_named_and_never_listed(
    story: tuple[ContractService, RawEvents, str],
) -> None:
    service, raw, _ = story
    forged = "f" * 32
    _execute(
        raw,
        "INSERT INTO dialoog_rm_summaries (contract_id, reference, title, status, commissioner, "
        "version, updated_at, head_digest, reference_folded, title_folded) "
        "VALUES (?, 'ZZ-1', 'Vals', 'active', ?, 3, '2025-01-01T00:00:00+00:00', ?, 'zz-1', "
        "'vals')",
        forged,
        COMMISSIONER.org,
        "0" * 64,
    )
    _execute(
        raw,
        "INSERT INTO dialoog_rm_parties (contract_id, role, ordinal, org) VALUES (?, ?, ?, ?)",
        forged,
        "commissioner",
        0,
        COMMISSIONER.org,
    )
    assert f"{forged}: a summary row with no contract behind it" in service.verify_read_models()
    listed = [row.contract_id for row in service.list_contracts(COMMISSIONER, SummaryFilter())]
    assert forged not in listed


def test_a_row_ahead_of_its_history_or_off_its_chain_is_never_listed(
    story: tuple[ContractService, RawEvents, str],
) -> None:
    service, raw, contract_id = story
    _move_version(raw, contract_id)
    assert contract_id not in [
        r.contract_id for r in service.list_contracts(PROVIDER, SummaryFilter())
    ]
    _execute(
        raw,
        "UPDATE dialoog_rm_summaries SET version = 5, head_digest = ? WHERE contract_id = ?",
        "1" * 64,
        contract_id,
    )
    assert contract_id not in [
        r.contract_id for r in service.list_contracts(PROVIDER, SummaryFilter())
    ]


def test_a_moved_position_leaves_rows_behind_the_events_and_is_named(
    story: tuple[ContractService, RawEvents, str], settings: Settings
) -> None:
    """Someone moves the position past events not yet folded in: the rows never catch up with
    them, and the verification names the contract whose rows lag."""
    service, raw, contract_id = story
    from application.commands import IssuePublication

    _execute(raw, "UPDATE dialoog_rm_position SET position = position + 1000")
    service.handle(
        COMMISSIONER,
        IssuePublication(contract_id, audience="raad", channel="brief", summary="voortgang"),
    )
    differences = service.verify_read_models()
    assert any(contract_id in d and "summary version" in d for d in differences), differences


def test_deleted_dashboard_rows_are_named(story: tuple[ContractService, RawEvents, str]) -> None:
    service, raw, contract_id = story
    from application.commands import GiveConsent, SubmitProposal
    from tests.support.app import indicator_addition

    scene_session = service.get_contract(COMMISSIONER, contract_id).sessions[0].session_id
    proposal = service.handle(
        PROVIDER,
        SubmitProposal(
            contract_id, session_id=scene_session, change=indicator_addition(), rationale="kpi"
        ),
    ).created_id
    service.handle(COMMISSIONER, GiveConsent(contract_id, proposal_id=str(proposal)))
    assert service.verify_read_models() == []
    _delete_indicators(raw, contract_id)
    differences = service.verify_read_models()
    assert any(contract_id in d and "dashboard" in d for d in differences), differences
