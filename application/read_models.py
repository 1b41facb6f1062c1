"""Read models kept from the event log: the contract list and the indicator dashboard.

A projection reads the application's notification log from its tracked position, folds the
touched contracts' current state into rows, and hands rows *and* the new position to a
`ReadModelStore` that writes both in one transaction — so each notification takes effect exactly
once, a restart catches up from where it stopped, and two processes catching up at once cannot
both advance from the same position.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from application.errors import StoreUnavailable
from domain.contract import Contract
from domain.indicators import Indicator, Measurement, on_track

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContractSummary:
    contract_id: str
    reference: str
    title: str
    status: str
    commissioner: str
    providers: tuple[str, ...]
    version: int
    updated_at: datetime
    head_digest: str
    #: the outside organisations the commissioner granted read access, each with the last day
    #: it holds (None: until revoked); revoked grants are left out. They only decide who sees
    #: the summary in a list (`visible_on`), so they take no part in comparing summaries.
    grants: tuple[tuple[str, date | None], ...] = field(default=(), compare=False)

    @property
    def parties(self) -> set[str]:
        return {self.commissioner, *self.providers}

    def visible_to(self, org: str, day: date) -> bool:
        """Whether `org` sees this contract in its list on `day`: as a member, or by a grant."""
        return org in self.parties or any(
            grantee == org and (until is None or day <= until) for grantee, until in self.grants
        )


@dataclass(frozen=True)
class IndicatorRow:
    contract_id: str
    indicator_id: str
    name: str
    version: int
    unit: str
    direction: str
    active: bool
    baseline_value: Decimal | None
    baseline_measured_on: date | None
    target_value: Decimal | None
    target_due_on: date | None
    latest_value: Decimal | None
    latest_period_end: date | None
    on_track: bool | None


@dataclass(frozen=True)
class SummaryFilter:
    """Which summaries a caller may see and asked for."""

    visible_to: str | None = None  # an organisation; None means every contract (rebuilds, tests)
    #: the day access grants are judged on (their `until`); None: grants give no access
    visible_on: date | None = None
    status: str | None = None
    text: str | None = None  # matched case-insensitively against reference and title
    after: tuple[str, str] | None = None  # keyset cursor: (reference, contract_id) of last row
    limit: int = 50


class ReadModelStore(Protocol):
    """Storage of the read models; each backend implements it with its own transactions."""

    def position(self) -> int:
        """The id of the last notification folded into the views (0 when none)."""

    def advance(
        self,
        from_position: int,
        to_position: int,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> bool:
        """In one transaction: if the stored position is still `from_position`, upsert the
        summaries, replace the indicator rows of each contract in `indicators`, and store
        `to_position`. Returns False (writing nothing) if another writer got there first."""

    def summaries(self, query: SummaryFilter) -> list[ContractSummary]:
        """Summaries ordered by (reference, contract_id), after the cursor, at most `limit`."""

    def visible_ids(self, org: str, on: date) -> set[str]:
        """The ids of every contract `org` may see on `on` (as `summaries` with `visible_to`
        and `visible_on` selects them), and nothing else of them."""

    def indicators(self, contract_id: str) -> list[IndicatorRow]:
        """The dashboard rows of one contract, ordered by name."""

    def clear(self) -> None:
        """Forget every row and the position."""

    def replace_all(
        self,
        position: int,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> None:
        """In one transaction: every row replaced by these, and the position set to `position`
        (a rebuild's swap: readers see the old rows or the new, never a mix)."""

    def close(self) -> None: ...


def summary_of(contract: Contract) -> ContractSummary:
    return ContractSummary(
        contract_id=contract.id.hex,
        reference=contract.reference,
        title=contract.title,
        status=str(contract.status),
        commissioner=contract.commissioner,
        # Invited providers see the contract in their list too (they are asked to accept it).
        providers=tuple(sorted(contract.members - {contract.commissioner})),
        grants=tuple(
            sorted(
                ((g.org, g.until) for g in contract.access_grants.values() if g.revoked_on is None),
                key=lambda grant: (grant[0], grant[1] or date.max),
            )
        ),
        version=contract.version,
        updated_at=contract.modified_on,
        head_digest=contract.head_digest,
    )


def dashboard_of(contract: Contract) -> list[IndicatorRow]:
    latest: dict[str, Measurement] = {}
    for measurement in contract.measurements.values():
        current = latest.get(measurement.indicator_id)
        if current is None or measurement.period.end >= current.period.end:
            latest[measurement.indicator_id] = measurement
    rows = [
        _indicator_row(contract.id.hex, indicator, latest.get(indicator.indicator_id))
        for indicator in contract.indicators.values()
    ]
    return sorted(rows, key=lambda row: (row.name, row.indicator_id))


def _indicator_row(
    contract_id: str, indicator: Indicator, latest: Measurement | None
) -> IndicatorRow:
    baseline, target = indicator.baseline, indicator.target
    return IndicatorRow(
        contract_id=contract_id,
        indicator_id=indicator.indicator_id,
        name=indicator.name,
        version=indicator.version,
        unit=indicator.unit,
        direction=str(indicator.direction),
        active=indicator.active,
        baseline_value=baseline.value if baseline else None,
        baseline_measured_on=baseline.measured_on if baseline else None,
        target_value=target.value if target else None,
        target_due_on=target.due_on if target else None,
        latest_value=latest.value if latest else None,
        latest_period_end=latest.period.end if latest else None,
        on_track=on_track(indicator, latest),
    )


@dataclass(frozen=True)
class Folded:
    """The read models as the whole log makes them: the rows, the position of the last
    notification they account for, and how many notifications were read."""

    position: int
    processed: int
    summaries: list[ContractSummary]
    indicators: dict[str, list[IndicatorRow]]


#: Organisations whose visible contracts a process keeps (`Projection.visible_ids`).
VISIBLE_KEPT = 1_000


@dataclass
class Projection:
    """Folds new notifications into a `ReadModelStore`.

    `load` returns the current state of a contract by its id (hex), or None for ids that are not
    contracts (index and idempotency records share the log). `rows_at_heads` makes every row
    from the whole log, each contract loaded once (`ContractStore.rows_at_heads`): the
    rebuild's."""

    store: ReadModelStore
    read_notifications: Callable[[int, int], Sequence[tuple[int, str, str]]]
    load: Callable[[str], Contract | None]
    rows_at_heads: Callable[[Callable[[int], None] | None], Folded]
    batch_size: int = 500
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Per (organisation, day): the contracts it may see, and the position the read models
    #: had folded in when they were read (`visible_ids`).
    _visible: dict[tuple[str, date], tuple[int, frozenset[str]]] = field(default_factory=dict)

    def visible_ids(self, org: str, on: date, position: int) -> frozenset[str]:
        """The ids of the contracts `org` may see on `on`, as the read models say once every
        notification up to `position` is folded in (they may say more): kept, and read again
        (after a catch-up) only for a later position than the one they were read at."""
        kept = self._visible.get((org, on))
        if kept is not None and kept[0] >= position:
            return kept[1]
        with self._lock:
            _, folded = self._fold()  # at least `position`: it was read from the log before
        ids = frozenset(self.store.visible_ids(org, on))
        if len(self._visible) >= VISIBLE_KEPT:
            self._visible.clear()
        self._visible[(org, on)] = (folded, ids)
        return ids

    def catch_up(
        self, progress: Callable[[int], None] | None = None, batch_size: int | None = None
    ) -> int:
        """Process every notification recorded so far; returns how many were processed."""
        with self._lock:
            return self._fold(progress, batch_size)[0]

    def _fold(
        self, progress: Callable[[int], None] | None = None, batch_size: int | None = None
    ) -> tuple[int, int]:
        """`catch_up` under its lock: how many were processed, and the position the store was
        at when nothing was left to fold."""
        processed = 0
        while True:
            start = self.store.position()
            batch = self.read_notifications(start + 1, batch_size or self.batch_size)
            if not batch:
                return processed, start
            end = batch[-1][0]
            summaries, indicators = rows_of(_contract_ids(batch), self.load)
            if self.store.advance(start, end, summaries, indicators):
                processed += len(batch)
                if progress is not None:
                    progress(len(batch))

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild while serving (blue/green): make every row anew beside the live ones, swap
        them in with one transaction, then catch up what was recorded meanwhile. Readers see
        the old lists until the swap and the new ones after it, never a half-built one. A
        catch-up by another process meanwhile is undone by the swap and redone from the
        swapped position (rows are upserts: folding a notification in again is harmless)."""
        folded = self.rows_at_heads(progress)
        with self._lock:
            self.store.replace_all(folded.position, folded.summaries, folded.indicators)
        return folded.processed + self.catch_up(progress)


def rows_of(
    contract_ids: Iterable[str],
    load: Callable[[str], Contract | None],
    loaded: Callable[[str], None] | None = None,
) -> tuple[list[ContractSummary], dict[str, list[IndicatorRow]]]:
    """The summary and dashboard rows of these contracts as `load` gives them (`loaded` is told
    of each id tried). One contract whose history no longer replays must not stop every
    organisation's list: it is skipped (its verification names the damage)."""
    summaries: list[ContractSummary] = []
    indicators: dict[str, list[IndicatorRow]] = {}
    for contract_id in contract_ids:
        try:
            contract = load(contract_id)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("read models: contract %s skipped", contract_id)
            contract = None
        if contract is not None:
            summaries.append(summary_of(contract))
            indicators[contract_id] = dashboard_of(contract)
        if loaded is not None:
            loaded(contract_id)
    return summaries, indicators


def _contract_ids(batch: Iterable[tuple[int, str, str]]) -> list[str]:
    """The distinct contract ids in a batch of (notification id, originator id, topic)."""
    seen: dict[str, None] = {}
    for _, originator_id, topic in batch:
        if topic.startswith("domain.events:"):
            seen.setdefault(originator_id, None)
    return list(seen)


__all__ = [
    "ContractSummary",
    "Folded",
    "IndicatorRow",
    "Projection",
    "ReadModelStore",
    "SummaryFilter",
]
