"""The contract's events for auditors, oldest first, a page at a time; and the history of one
indicator, version by version, with the dialogue behind each."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date
from uuid import UUID

from eventsourcing.persistence import EventStore

from application.errors import ContractNotFound
from application.rendering import indicator_data
from application.views import (
    ActorData,
    ConsentData,
    HistoryEntry,
    HistoryPage,
    IndicatorHistoryData,
    IndicatorVersionData,
)
from domain.chain import canonical, split_fields
from domain.contract import Contract
from domain.events import (
    ConsentGiven,
    ContractEvent,
    ProposalAgreed,
    ProposalSubmitted,
    SessionHeld,
)
from domain.goals import ChangeAction
from domain.indicators import IndicatorChange
from domain.proposals import Change, ChangePackage


def history_page(
    events: EventStore[UUID], contract_id: UUID, *, after: int, limit: int
) -> HistoryPage:
    """Events after a version; reads `limit + 1` by the (id, version) index, whatever `after`."""
    page = list(events.get(contract_id, gt=after, limit=limit + 1))
    items = [history_entry(e) for e in page[:limit] if isinstance(e, ContractEvent)]
    next_cursor = items[-1].version if len(page) > limit and items else None
    return HistoryPage(items=items, next_cursor=next_cursor)


def history_entry(event: ContractEvent) -> HistoryEntry:
    fields = dict(vars(event))
    payload, _ = split_fields(fields)
    for name in ("originator_id", "originator_version"):
        payload.pop(name, None)
    return HistoryEntry(
        version=event.originator_version,
        type=type(event).__name__,
        recorded_at=event.timestamp,
        effective_on=event.effective_on,
        actor=ActorData.of(event.actor),
        session_id=event.session_id,
        decision_ref=event.decision_ref,
        reason=event.reason,
        data=canonical(payload),
        digest=event.digest,
        prior_digest=event.prior_digest,
    )


def indicator_history(
    contract: Contract, events: Iterable[ContractEvent], indicator_id: str
) -> IndicatorHistoryData:
    """Every version of one indicator (and its retirement) with who proposed it, who consented
    and when, in which session, and why — read from the events, in one pass."""
    current = contract.indicators.get(indicator_id)
    if current is None:
        raise ContractNotFound(f"no indicator {indicator_id} on this contract")
    versions = [*current.superseded, current]
    submitted: dict[str, ProposalSubmitted] = {}
    consents: dict[str, list[ConsentData]] = {}
    sessions: dict[str, date] = {}
    entries: list[IndicatorVersionData] = []
    for event in events:
        if isinstance(event, SessionHeld):
            sessions[str(event.session_id)] = event.held_on
        elif isinstance(event, ProposalSubmitted):
            submitted[event.proposal_id] = event
            consents[event.proposal_id] = []
        elif isinstance(event, ConsentGiven):
            consents.setdefault(event.proposal_id, []).append(
                ConsentData(
                    party=event.party,
                    by=ActorData.of(event.actor),
                    at=event.timestamp,
                    effective_on=event.effective_on,
                    session_id=event.session_id,
                    version=event.originator_version,
                )
            )
        elif isinstance(event, ProposalAgreed):
            for part in _parts(event.change):
                if not isinstance(part, IndicatorChange) or part.indicator_id != indicator_id:
                    continue
                retired = part.action == ChangeAction.RETIRE
                number = len([e for e in entries if e.change == "agreed"]) + (0 if retired else 1)
                shown = versions[min(max(number, 1), len(versions)) - 1]
                proposal = submitted.get(event.proposal_id)
                entries.append(
                    IndicatorVersionData(
                        version=shown.version,
                        change="retired" if retired else "agreed",
                        indicator=indicator_data(
                            dataclasses.replace(shown, active=not retired, superseded=[])
                        ),
                        effective_on=event.effective_on,
                        agreed_in_version=event.originator_version,
                        agreed_at=event.timestamp,
                        proposal_id=event.proposal_id,
                        proposed_by=ActorData.of(proposal.actor if proposal else event.actor),
                        proposed_at=proposal.timestamp if proposal else None,
                        consents=consents.get(event.proposal_id, []),
                        session_id=event.session_id,
                        session_held_on=sessions.get(str(event.session_id)),
                        reason=event.reason,
                        decision_ref=event.decision_ref,
                    )
                )
    return IndicatorHistoryData(indicator_id=indicator_id, versions=entries)


def _parts(change: Change) -> tuple[Change, ...]:
    return change.changes if isinstance(change, ChangePackage) else (change,)
