"""The read models in process memory: the in-memory store's, and the reference the SQL stores
are tested against."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date

from application.read_models import ContractSummary, IndicatorRow, SummaryFilter


class MemoryReadModels:
    """The read models in process memory (tests and the in-memory store)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position = 0
        self._summaries: dict[str, ContractSummary] = {}
        self._indicators: dict[str, list[IndicatorRow]] = {}

    def position(self) -> int:
        return self._position

    def advance(
        self,
        from_position: int,
        to_position: int,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> bool:
        with self._lock:
            if self._position != from_position:
                return False
            for summary in summaries:
                self._summaries[summary.contract_id] = summary
            self._indicators.update({k: list(v) for k, v in indicators.items()})
            self._position = to_position
            return True

    def summaries(self, query: SummaryFilter) -> list[ContractSummary]:
        rows = sorted(self._summaries.values(), key=lambda s: (s.reference, s.contract_id))
        selected = []
        for row in rows:
            if query.after is not None and (row.reference, row.contract_id) <= query.after:
                continue
            if query.visible_to is not None and not (
                query.visible_to in row.parties
                or (
                    query.visible_on is not None
                    and row.visible_to(query.visible_to, query.visible_on)
                )
            ):
                continue
            if query.status is not None and row.status != query.status:
                continue
            text = (query.text or "").casefold()
            if text and text not in row.reference.casefold() and text not in row.title.casefold():
                continue
            selected.append(row)
            if len(selected) == query.limit:
                break
        return selected

    def visible_ids(self, org: str, on: date) -> set[str]:
        with self._lock:
            rows = list(self._summaries.values())
        return {row.contract_id for row in rows if org in row.parties or row.visible_to(org, on)}

    def indicators(self, contract_id: str) -> list[IndicatorRow]:
        return list(self._indicators.get(contract_id, []))

    def clear(self) -> None:
        with self._lock:
            self._position = 0
            self._summaries.clear()
            self._indicators.clear()

    def replace_all(
        self,
        position: int,
        summaries: Sequence[ContractSummary],
        indicators: dict[str, list[IndicatorRow]],
    ) -> None:
        fresh = {summary.contract_id: summary for summary in summaries}
        rows = {k: list(v) for k, v in indicators.items()}
        with self._lock:
            self._summaries, self._indicators, self._position = fresh, rows, position

    def close(self) -> None:
        pass
