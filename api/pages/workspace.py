"""The contract manager's workspace: "Mijn contracten", the contract page and its forms.

Every form posts to `/contracten/{id}/{form}`; the command goes to `ContractService.handle`
like an API call. Done: back to the contract page with a message (303, so a reload never posts
twice). Refused: the same page again, the Dutch reason beside that form, the input kept."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.demo import Demo
from api.pages import forms
from api.pages.common import (
    LEVEL_NL,
    FormDep,
    UserDep,
    contracts_of,
    redirect,
    render,
)
from api.pages.forms import FORMS
from api.pages.messages import FormInvalid, message_for, status_for
from application.errors import ApplicationError, ContractNotFound, StoreUnavailable
from application.principal import Principal
from application.read_models import SummaryFilter
from application.rendering import latest_measurements
from application.views import ContractData, GoalData, IndicatorData, MeasurementData
from domain.errors import DomainError
from domain.values import SessionKind, local_date

router = APIRouter(include_in_schema=False)

CONTRACT_ID = re.compile(r"[0-9a-f]{32}")
OPENED = "De overeenkomst is geopend. Nodig nu de aanbieders uit."
SESSION_KIND_NL = {
    SessionKind.DIALOGUE: "Dialoogsessie",
    SessionKind.STEERING: "Stuurgroep",
    SessionKind.MONITORING: "Monitoring",
    SessionKind.EVALUATION: "Evaluatie",
    SessionKind.RESIDENTS: "Met inwoners",
    SessionKind.OTHER: "Anders",
}


@dataclass(frozen=True)
class Waiting:
    """Something that waits for the signed-in person's organisation on one contract."""

    contract_id: str
    reference: str
    what: str
    anchor: str


@router.get("/contracten")
def my_contracts(request: Request, user: UserDep) -> HTMLResponse:
    gelukt = request.query_params.get("gelukt", "")
    return _my_contracts(request, user, notice=FORMS[gelukt].done if gelukt in FORMS else None)


@router.post("/contracten/nieuw")
def open_contract(request: Request, user: UserDep, form: FormDep) -> Response:
    """ "Nieuwe overeenkomst": the signed-in person's organisation opens it as commissioner."""
    try:
        result = contracts_of(request).handle(user, forms.open_contract(form, user))
    except (FormInvalid, ApplicationError, DomainError, ValueError) as error:
        if isinstance(error, ValueError) and not isinstance(error, FormInvalid | DomainError):
            error = FormInvalid("Een van de ingevulde waarden is niet geldig.")
        return _my_contracts(
            request, user, error=message_for(error), values=form, status=status_for(error)
        )
    return redirect(f"/contracten/{result.contract_id}?gelukt=nieuw")


