"""From the aggregate to its views: each piece of the contract rendered as plain data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic.alias_generators import to_camel

from application.views import (
    AccessGrantData,
    ActorData,
    AllocationData,
    BaselineData,
    ConsultationData,
    ContractCounts,
    ContractData,
    ContractState,
    CorrectionData,
    Data,
    EvaluationData,
    FrameworkData,
    GoalData,
    IndicatorData,
    IndicatorState,
    MeasurementBatchData,
    MeasurementData,
    OrgRef,
    ParticipantData,
    PeriodData,
    ProposalData,
    ProviderData,
    PublicationData,
    SessionData,
    StakeholderData,
    TargetData,
    ValuedChangeData,
    View,
    Viewed,
)
from domain.chain import canonical
from domain.contract import Contract
from domain.goals import GoalChange
from domain.indicators import Indicator, IndicatorChange, Measurement
from domain.proposals import KIND_OF_CHANGE, Change, ChangePackage, Proposal
from domain.records import (
    AccessGrant,
    Correction,
    Evaluation,
    Publication,
    ResidentsConsultation,
    Session,
    Stakeholder,
)
from domain.values import local_date


def change_data(change: Change) -> dict[str, Any]:
    """A change as the API shows it; a package as the list of its changes, each with its kind."""
    if isinstance(change, ChangePackage):
        return {
            "changes": [
                {"kind": str(KIND_OF_CHANGE[type(part)]), "change": change_data(part)}
                for part in change.changes
            ]
        }
    plain = canonical(change)
    return {to_camel(k): _camel_keys(v) for k, v in plain.items() if v is not None}


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {to_camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def indicator_data(i: Indicator) -> IndicatorData:
    return IndicatorData(
        indicator_id=i.indicator_id,
        version=i.version,
        name=i.name,
        definition=i.definition,
        unit=i.unit,
        direction=str(i.direction),
        baseline=BaselineData(
            value=i.baseline.value, measured_on=i.baseline.measured_on, source=i.baseline.source
        )
        if i.baseline
        else None,
        target=TargetData(value=i.target.value, due_on=i.target.due_on) if i.target else None,
        frequency=i.frequency,
        data_source=i.data_source,
        result_id=i.result_id,
        status="active" if i.active else "retired",
    )


def proposal_data(contract: Contract, proposal: Proposal) -> ProposalData:
    change = proposal.change
    created: dict[str, str] = {}
    parts = change.changes if isinstance(change, ChangePackage) else (change,)
    for index, part in enumerate(parts):
        at = f"changes[{index}]." if isinstance(change, ChangePackage) else ""
        if isinstance(part, GoalChange) and part.action == "add" and part.node_id:
            created[f"{at}nodeId"] = part.node_id
        if isinstance(part, IndicatorChange) and part.action == "add" and part.indicator_id:
            created[f"{at}indicatorId"] = part.indicator_id
    awaiting = (
        sorted(contract.parties - set(proposal.consents)) if proposal.status == "open" else []
    )
    return ProposalData(
        proposal_id=proposal.proposal_id,
        kind=str(proposal.kind),
        status=str(proposal.status),
        session_id=proposal.session_id,
        rationale=proposal.rationale,
        change=change_data(change),
        proposed_by=ActorData.of(proposal.proposed_by),
        submitted_at=proposal.submitted_at,
        consents=list(proposal.consents),
        awaiting=awaiting,
        closed_by=ActorData.of(proposal.closed_by) if proposal.closed_by else None,
        closing_reason=proposal.closing_reason,
        created_ids=created,
    )


def _contract_fields(contract: Contract) -> dict[str, Any]:
    """What the full and the API's representation share: the contract's standing parts."""
    framework = contract.framework
    return {
        "id": contract.id.hex,
        "reference": contract.reference,
        "title": contract.title,
        "status": str(contract.status),
        "version": contract.version,
        "procedure": contract.procedure,
        "assignment": contract.assignment,
        "commissioner": OrgRef(org=contract.commissioner),
        "providers": [
            ProviderData(
                org=p.org,
                name=p.name,
                status=str(p.status),
                rationale=p.rationale,
                admitted_on=p.admitted_on,
            )
            for p in contract.providers.values()
        ],
        "stakeholders": [stakeholder_data(s) for s in contract.stakeholders.values()],
        "term": PeriodData(start=contract.term.start, end=contract.term.end),
        "financial_framework": FrameworkData(
            ceiling=framework.ceiling,
            period=PeriodData(start=framework.period.start, end=framework.period.end),
            allocations=[
                AllocationData(org=org, amount=amount)
                for org, amount in sorted(framework.allocations.items())
            ],
            allocated=framework.allocated,
            initial_value=framework.initial_value,
            threshold=framework.threshold,
            change_limit=framework.change_limit,
            cumulative_change_value=framework.cumulative_change_value,
            change_limit_exceeded=framework.change_limit_exceeded,
            changes=[
                ValuedChangeData(
                    proposal_id=c.proposal_id,
                    effective_on=c.effective_on,
                    value=c.value,
                    cumulative=c.cumulative,
                    possibly_substantial_change=c.possibly_substantial,
                )
                for c in framework.changes
            ],
        ),
        "goals": [
            GoalData(
                node_id=n.node_id,
                level=str(n.level),
                parent_id=n.parent_id,
                text=n.text,
                delivered_by=str(n.delivered_by) if n.delivered_by else None,
                status="active" if n.active else "retired",
            )
            for n in contract.goals.values()
        ],
        "access_grants": [access_grant_data(g) for g in contract.access_grants.values()],
        "possibly_substantial_change": framework.change_limit_exceeded,
        "public": contract.public,
        "created_at": contract.created_on,
        "updated_at": contract.modified_on,
        "head_digest": contract.head_digest,
    }


def contract_data(contract: Contract) -> ContractData:
    """The whole contract, every record included (the pages, the dossier, the diff)."""
    return ContractData(
        **_contract_fields(contract),
        indicators=[indicator_data(i) for i in contract.indicators.values()],
        measurements=[measurement_data(m) for m in contract.measurements.values()],
        sessions=[session_data(s) for s in contract.sessions.values()],
        proposals=[proposal_data(contract, p) for p in contract.proposals.values()],
        publications=[publication_data(p) for p in contract.publications],
        consultations=[consultation_data(c) for c in contract.consultations],
        evaluations=[evaluation_data(e) for e in contract.evaluations],
        corrections=[correction_data(contract, c) for c in contract.corrections],
    )


class _Measured(Protocol):
    @property
    def indicator_id(self) -> str: ...
    @property
    def period(self) -> Any: ...


M = TypeVar("M", bound=_Measured)


def latest_measurements(measurements: Iterable[M]) -> dict[str, M]:
    """Per indicator, the measurement of its latest period (of those of one period, the last
    recorded): for the domain's measurements and for their views alike."""
    latest: dict[str, M] = {}
    for m in measurements:
        kept = latest.get(m.indicator_id)
        if kept is None or m.period.end >= kept.period.end:
            latest[m.indicator_id] = m
    return latest


