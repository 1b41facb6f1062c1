"""The residents' pages (issue 16, part 4): the contracts their commissioner made public, for
anyone, without signing in. What is public is decided by application/publicity.py (as for the
open data); these pages only show it. A contract that is not public, or no longer, or does not
exist, is the same Dutch 404."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.pages.charts import IndicatorChart, indicator_chart
from api.pages.common import PAGE_HEADERS, contracts_of, render
from api.pages.messages import message_for, status_for
from application.errors import ApplicationError, ContractNotFound
from application.open_data import public_contract, public_contracts
from application.publicity import PublicContract
from application.views import GoalData, IndicatorData
from domain.values import ORG_ID

router = APIRouter(include_in_schema=False)

CONTRACT_ID = re.compile(r"[0-9a-f]{32}")
NOT_PUBLIC = "Dit contract is niet openbaar, of het bestaat niet."
BACK = {"back_href": "/openbaar", "back_text": "Naar de openbare contracten"}
#: Who delivers a performance, in the words of the contract page.
DELIVERED_BY_NL = {
    "professional": "professionals",
    "residents": "inwoners",
    "mixed": "professionals en inwoners samen",
}


@dataclass(frozen=True)
class PublicGoal:
    goal: GoalData
    children: list[PublicGoal]
    indicators: list[IndicatorData]


def _not_found(request: Request, message: str = NOT_PUBLIC) -> HTMLResponse:
    return render(
        request, "fout.html", {"title": "Niet gevonden", "message": message, **BACK}, status=404
    )


def _failed(request: Request, error: ApplicationError) -> HTMLResponse:
    if isinstance(error, ContractNotFound):
        return _not_found(request)
    return render(
        request,
        "fout.html",
        {"title": "Dat lukte niet", "message": message_for(error), **BACK},
        status=status_for(error),
    )


def _groups(contracts: list[PublicContract]) -> list[tuple[str, list[PublicContract]]]:
    return [(org, list(items)) for org, items in groupby(contracts, key=lambda c: c.commissioner)]


@router.get("/openbaar")
def public_index(request: Request) -> HTMLResponse:
    try:
        contracts = public_contracts(contracts_of(request))
    except ApplicationError as error:
        return _failed(request, error)
    return render(
        request,
        "openbaar.html",
        {"title": "Openbare contracten", "groups": _groups(contracts), "commissioner": None},
    )


@router.get("/openbaar/contracten")
def public_contracts_path() -> RedirectResponse:
    return RedirectResponse("/openbaar", status_code=308, headers=PAGE_HEADERS)


@router.get("/openbaar/{commissioner}")
def public_of_commissioner(request: Request, commissioner: str) -> HTMLResponse:
    if not (3 <= len(commissioner) <= 64 and ORG_ID.fullmatch(commissioner)):
        return _not_found(request, "Deze opdrachtgever heeft geen openbare contracten.")
    try:
        contracts = [
            c for c in public_contracts(contracts_of(request)) if c.commissioner == commissioner
        ]
    except ApplicationError as error:
        return _failed(request, error)
    if not contracts:
        return _not_found(request, "Deze opdrachtgever heeft geen openbare contracten.")
    return render(
        request,
        "openbaar.html",
        {
            "title": f"Openbare contracten van {commissioner}",
            "groups": _groups(contracts),
            "commissioner": commissioner,
        },
    )


@router.get("/openbaar/contracten/{contract_id}")
def public_contract_page(request: Request, contract_id: str) -> HTMLResponse:
    if not CONTRACT_ID.fullmatch(contract_id):
        return _not_found(request)
    try:
        contract = public_contract(contracts_of(request), contract_id)
    except ApplicationError as error:
        return _failed(request, error)
    return render(
        request,
        "openbaar_contract.html",
        {"title": f"{contract.reference}: {contract.title}", **public_context(contract)},
    )


def public_context(contract: PublicContract) -> dict[str, Any]:
    goals = [g for g in contract.goals if g.status != "retired"]
    indicators = [i for i in contract.indicators if i.status != "retired"]
    known = {g.node_id for g in goals}
    by_goal: dict[str | None, list[IndicatorData]] = {}
    for indicator in indicators:
        home = indicator.result_id if indicator.result_id in known else None
        by_goal.setdefault(home, []).append(indicator)

    def node(goal: GoalData) -> PublicGoal:
        return PublicGoal(
            goal,
            [node(g) for g in goals if g.parent_id == goal.node_id],
            by_goal.get(goal.node_id, []),
        )

    charts: list[IndicatorChart] = [indicator_chart(i, contract.measurements) for i in indicators]
    return {
        "c": contract,
        "tree": [node(g) for g in goals if g.parent_id is None or g.parent_id not in known],
        "loose_indicators": by_goal.get(None, []),
        "charts": charts,
        "delivered_by": DELIVERED_BY_NL,
        "providers": {p.org: p.name for p in contract.providers},
    }
