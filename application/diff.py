"""What changed between two versions of a contract, in words a council member understands."""

from __future__ import annotations

from typing import Any

from application.views import ChangeData, DiffData
from domain.chain import canonical
from domain.contract import Contract


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
