"""Every use case once through the contract service, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from application.commands import (
    AdmitProvider,
    CompleteContract,
    ConsultResidents,
    CorrectRecord,
    GiveConsent,
    IssuePublication,
    RecordEvaluation,
    RecordMeasurement,
    RegisterStakeholder,
    RejectProposal,
    ResumeContract,
    SubmitProposal,
    SuspendContract,
    TerminateContract,
    WithdrawProposal,
    WithdrawProvider,
)
from application.errors import ContractNotFound, NotPermitted, ReferenceTaken
from application.service import ContractService
from domain.errors import CeilingExceeded, CommissionerOnly, NotProposer, ProposalNotOpen
from domain.goals import ChangeAction, GoalChange, GoalLevel
from domain.indicators import IndicatorChange, Target
from domain.money import Adjustment
from domain.proposals import ScopeRefinement
from domain.values import Allocation, Period
from infrastructure.settings import Settings
from tests.support.app import (
    AUDITOR,
    COMMISSIONER,
    OTHER_COMMISSIONER,
    OUTSIDER,
    PROVIDER,
    READER,
    Scene,
    active_contract,
    agree,
    all_versions,
    indicator_addition,
    open_contract,
    service_for,
)


@pytest.fixture
def service(settings: Settings) -> Iterator[ContractService]:
    service = service_for(settings)
    yield service
    service.close()


@pytest.fixture
def scene(service: ContractService) -> Scene:
    return active_contract(service)


def test_open_admit_activate_and_hold_a_session(service: ContractService, scene: Scene) -> None:
    contract = service.get_contract(COMMISSIONER, scene.contract_id)
    assert contract.version == 5
    assert contract.status == "active"
    assert contract.reference == "WMO-2025-01"
    assert [p.org for p in contract.providers] == ["zorg-a"]
    assert [s.session_id for s in contract.sessions] == [scene.session_id]
    # The provider sees the contract too; both see the same thing.
    assert service.get_contract(PROVIDER, scene.contract_id) == contract
    assert all_versions(service, scene.contract_id) == [1, 2, 3, 4, 5]


def test_stakeholders_and_provider_withdrawal(service: ContractService, scene: Scene) -> None:
    result = service.handle(
        PROVIDER,
        RegisterStakeholder(
            scene.contract_id, name="Wijkraad Oost", kind="residents", contact="wr@x.nl"
        ),
    )
    assert result.version == 6
    service.handle(
        COMMISSIONER,
        AdmitProvider(scene.contract_id, org="welzijn-b", name="Welzijn B", rationale="r"),
    )
    service.handle(
        COMMISSIONER, WithdrawProvider(scene.contract_id, org="welzijn-b", reason="left")
    )
    contract = service.get_contract(COMMISSIONER, scene.contract_id)
    assert [(s.name, s.contact) for s in contract.stakeholders] == [("Wijkraad Oost", "wr@x.nl")]
    assert contract.version == 8
    statuses = {p.org: p.status for p in contract.providers}
    assert statuses["zorg-a"] == "active" and statuses["welzijn-b"] != "active"


@pytest.mark.parametrize("kind", ["scope", "goal", "indicator", "adjustment"])
def test_every_change_kind_submit_consent_reject_withdraw(
    service: ContractService, scene: Scene, kind: str
) -> None:
    changes = {
        "scope": ScopeRefinement(assignment="Help residents of Oost live at home"),
        "goal": GoalChange(action=ChangeAction.ADD, level=GoalLevel.VISION, text="Thuis wonen"),
        "indicator": indicator_addition(),
        "adjustment": Adjustment(
            legal_basis="art. 2.163b",
            value=Decimal("50000.00"),
            effective_on=date(2025, 3, 1),
            allocations=(Allocation("zorg-a", Decimal("500000.00")),),
        ),
    }
    change = changes[kind]
    cid = scene.contract_id
    rejected = service.handle(
        PROVIDER,
        SubmitProposal(cid, session_id=scene.session_id, change=change, rationale="reject me"),
    ).created_id
    assert rejected is not None
    service.handle(COMMISSIONER, RejectProposal(cid, proposal_id=rejected, reason="no"))
    withdrawn = service.handle(
        PROVIDER,
        SubmitProposal(cid, session_id=scene.session_id, change=change, rationale="withdraw me"),
    ).created_id
    assert withdrawn is not None
    with pytest.raises(NotProposer):
        service.handle(
            COMMISSIONER, WithdrawProposal(cid, proposal_id=withdrawn, reason="not mine")
        )
    service.handle(
        PROVIDER, WithdrawProposal(cid, proposal_id=withdrawn, reason="changed our mind")
    )
    agreed = agree(service, scene, change, rationale=f"agree {kind}")

    statuses = {
        p: service.get_proposal(AUDITOR, cid, p).body.status for p in (agreed, rejected, withdrawn)
    }
    assert statuses == {agreed: "agreed", rejected: "rejected", withdrawn: "withdrawn"}
    with pytest.raises(ProposalNotOpen):
        service.handle(COMMISSIONER, GiveConsent(cid, proposal_id=rejected))

    contract = service.get_contract(COMMISSIONER, cid)
    if kind == "scope":
        assert contract.assignment == "Help residents of Oost live at home"
    elif kind == "goal":
        assert [g.text for g in contract.goals] == ["Thuis wonen"]
    elif kind == "indicator":
        assert [i.name for i in contract.indicators] == ["Terugval"]
    else:
        allocations = contract.financial_framework.allocations
        assert [(a.org, a.amount) for a in allocations] == [("zorg-a", Decimal("500000.00"))]
        assert contract.financial_framework.cumulative_change_value == Decimal("50000.00")
    assert service.verify(AUDITOR, cid).valid


def test_measurement_publication_residents_evaluation_and_correction(
    service: ContractService, scene: Scene
) -> None:
    cid = scene.contract_id
    agree(service, scene, indicator_addition())
    indicator_id = service.get_contract(COMMISSIONER, cid).indicators[0].indicator_id
    measured = service.handle(
        PROVIDER,
        RecordMeasurement(
            cid,
            indicator_id=indicator_id,
            period=Period(date(2025, 1, 1), date(2025, 3, 31)),
            value=Decimal("6.5"),
            source="CBS",
        ),
    )
    assert measured.created_id
    service.handle(
        COMMISSIONER,
        IssuePublication(cid, audience="council", channel="raadsbrief", summary="Q1 results"),
    )
    service.handle(
        PROVIDER,
        ConsultResidents(
            cid,
            held_on=date(2025, 4, 2),
            method="kitchen table",
            summary="what residents said",
            participants_count=12,
        ),
    )
    service.handle(
        COMMISSIONER,
        RecordEvaluation(
            cid, held_on=date(2025, 6, 1), summary="half year", conclusions="on track"
        ),
    )
    corrected = service.handle(
        PROVIDER,
        CorrectRecord(
            cid,
            corrects_version=measured.version,
            corrections={"value": "6.4"},
            reason="typo in the report",
        ),
    )
    contract = service.get_contract(AUDITOR, cid)
    assert contract.version == corrected.version
    assert [m.value for m in contract.measurements] == [Decimal("6.4")]
    assert [p.summary for p in contract.publications] == ["Q1 results"]
    types = [item.type for item in service.history(AUDITOR, cid, after=measured.version - 1).items]
    assert types == [
        "MeasurementRecorded",
        "PublicationIssued",
        "ResidentsConsulted",
        "EvaluationRecorded",
        "RecordCorrected",
    ]


def test_lifecycle_suspend_resume_terminate_and_complete(service: ContractService) -> None:
    first = active_contract(service, "WMO-A").contract_id
    second = active_contract(service, "WMO-B").contract_id
    service.handle(COMMISSIONER, SuspendContract(first, reason="audit", decision_ref="B-1"))
    assert service.get_contract(READER, first).status == "suspended"
    service.handle(COMMISSIONER, ResumeContract(first, reason="audit done"))
    service.handle(COMMISSIONER, TerminateContract(first, reason="bankrupt", decision_ref="B-2"))
    service.handle(
        COMMISSIONER, CompleteContract(second, reason="delivered early", decision_ref="B&W-9")
    )
    assert service.get_contract(READER, first).status == "terminated"
    assert service.get_contract(READER, second).status == "completed"
    with pytest.raises(CommissionerOnly):
        service.handle(
            PROVIDER, SuspendContract(active_contract(service, "WMO-C").contract_id, reason="x")
        )


def test_domain_errors_pass_through_unchanged_and_store_nothing(
    service: ContractService, scene: Scene
) -> None:
    too_much = Adjustment(
        legal_basis="art. 2.163b",
        value=Decimal("10.00"),
        effective_on=date(2025, 3, 1),
        allocations=(Allocation("zorg-a", Decimal("1000000.01")),),
    )
    with pytest.raises(CeilingExceeded):
        service.handle(
            PROVIDER,
            SubmitProposal(
                scene.contract_id, session_id=scene.session_id, change=too_much, rationale="r"
            ),
        )
    assert service.get_contract(COMMISSIONER, scene.contract_id).version == 5


def test_missing_contract_and_other_organisations_contract_are_not_found(
    service: ContractService, scene: Scene
) -> None:
    for missing in ("0" * 32, "not-a-uuid", ""):
        with pytest.raises(ContractNotFound):
            service.get_contract(COMMISSIONER, missing)
        with pytest.raises(ContractNotFound):
            service.handle(COMMISSIONER, AdmitProvider(missing, org="x", name="X", rationale="r"))
    with pytest.raises(ContractNotFound):
        service.get_contract(OUTSIDER, scene.contract_id)
    with pytest.raises(ContractNotFound):
        service.handle(
            OUTSIDER, IssuePublication(scene.contract_id, audience="a", channel="c", summary="s")
        )
    with pytest.raises(ContractNotFound):
        service.history(OTHER_COMMISSIONER, scene.contract_id)
    assert service.get_contract(COMMISSIONER, scene.contract_id).version == 5


def test_readers_and_auditors_cannot_write(service: ContractService, scene: Scene) -> None:
    for principal in (READER, AUDITOR):
        with pytest.raises(NotPermitted):
            service.handle(
                principal,
                IssuePublication(scene.contract_id, audience="a", channel="c", summary="s"),
            )
        with pytest.raises(NotPermitted):
            open_contract(service, "WMO-NEW", principal=principal)
    with pytest.raises(NotPermitted):
        service.history(READER, scene.contract_id)
    with pytest.raises(NotPermitted):
        service.verify(READER, scene.contract_id)
    assert service.get_contract(READER, scene.contract_id).version == 5


def test_reference_is_unique_per_commissioner(service: ContractService) -> None:
    first = open_contract(service, "REF-1")
    with pytest.raises(ReferenceTaken):
        open_contract(service, "REF-1")
    with pytest.raises(ReferenceTaken):
        open_contract(service, "ref-1")  # references compare case-insensitively
    other = open_contract(service, "REF-1", principal=OTHER_COMMISSIONER)
    assert other != first
    assert service.get_contract(OTHER_COMMISSIONER, other).commissioner.org == "gemeente-amersfoort"


def test_indicator_revision_through_the_service(service: ContractService, scene: Scene) -> None:
    agree(service, scene, indicator_addition(target="5"))
    indicator = service.get_contract(COMMISSIONER, scene.contract_id).indicators[0]
    agree(
        service,
        scene,
        IndicatorChange(
            action=ChangeAction.REVISE,
            indicator_id=indicator.indicator_id,
            target=Target(Decimal("4"), date(2026, 12, 31)),
        ),
    )
    revised = service.get_contract(COMMISSIONER, scene.contract_id).indicators[0]
    assert revised.target is not None and revised.target.value == Decimal("4")
