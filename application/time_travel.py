"""Time travel: the contract at a version, as recorded at a moment, or in force on a date.

Semantics (docs/AUDIT.md says the same for users):
* state at version N — the events 1..N applied (from the nearest snapshot);
* state as recorded at moment T — the last version whose recorded time is ≤ T, found by binary
  search over the stored events (versions are recorded in time order), then as above;
* state in force on date D, as known now — every event recorded so far whose effective date is
  on or before D, applied in recorded order; later-dated events are left out. Because no fact
  may take effect before a fact it depends on (`domain.timeline`), that state satisfies every
  rule the current state does. Its `version` and `head_digest` are those of the history it was
  computed from (the latest version), not of any one event: it is a view, not a version. Before
  the opening took effect there is no such state (`NotInForce`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper

from application.errors import HistoryCorrupt, NotInForce
from domain.chain import GENESIS_DIGEST
from domain.contract import Contract
from domain.events import ContractEvent, ProposalAgreed


def version_at(
    recorder: ApplicationRecorder,
    mapper: Mapper[UUID],
    contract_id: UUID,
    head: int,
    moment: datetime,
) -> int | None:
    """The last version recorded at or before `moment` (None if the contract is younger)."""
    low, high, found = 1, head, None
    while low <= high:
        middle = (low + high) // 2
        if _recorded_at(recorder, mapper, contract_id, middle) <= moment:
            found, low = middle, middle + 1
        else:
            high = middle - 1
    return found


def _recorded_at(
    recorder: ApplicationRecorder, mapper: Mapper[UUID], contract_id: UUID, version: int
) -> datetime:
    found = recorder.select_events(contract_id, gt=version - 1, lte=version)
    if len(found) != 1:
        raise HistoryCorrupt(f"version {version} is missing from the stored history")
    try:
        event = mapper.to_domain_event(found[0])
    except (ValueError, TypeError, KeyError) as error:
        raise HistoryCorrupt(f"version {version} cannot be read as an event") from error
    if not isinstance(event, ContractEvent):
        raise HistoryCorrupt(f"version {version} is not an event of a contract")
    return event.timestamp


def in_force_on(events: Iterable[Any], day: date) -> Contract:
    contract: Contract | None = None
    last: Any = None
    prior = GENESIS_DIGEST
    for event in events:
        if event.prior_digest != prior:  # the view leaves events out: follow the chain here
            raise HistoryCorrupt(
                f"version {event.originator_version} does not follow the digest of the version "
                "before it; ask for its verification"
            )
        prior = event.digest
        last = event
        if contract is None:
            if event.effective_on > day:
                raise NotInForce(
                    f"the contract's opening took effect on {event.effective_on}, after {day}"
                )
            contract = event.mutate(None)
            continue
        if event.effective_on <= day:
            if isinstance(event, ProposalAgreed) and event.proposal_id not in contract.proposals:
                # Agreed later with effect from an earlier date: the change is in force on
                # `day`, the dialogue that led to it is not part of this view.
                event.apply_change(contract)
            else:
                event.apply_in_view(contract)
    if contract is None:
        raise ValueError("a contract has at least one event")
    # The view stands on the whole history known now: name its head, not the last event applied.
    contract.version = last.originator_version
    contract.modified_on = last.timestamp
    contract.head_digest = last.digest
    return contract
