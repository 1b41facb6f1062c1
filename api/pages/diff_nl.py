"""The difference between two versions in Dutch, for the timeline. `application/diff.py` decides
what changed (and says it in English for the API); this only words each change for a Dutch
reader, by its path, with names taken from the contract at the later version."""

from __future__ import annotations

from typing import Any

from api.pages.common import LEVEL_NL, STATUS_NL, datum, euro, number
from application.views import ChangeData, ContractData


def _q(text: Any) -> str:
    value = str(text or "")
    return "‘" + (value if len(value) <= 80 else value[:79] + "…") + "’"


def _value(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        return number(value["value"])
    return "geen" if value is None else number(value)


def in_dutch(change: ChangeData, before: ContractData, after: ContractData) -> str:
    parts = change.path.split(".")
    head, key = parts[0], parts[1] if len(parts) > 1 else ""
    tail = parts[2] if len(parts) > 2 else ""
    goals = {g.node_id: g for g in (*before.goals, *after.goals)}
    indicators = {i.indicator_id: i for i in (*before.indicators, *after.indicators)}
    proposals = {p.proposal_id: p for p in after.proposals}
    sessions = {s.session_id: s for s in after.sessions}
    publications = {p.publication_id: p for p in after.publications}
    providers = {p.org: p for p in after.providers}
    framework = after.financial_framework
    if head in ("title", "assignment"):
        label = "Titel" if head == "title" else "Opdracht"
        return f"{label} gewijzigd: {_q(change.before)} → {_q(change.after)}"
    if head == "status":
        return (
            f"Status {STATUS_NL.get(str(change.before), change.before)} → "
            f"{STATUS_NL.get(str(change.after), change.after)}"
        )
    if head == "term":
        return f"Looptijd loopt nu tot {datum(after.term.end)} (was {datum(before.term.end)})"
    if head == "financialFramework" and key == "ceiling":
        return f"Plafond {euro(change.before)} → {euro(change.after)}"
    if head == "financialFramework" and key == "allocations":
        return f"Budget voor {tail} {euro(change.before or 0)} → {euro(change.after or 0)}"
    if head == "financialFramework" and key == "cumulativeChangeValue":
        return (
            f"De overeengekomen wijzigingen zijn samen nu {euro(framework.cumulative_change_value)}"
            f" van de {euro(framework.change_limit)} die zonder nieuwe aanbesteding mag"
        )
    if head == "providers":
        name = providers[key].name if key in providers else key
        if not tail:
            return f"Aanbieder {name} uitgenodigd"
        return f"Aanbieder {name}: {STATUS_NL.get(str(change.after), change.after)}"
    if head == "goals" and key in goals:
        goal = goals[key]
        level = LEVEL_NL.get(goal.level, goal.level)
        if not tail:
            return f"{level} toegevoegd: {_q(goal.text)}"
        if tail == "status":
            return f"{level} {_q(goal.text)} ingetrokken"
        return f"{level} luidt nu {_q(change.after)} (was {_q(change.before)})"
    if head == "indicators" and key in indicators:
        name = _q(indicators[key].name)
        if not tail:
            return f"Indicator {name} afgesproken"
        if tail == "status":
            return f"Indicator {name} ingetrokken"
        if tail == "target":
            return f"Streefwaarde van {name}: {_value(change.before)} → {_value(change.after)}"
        return f"Indicator {name} opnieuw gedefinieerd (nieuwe versie)"
    if head == "proposals" and key in proposals:
        proposal = proposals[key]
        status = STATUS_NL.get(proposal.status, proposal.status).lower()
        return f"Voorstel {_q(proposal.rationale)}: {status}"
    if head == "sessions" and key in sessions:
        session = sessions[key]
        return f"Overleg gehouden op {datum(session.held_on)}: {_q(session.summary)}"
    if head == "measurements":
        count = len(after.measurements) - len(before.measurements)
        return f"{abs(count)} meting{'en' if abs(count) != 1 else ''} " + (
            "erbij" if count > 0 else "minder"
        )
    if head == "publications" and key in publications:
        publication = publications[key]
        return f"Gepubliceerd voor {publication.audience}: {_q(publication.summary)}"
    return change.summary  # a change this page does not word yet: the API's own sentence
