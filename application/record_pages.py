"""The collections that grow with a contract's history — sessions, measurements, proposals,
publications, consultations, evaluations, corrections — a page at a time, oldest first.

Each page renders only its own records; the cursor is the number of records before it (they are
only ever appended, so a cursor stays valid as the contract grows)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

from application import rendering
from application.views import (
    ConsultationPage,
    CorrectionPage,
    Data,
    EvaluationPage,
    MeasurementPage,
    ProposalPage,
    PublicationPage,
    SessionPage,
)
from domain.contract import Contract

#: kind → (the records in recorded order, how one is rendered, the page model)
COLLECTIONS: dict[str, tuple[Callable[[Contract], Any], Callable[[Contract, Any], Any], type]] = {
    "sessions": (
        lambda c: c.sessions.values(),
        lambda c, s: rendering.session_data(s),
        SessionPage,
    ),
    "measurements": (
        lambda c: c.measurements.values(),
        lambda c, m: rendering.measurement_data(m),
        MeasurementPage,
    ),
    "proposals": (lambda c: c.proposals.values(), rendering.proposal_data, ProposalPage),
    "publications": (
        lambda c: c.publications,
        lambda c, p: rendering.publication_data(p),
        PublicationPage,
    ),
    "consultations": (
        lambda c: c.consultations,
        lambda c, x: rendering.consultation_data(x),
        ConsultationPage,
    ),
    "evaluations": (
        lambda c: c.evaluations,
        lambda c, e: rendering.evaluation_data(e),
        EvaluationPage,
    ),
    "corrections": (lambda c: c.corrections, rendering.correction_data, CorrectionPage),
}


def page_of(contract: Contract, kind: str, *, after: int, limit: int) -> Data:
    """Records `after`+1 … `after`+`limit` of one collection, and the cursor of the next page
    (None on the last)."""
    records, render, model = COLLECTIONS[kind]
    every: Sequence[Any] | Any = records(contract)
    chosen = list(islice(every, after, after + limit + 1))
    items = [render(contract, record) for record in chosen[:limit]]
    more = len(chosen) > limit
    page: Data = model(items=items, next_cursor=after + limit if more else None)
    return page
