"""The auditor's timeline: every event of a contract with who, when recorded, the effective date,
session, reason and decision, filtered by kind and period; the contract at a version, as known
at a moment ("zoals bekend op") or in force on a date ("van kracht op"); the difference between
two versions; and the verification of the hash chain. Everything through `ContractQueries`."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.pages.common import UserDep, contracts_of, render
from api.pages.messages import FormInvalid, message_for, status_for
from api.pages.workspace import CONTRACT_ID, contract_context
from application import dutch
from application.errors import ApplicationError, ContractNotFound
from application.views import ChangeData, HistoryEntry
from domain.values import LOCAL_TIMEZONE

router = APIRouter(include_in_schema=False)

#: The most events one timeline page reads (pages of 200 from the history query).
MAX_EVENTS = 5000

EVENT_NL = {
    "ContractOpened": "Overeenkomst geopend",
    "ProviderAdmitted": "Aanbieder uitgenodigd",
    "ProviderAccepted": "Uitnodiging aanvaard",
    "ProviderDeclined": "Uitnodiging afgeslagen",
    "ProviderWithdrew": "Aanbieder teruggetreden",
    "StakeholderRegistered": "Belanghebbende geregistreerd",
    "SessionHeld": "Overleg gehouden",
    "ProposalSubmitted": "Voorstel ingediend",
    "ConsentGiven": "Ingestemd",
    "ProposalRejected": "Voorstel afgewezen",
    "ProposalWithdrawn": "Voorstel ingetrokken",
    "ProposalAgreed": "Voorstel aangenomen",
    "MeasurementRecorded": "Meting vastgelegd",
    "PublicationIssued": "Publicatie uitgebracht",
    "ResidentsConsulted": "Bewoners geraadpleegd",
    "EvaluationRecorded": "Evaluatie vastgelegd",
    "RecordCorrected": "Correctie",
    "ContractActivated": "Geactiveerd",
    "ContractSuspended": "Opgeschort",
    "ContractResumed": "Hervat",
    "ContractTerminated": "Beëindigd",
    "ContractCompleted": "Afgerond",
    "AccessGranted": "Toegang verleend",
    "AccessRevoked": "Toegang ingetrokken",
    "PersonalDataErased": "Persoonsgegevens gewist",
}


def event_label(kind: str) -> str:
    return EVENT_NL.get(kind, kind)


def _date(raw: str | None, label: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormInvalid(f"‘{label}’ is geen datum (jjjj-mm-dd).") from None


def _version(raw: str | None, label: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise FormInvalid(f"‘{label}’ is geen versienummer.")
    return int(raw)


def _moment(raw: str | None) -> datetime | None:
    """A `datetime-local` value, read as Dutch time."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise FormInvalid("‘Zoals bekend op’ is geen tijdstip.") from None
    return moment.replace(tzinfo=LOCAL_TIMEZONE) if moment.tzinfo is None else moment


def all_events(request: Request, user: Any, contract_id: str) -> list[HistoryEntry]:
    service = contracts_of(request)
    events: list[HistoryEntry] = []
    after = 0
    while len(events) < MAX_EVENTS:
        page = service.history(user, contract_id, after=after, limit=200)
        events.extend(page.items)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    return events


@router.get("/contracten/{contract_id}/tijdlijn")
def timeline(request: Request, user: UserDep, contract_id: str) -> HTMLResponse:
    q = {k: v.strip() for k, v in request.query_params.items() if len(v) <= 100}
    if not CONTRACT_ID.fullmatch(contract_id):
        return render(
            request,
            "fout.html",
            {"title": "Dat lukte niet", "message": message_for(ContractNotFound(""))},
            status=404,
        )
    service = contracts_of(request)
    error: str | None = None
    status = 200
    try:
        current = service.get_contract(user, contract_id)
        events = all_events(request, user, contract_id)
    except ApplicationError as problem:
        return render(
            request,
            "fout.html",
            {"title": "Dat lukte niet", "message": message_for(problem)},
            status=status_for(problem),
        )
    shown = events
    view = None
    view_label = None
    diff = None
    diff_lines: list[tuple[str, str]] = []
    verification = None
    try:
        kind = q.get("soort") or None
        start, end = _date(q.get("van"), "Van"), _date(q.get("tot"), "Tot en met")
        if kind:
            shown = [e for e in shown if e.type == kind]
        if start:
            low = datetime.combine(start, time.min, LOCAL_TIMEZONE)
            shown = [e for e in shown if e.recorded_at >= low]
        if end:
            high = datetime.combine(end, time.max, LOCAL_TIMEZONE)
            shown = [e for e in shown if e.recorded_at <= high]
        version = _version(q.get("versie"), "Versie")
        as_of = _moment(q.get("bekend"))
        in_force = _date(q.get("kracht"), "Van kracht op")
        if version is not None:
            view = service.get_contract(user, contract_id, version=version)
            view_label = f"Versie {version}"
        elif as_of is not None:
            view = service.get_contract(user, contract_id, as_of=as_of)
            view_label = f"Zoals bekend op {q.get('bekend', '').replace('T', ' ')}"
        elif in_force is not None:
            view = service.get_contract(user, contract_id, in_force_on=in_force)
            view_label = f"Van kracht op {in_force.isoformat()}"
        diff_from, diff_to = (
            _version(q.get("vanversie"), "Van versie"),
            _version(q.get("totversie"), "Tot versie"),
        )
        if diff_from is not None and diff_to is not None:
            diff = service.diff(user, contract_id, from_version=diff_from, to_version=diff_to)
            diff_lines = [(c.path, _with_why(c)) for c in diff.changes]
        if q.get("controleer"):
            verification = service.verify(user, contract_id)
    except (FormInvalid, ApplicationError) as problem:
        error = message_for(problem)
        status = status_for(problem)
    return render(
        request,
        "tijdlijn.html",
        {
            "title": f"Tijdlijn {current.reference}",
            "c": current,
            "events": shown,
            "total": len(events),
            "kinds": sorted({e.type for e in events}, key=event_label),
            "label": event_label,
            "q": q,
            "view": view,
            "view_label": view_label,
            "view_context": contract_context(user, view) if view is not None else None,
            "diff": diff,
            "diff_lines": diff_lines,
            "verification": verification,
            "error": error,
            "sessions": {s.session_id: s for s in current.sessions},
        },
        status=status,
    )


def _with_why(change: ChangeData) -> str:
    """The change in words (the application's Dutch), with the reason behind it."""
    why = change.why
    if why is None or not why.reason:
        return change.summary
    where = f", in de sessie van {dutch.day(why.session_held_on)}" if why.session_held_on else ""
    return f"{change.summary} — waarom: {why.reason}{where}"