def _my_contracts(
    request: Request,
    user: Principal,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> HTMLResponse:
    service = contracts_of(request)
    try:
        summaries = service.list_contracts(user, SummaryFilter(limit=100))
    except StoreUnavailable as problem:
        return render(request, "fout.html", _error_page(problem), status=503)
    waiting: list[Waiting] = []
    for summary in summaries:
        try:
            contract = service.get_contract(user, summary.contract_id)
        except ApplicationError:
            continue
        waiting.extend(waiting_for(user, contract))
    return render(
        request,
        "contracten.html",
        {
            "title": "Mijn contracten",
            "notice": notice,
            "summaries": summaries,
            "waiting": waiting,
            "can_open": user.can_write(),
            "failed": "nieuw" if error else None,
            "error": error,
            "values": values or {},
        },
        status=status,
    )


def waiting_for(user: Principal, contract: ContractData) -> list[Waiting]:
    items = [
        Waiting(
            contract.id,
            contract.reference,
            "Uitnodiging om partij te worden",
            "uitnodiging",
        )
        for p in contract.providers
        if p.org == user.org and p.status == "invited"
    ]
    items += [
        Waiting(
            contract.id,
            contract.reference,
            f"Voorstel wacht op uw instemming: {p.rationale}",
            f"voorstel-{p.proposal_id}",
        )
        for p in contract.proposals
        if p.status == "open" and user.org in p.awaiting
    ]
    return items


@router.post("/contracten/demo")
def load_demo(request: Request, user: UserDep, form: FormDep) -> Response:
    """One click for a newcomer (development sign-in only): the demo contract, told through the
    application layer as `dialoog demo` tells it."""
    if not request.app.state.pages.dev_signin:
        return render(request, "fout.html", {"title": "Niet gevonden"}, status=404)
    contract_id = Demo(contracts_of(request)).load()
    return redirect(f"/contracten/{contract_id}")


@router.get("/contracten/{contract_id}")
def contract_page(request: Request, user: UserDep, contract_id: str) -> HTMLResponse:
    gelukt = request.query_params.get("gelukt", "")
    notice = FORMS[gelukt].done if gelukt in FORMS else OPENED if gelukt == "nieuw" else None
    return _contract_response(request, user, contract_id, notice=notice)


@router.post("/contracten/{contract_id}/{form_name}")
def submit_form(
    request: Request, user: UserDep, contract_id: str, form_name: str, form: FormDep
) -> Response:
    page_form = FORMS.get(form_name)
    if page_form is None or not CONTRACT_ID.fullmatch(contract_id):
        return render(request, "fout.html", {"title": "Niet gevonden"}, status=404)
    try:
        command = page_form.read(contract_id, form, user)
        contracts_of(request).handle(user, command)
    except (FormInvalid, ApplicationError, DomainError, ValueError) as error:
        if isinstance(error, ValueError) and not isinstance(error, FormInvalid | DomainError):
            error = FormInvalid("Een van de ingevulde waarden is niet geldig.")
        return _contract_response(
            request,
            user,
            contract_id,
            failed=form_name,
            error=message_for(error),
            values=form,
            status=status_for(error),
        )
    if form_name == "aanbieder-terugtrekken" and form.get("aanbieder") == user.org:
        # The organisation left the contract: it is no longer one of its (it cannot read it).
        return redirect("/contracten?gelukt=aanbieder-terugtrekken")
    return redirect(f"/contracten/{contract_id}?gelukt={form_name}#{_anchor(form_name, form)}")


def _anchor(form_name: str, form: dict[str, str]) -> str:
    if form_name in {"instemmen", "afwijzen", "intrekken"}:
        return f"voorstel-{form.get('voorstel', '')}"
    return form_name


def _contract_response(
    request: Request,
    user: Principal,
    contract_id: str,
    *,
    notice: str | None = None,
    failed: str | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    if not CONTRACT_ID.fullmatch(contract_id):
        return render(request, "fout.html", _error_page(ContractNotFound("")), status=404)
    try:
        contract = contracts_of(request).get_contract(user, contract_id)
    except ApplicationError as problem:
        return render(request, "fout.html", _error_page(problem), status=status_for(problem))
    context = contract_context(user, contract)
    open_ids = {p.proposal_id for p in context["open_proposals"]}
    beside_its_form = failed in FORMS and not (
        failed in {"instemmen", "afwijzen", "intrekken"}
        and (values or {}).get("voorstel") not in open_ids
    )
    return render(
        request,
        "contract.html",
        {
            "title": f"{contract.reference} — {contract.title}",
            "c": contract,
            **context,
            "error_at_top": bool(error) and not beside_its_form,
            "notice": notice,
            "failed": failed,
            "error": error,
            "values": values or {},
        },
        status=status,
        # As read, it depends on the version, the person and the day: kept per those.
        kept_as=None
        if notice or failed or error or values or status != 200
        else (
            "contract",
            contract.id,
            contract.version,
            contract.head_digest,
            user.subject,
            user.name,
            user.org,
            tuple(sorted(user.roles)),
            local_date(datetime.now(UTC)),
        ),
    )


@dataclass(frozen=True)
class GoalNode:
    goal: GoalData
    children: list[GoalNode]
    indicators: list[tuple[IndicatorData, MeasurementData | None]]


def goal_tree(contract: ContractData) -> list[GoalNode]:
    latest = latest_measurements(contract.measurements)
    by_result: dict[str | None, list[IndicatorData]] = {}
    for indicator in contract.indicators:
        by_result.setdefault(indicator.result_id, []).append(indicator)

    def node(goal: GoalData) -> GoalNode:
        return GoalNode(
            goal,
            [node(g) for g in contract.goals if g.parent_id == goal.node_id],
            [(i, latest.get(i.indicator_id)) for i in by_result.get(goal.node_id, [])],
        )

    known = {g.node_id for g in contract.goals}
    return [node(g) for g in contract.goals if g.parent_id is None or g.parent_id not in known]


def contract_context(user: Principal, contract: ContractData) -> dict[str, Any]:
    framework = contract.financial_framework
    limit = framework.change_limit
    parties = {contract.commissioner.org, *(p.org for p in contract.providers)}
    open_proposals = [p for p in contract.proposals if p.status == "open"]
    latest = latest_measurements(contract.measurements)
    results = {g.node_id for g in contract.goals}
    return {
        "tree": goal_tree(contract),
        #: indicators agreed without a result (or under one no longer known), with their latest
        "loose_indicators": [
            (i, latest.get(i.indicator_id))
            for i in contract.indicators
            if i.result_id is None or i.result_id not in results
        ],
        "limit_percent": (
            int(framework.cumulative_change_value * 100 / limit) if limit > Decimal(0) else 0
        ),
        "ceiling_percent": (
            int(framework.allocated * 100 / framework.ceiling) if framework.ceiling else 0
        ),
        "can_write": user.can_write() and user.org in parties,
        "can_audit": user.can_audit(),
        "is_commissioner": user.org == contract.commissioner.org,
        "open_proposals": open_proposals,
        "closed_proposals": [p for p in contract.proposals if p.status != "open"],
        "waiting": waiting_for(user, contract),
        "session_kinds": SESSION_KIND_NL,
        "results": [g for g in contract.goals if g.level == "result" and g.status != "retired"],
        "active_goals": [g for g in contract.goals if g.status != "retired"],
        "active_indicators": [i for i in contract.indicators if i.status != "retired"],
        "active_providers": [p for p in contract.providers if p.status == "active"],
        # who can leave: the commissioner lets any provider go (or takes back an invitation);
        # a provider withdraws only itself
        "withdrawable_options": [
            (p.org, f"{p.name} ({'uitgenodigd' if p.status == 'invited' else 'actief'})")
            for p in contract.providers
            if (p.status == "active" and user.org in (p.org, contract.commissioner.org))
            or (p.status == "invited" and user.org == contract.commissioner.org)
        ],
        "grant_options": [
            (g.grant_id, f"{g.org} ({g.role}){' tot ' + g.until.isoformat() if g.until else ''}")
            for g in contract.access_grants
            if g.revoked_on is None
        ],
        "sessions_newest_first": sorted(contract.sessions, key=lambda s: s.held_on, reverse=True),
        "sessions_options": [
            (s.session_id, f"{s.held_on.isoformat()} — {s.summary[:60]}")
            for s in sorted(contract.sessions, key=lambda s: s.held_on, reverse=True)
        ],
        "goal_options": [
            (g.node_id, f"{LEVEL_NL.get(g.level, g.level)}: {g.text[:60]}")
            for g in contract.goals
            if g.status != "retired" and g.level != "performance"
        ],
        # Every active goal, for a revision or retirement (the value names its level: a change
        # must name the level of the node it changes).
        "goal_change_options": [
            (f"{g.level}:{g.node_id}", f"{LEVEL_NL.get(g.level, g.level)}: {g.text[:60]}")
            for g in contract.goals
            if g.status != "retired"
        ],
        "result_options": [
            (g.node_id, g.text[:80])
            for g in contract.goals
            if g.level == "result" and g.status != "retired"
        ],
        "indicator_options": [
            (i.indicator_id, f"{i.name} ({i.unit})")
            for i in contract.indicators
            if i.status != "retired"
        ],
    }


def _error_page(error: Exception) -> dict[str, Any]:
    return {"title": "Dat lukte niet", "message": message_for(error)}
