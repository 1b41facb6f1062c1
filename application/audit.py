"""What auditors ask: time travel, history pages, differences in words, and chain verification.

Semantics (docs/AUDIT.md says the same for users):
* state at version N — the events 1..N applied (from the nearest snapshot);
* state as recorded at moment T — the last version whose recorded time is ≤ T, found by binary
  search over the stored events (versions are recorded in time order), then as above;
* state in force on date D, as known now — every event recorded so far whose effective date is
  on or before D, applied in recorded order; later-dated events are left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, EventStore

from application.dto import (
    ActorData,
    ChangeData,
    DiffData,
    HistoryEntry,
    HistoryPage,
    VerificationData,
)
from application.errors import HistoryCorrupt
from application.snapshots import is_outdated, unseal
from application.stored_form import canonical_from_stored
from domain.chain import (
    GENESIS_DIGEST,
    UNHASHED_FIELDS,
    canonical,
    digest_of,
    split_fields,
)
from domain.contract import Contract
from domain.events import ContractEvent, ProposalAgreed

VERIFY_PAGE = 1000


def version_at(
    recorder: ApplicationRecorder, contract_id: UUID, head: int, moment: datetime
) -> int | None:
    """The last version recorded at or before `moment` (None if the contract is younger)."""
    low, high, found = 1, head, None
    while low <= high:
        middle = (low + high) // 2
        if _recorded_at(recorder, contract_id, middle) <= moment:
            found, low = middle, middle + 1
        else:
            high = middle - 1
    return found


def _recorded_at(recorder: ApplicationRecorder, contract_id: UUID, version: int) -> datetime:
    found = recorder.select_events(contract_id, gt=version - 1, lte=version)
    if len(found) != 1:
        raise HistoryCorrupt(f"version {version} is missing from the stored history")
    (stored,) = found
    state = json.loads(stored.state)
    return datetime.fromisoformat(canonical_from_stored(state["timestamp"]))


def in_force_on(events: Iterable[Any], day: date) -> Contract:
    contract: Contract | None = None
    for event in events:
        if contract is None:
            contract = event.mutate(None)
            continue
        if event.effective_on <= day:
            if isinstance(event, ProposalAgreed) and event.proposal_id not in contract.proposals:
                # Agreed later with effect from an earlier date: the change is in force on
                # `day`, the dialogue that led to it is not part of this view.
                event.apply_change(contract)
                contract.head_digest = event.digest
            else:
                event.apply(contract)
            contract.version = event.originator_version
            contract.modified_on = event.timestamp
    if contract is None:
        raise ValueError("a contract has at least one event")
    return contract


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


def verify_chain(
    recorder: ApplicationRecorder, contract_id: UUID
) -> tuple[VerificationData, set[str]]:
    """Recompute every digest from the stored records and check each link of the chain.

    Also returns the parties named in the records (the commissioner and the providers admitted
    and not withdrawn), read in the same pass, so the caller can decide who may see the verdict even
    when the history no longer replays."""
    expected_prior, checked, expected, last = GENESIS_DIGEST, 0, 1, 0
    parties: set[str] = set()
    failure: tuple[int, str] | None = None
    while True:
        page = recorder.select_events(contract_id, gt=last, limit=VERIFY_PAGE)
        for stored in page:
            last = stored.originator_version
            state = _read_state(stored)
            if state is not None and stored.topic.endswith(PARTY_TOPICS):
                party = str(state.get("commissioner") or state.get("org") or "")
                if stored.topic.endswith(":ProviderWithdrew"):
                    parties.discard(party)
                else:
                    parties.add(party)
            if failure is not None:
                continue  # the verdict stands; read on only for the parties
            outcome = _check_record(stored, state, contract_id, expected, expected_prior)
            if isinstance(outcome, str):
                failure = (expected, outcome)
            else:
                expected_prior = outcome[0]
                checked += 1
                expected += 1
        if len(page) < VERIFY_PAGE:
            break
    if failure is not None:
        verdict = VerificationData(
            valid=False,
            versions_checked=checked,
            head_digest=expected_prior if checked else None,
            first_invalid_version=failure[0],
            reason=failure[1],
        )
    else:
        verdict = VerificationData(
            valid=checked > 0,
            versions_checked=checked,
            head_digest=expected_prior if checked else None,
            first_invalid_version=None if checked else 1,
            reason=None if checked else "no events stored",
        )
    return verdict, parties - {""}


PARTY_TOPICS = (":ContractOpened", ":ProviderAdmitted", ":ProviderWithdrew")


def check_snapshot_seals(
    recorder: Any, contract_id: UUID, key: bytes, state_version: int = 1
) -> tuple[int, list[int]]:
    """How many snapshots were checked, and the versions whose seals do not hold (a snapshot
    sealed intact under an older state version is outdated, not broken)."""
    checked, broken, last = 0, [], 0
    while True:
        page = recorder.select_events(contract_id, gt=last, limit=20)
        for row in page:
            last = row.originator_version
            checked += 1
            identity = (key, row.originator_id, row.originator_version, row.state)
            if unseal(*identity, state_version) is None and not is_outdated(
                *identity, state_version
            ):
                broken.append(row.originator_version)
        if len(page) < 20:
            return checked, broken


def _read_state(stored: Any) -> dict[str, Any] | None:
    try:
        state = canonical_from_stored(json.loads(stored.state))
    except (ValueError, TypeError):
        return None
    return state if isinstance(state, dict) else None


def _check_record(
    stored: Any,
    state: dict[str, Any] | None,
    contract_id: UUID,
    version: int,
    expected_prior: str,
) -> tuple[str] | str:
    """The record's digest if it holds, else why not."""
    if stored.originator_version != version:
        return f"version {version} is missing (found {stored.originator_version} next)"
    if state is None:
        return "the stored record cannot be read as an event"
    try:
        recorded_at, digest, prior = state["timestamp"], state["digest"], state["prior_digest"]
    except KeyError:
        return "the stored record cannot be read as an event"
    if prior != expected_prior:
        return "the prior digest does not match the digest of the version before"
    fields = {k: v for k, v in state.items() if k not in UNHASHED_FIELDS}
    payload, metadata = split_fields(fields)
    recomputed = digest_of(
        topic=stored.topic,
        contract_id=contract_id.hex,
        version=version,
        recorded_at=recorded_at,
        payload=payload,
        metadata=metadata,
        prior_digest=prior,
    )
    if recomputed != digest:
        return "the stored content does not match its digest (altered after recording)"
    return (digest,)