def contract_state(contract: Contract) -> ContractState:
    """The contract as the API shows it: in force and open, with counts of the records that
    grow with its history (ContractState)."""
    latest = latest_measurements(contract.measurements.values())
    return ContractState(
        **_contract_fields(contract),
        indicators=[
            IndicatorState(
                **indicator_data(i).__dict__,
                latest_measurement=measurement_data(latest[i.indicator_id])
                if i.indicator_id in latest
                else None,
            )
            for i in contract.indicators.values()
        ],
        open_proposals=[
            proposal_data(contract, p) for p in contract.proposals.values() if p.status == "open"
        ],
        counts=ContractCounts(
            sessions=len(contract.sessions),
            measurements=len(contract.measurements),
            proposals=len(contract.proposals),
            publications=len(contract.publications),
            consultations=len(contract.consultations),
            evaluations=len(contract.evaluations),
            corrections=len(contract.corrections),
        ),
    )


def stakeholder_data(s: Stakeholder) -> StakeholderData:
    return StakeholderData(
        stakeholder_id=s.stakeholder_id, name=s.name, kind=s.kind, contact=s.contact
    )


def measurement_data(m: Measurement) -> MeasurementData:
    return MeasurementData(
        measurement_id=m.measurement_id,
        indicator_id=m.indicator_id,
        indicator_version=m.indicator_version,
        period=PeriodData(start=m.period.start, end=m.period.end),
        value=m.value,
        source=m.source,
    )