# Differences in words ----------------------------------------------------------------------


def diff(before: Contract, after: Contract) -> DiffData:
    changes: list[ChangeData] = []
    add = changes.append
    sessions = {**before.sessions, **after.sessions}

    def agreed_in(session_id: str | None) -> str:
        session = sessions.get(session_id or "")
        return f", agreed in session {session.held_on.isoformat()}" if session else ""

    for name, label in (("title", "Title"), ("status", "Status"), ("assignment", "Assignment")):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            add(
                _change(name, str(old), str(new), f"{label} changed: {_short(old)} → {_short(new)}")
            )
    if before.term != after.term:
        add(
            _change(
                "term.end",
                before.term.end,
                after.term.end,
                f"Term now ends {after.term.end.isoformat()} (was {before.term.end.isoformat()})",
            )
        )
    fb, fa = before.framework, after.framework
    if fb.ceiling != fa.ceiling:
        add(
            _change(
                "financialFramework.ceiling",
                fb.ceiling,
                fa.ceiling,
                f"Ceiling € {fb.ceiling} → € {fa.ceiling}",
            )
        )
    for org in sorted(set(fb.allocations) | set(fa.allocations)):
        old_amount, new_amount = fb.allocations.get(org), fa.allocations.get(org)
        if old_amount != new_amount:
            add(
                _change(
                    f"financialFramework.allocations.{org}",
                    old_amount,
                    new_amount,
                    f"Allocation to {org} € {old_amount or 0} → € {new_amount or 0}",
                )
            )
    if fb.cumulative_change_value != fa.cumulative_change_value:
        add(
            _change(
                "financialFramework.cumulativeChangeValue",
                fb.cumulative_change_value,
                fa.cumulative_change_value,
                f"Agreed changes now total € {fa.cumulative_change_value} of the € "
                f"{fa.change_limit} allowed without a new tender",
            )
        )
    for org in sorted(set(before.providers) | set(after.providers)):
        old_p, new_p = before.providers.get(org), after.providers.get(org)
        if old_p is None and new_p is not None:
            add(
                _change(
                    f"providers.{org}", None, str(new_p.status), f"Provider {new_p.name} admitted"
                )
            )
        elif old_p is not None and new_p is not None and old_p.status != new_p.status:
            add(
                _change(
                    f"providers.{org}.status",
                    str(old_p.status),
                    str(new_p.status),
                    f"Provider {new_p.name} {new_p.status}",
                )
            )
    for node_id, node in after.goals.items():
        old_node = before.goals.get(node_id)
        if old_node is None:
            add(_change(f"goals.{node_id}", None, node.text, f"New {node.level} '{node.text}'"))
        elif old_node.active and not node.active:
            add(
                _change(
                    f"goals.{node_id}.status",
                    "active",
                    "retired",
                    f"{str(node.level).capitalize()} '{node.text}' retired",
                )
            )
        elif old_node.text != node.text:
            add(
                _change(
                    f"goals.{node_id}.text",
                    old_node.text,
                    node.text,
                    f"{str(node.level).capitalize()} '{_short(old_node.text)}' now reads "
                    f"'{_short(node.text)}'",
                )
            )
    for indicator_id, ind in after.indicators.items():
        old_ind = before.indicators.get(indicator_id)
        where = agreed_in(ind.agreed_in_session)
        if old_ind is None:
            add(
                _change(
                    f"indicators.{indicator_id}",
                    None,
                    ind.name,
                    f"Indicator '{ind.name}' agreed{where.replace(', agreed', '')}",
                )
            )
            continue
        if old_ind.active and not ind.active:
            add(
                _change(
                    f"indicators.{indicator_id}.status",
                    "active",
                    "retired",
                    f"Indicator '{ind.name}' retired",
                )
            )
        old_target = old_ind.target.value if old_ind.target else None
        new_target = ind.target.value if ind.target else None
        if old_target != new_target:
            add(
                _change(
                    f"indicators.{indicator_id}.target",
                    old_target,
                    new_target,
                    f"Indicator '{ind.name}' target {_amount(old_target, old_ind.unit)} → "
                    f"{_amount(new_target, ind.unit)}{where}",
                )
            )
        if old_ind.definition != ind.definition:
            add(
                _change(
                    f"indicators.{indicator_id}.definition",
                    old_ind.definition,
                    ind.definition,
                    f"Indicator '{ind.name}' redefined (version "
                    f"{old_ind.version} → {ind.version}){where}",
                )
            )
    for proposal_id, proposal in after.proposals.items():
        old_prop = before.proposals.get(proposal_id)
        if old_prop is None or old_prop.status != proposal.status:
            add(
                _change(
                    f"proposals.{proposal_id}.status",
                    str(old_prop.status) if old_prop else None,
                    str(proposal.status),
                    f"Proposal '{_short(proposal.rationale)}' ({proposal.kind}) {proposal.status}",
                )
            )
    new_sessions = [s for k, s in after.sessions.items() if k not in before.sessions]
    for session in new_sessions:
        add(
            _change(
                f"sessions.{session.session_id}",
                None,
                session.held_on,
                f"Session held on {session.held_on.isoformat()}: {_short(session.summary)}",
            )
        )
    measured = len(after.measurements) - len(before.measurements)
    if measured:
        add(
            _change(
                "measurements",
                len(before.measurements),
                len(after.measurements),
                f"{abs(measured)} measurement(s) {'recorded' if measured > 0 else 'fewer'}",
            )
        )
    published = after.publications[len(before.publications) :]
    for publication in published:
        add(
            _change(
                f"publications.{publication.publication_id}",
                None,
                publication.summary,
                f"Published to {publication.audience}: {_short(publication.summary)}",
            )
        )
    return DiffData(from_version=before.version, to_version=after.version, changes=changes)


def _change(path: str, before: Any, after: Any, summary: str) -> ChangeData:
    return ChangeData(path=path, before=canonical(before), after=canonical(after), summary=summary)


def _short(text: object, width: int = 60) -> str:
    value = str(text)
    return value if len(value) <= width else value[: width - 1] + "…"


def _amount(value: Any, unit: str) -> str:
    if value is None:
        return "none"
    return f"{value}{unit}" if unit in ("%", "‰") else f"{value} {unit}".strip()


__all__: Sequence[str] = ["diff", "history_page", "in_force_on", "verify_chain", "version_at"]