def session_data(s: Session) -> SessionData:
    return SessionData(
        session_id=s.session_id,
        held_on=s.held_on,
        kind=s.kind,
        participants=[
            ParticipantData(name=p.name, org=p.org, role=p.role, external=p.external)
            for p in s.participants
        ],
        minutes_ref=s.minutes_ref,
        summary=s.summary,
    )


def publication_data(p: Publication) -> PublicationData:
    return PublicationData(
        publication_id=p.publication_id,
        issued_on=p.issued_on,
        audience=p.audience,
        channel=p.channel,
        summary=p.summary,
    )


def consultation_data(c: ResidentsConsultation) -> ConsultationData:
    return ConsultationData(
        consultation_id=c.consultation_id,
        held_on=c.held_on,
        method=c.method,
        participants_count=c.participants_count,
        summary=c.summary,
    )


def evaluation_data(e: Evaluation) -> EvaluationData:
    return EvaluationData(
        evaluation_id=e.evaluation_id,
        held_on=e.held_on,
        summary=e.summary,
        conclusions=e.conclusions,
    )


def correction_data(contract: Contract, c: Correction) -> CorrectionData:
    kind, record_id = contract.correctable.get(str(c.corrects_version), ["", ""])
    return CorrectionData(
        corrects_version=c.corrects_version,
        record_kind=kind,
        record_id=record_id,
        corrections={to_camel(name): value for name, value in c.corrections.items()},
        reason=c.reason,
        recorded_in_version=c.recorded_in_version,
    )


def render(view: View, contract: Contract, record_id: str | None) -> Viewed[Any]:
    """The view of the contract (at its loaded version) and the version it was seen at."""
    return Viewed(contract.version, contract.head_digest, _RENDER[view](contract, str(record_id)))


def _publication(contract: Contract, publication_id: str) -> PublicationData:
    return publication_data(
        next(p for p in contract.publications if p.publication_id == publication_id)
    )


_RENDER: dict[View, Callable[[Contract, str], Data]] = {
    View.CONTRACT: lambda c, _: contract_state(c),
    View.SESSION: lambda c, session_id: session_data(c.sessions[session_id]),
    View.PROPOSAL: lambda c, proposal_id: proposal_data(c, c.proposals[proposal_id]),
    View.MEASUREMENT: lambda c, m_id: measurement_data(c.measurements[m_id]),
    View.MEASUREMENT_BATCH: lambda c, ids: MeasurementBatchData(
        count=len(ids.split(",")),
        measurements=[measurement_data(c.measurements[m]) for m in ids.split(",")],
    ),
    View.STAKEHOLDER: lambda c, s_id: stakeholder_data(c.stakeholders[s_id]),
    View.PUBLICATION: _publication,
    View.ACCESS_GRANT: lambda c, grant_id: access_grant_data(c.access_grants[grant_id]),
    View.CONSULTATION: lambda c, c_id: consultation_data(
        next(x for x in c.consultations if x.consultation_id == c_id)
    ),
    View.EVALUATION: lambda c, e_id: evaluation_data(
        next(x for x in c.evaluations if x.evaluation_id == e_id)
    ),
    View.CORRECTION: lambda c, version: correction_data(
        c, next(x for x in c.corrections if str(x.recorded_in_version) == version)
    ),
}


def access_grant_data(grant: AccessGrant) -> AccessGrantData:
    return AccessGrantData(
        grant_id=grant.grant_id,
        org=grant.org,
        role=grant.role,
        until=grant.until,
        reason=grant.reason,
        granted_on=grant.granted_on,
        revoked_on=grant.revoked_on,
        in_force=grant.holds_on(local_date(datetime.now(UTC))),
    )
