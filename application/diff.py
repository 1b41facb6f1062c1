"""What changed between two versions of a contract, in words a council member understands.

Dutch by default (English on request), full texts, organisations by name, euros as
`€ 1.220.000,00`, and for every change the event behind it: who, in which version, the proposal,
the session it was agreed in, the reason and the decision."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from application import dutch
from application.views import ActorData, ChangeData, DiffData, WhyData
from domain.chain import canonical
from domain.contract import Contract
from domain.events import (
    ContractEvent,
    MeasurementRecorded,
    ProposalAgreed,
    ProposalRejected,
    ProposalSubmitted,
    ProposalWithdrawn,
    PublicationIssued,
    SessionHeld,
)
from domain.goals import GoalChange
from domain.indicators import IndicatorChange
from domain.proposals import Change, ChangePackage, ScopeRefinement

LANGUAGES = ("nl", "en")

#: message → (Dutch, English); {placeholders} filled in by `Words.say`.
MESSAGES = {
    "title": ("Titel gewijzigd: ‘{old}’ → ‘{new}’", "Title changed: ‘{old}’ → ‘{new}’"),
    "status": ("Status: {old} → {new}", "Status: {old} → {new}"),
    "assignment": (
        "Opdracht aangescherpt. Was: ‘{old}’. Nu: ‘{new}’",
        "Assignment refined. Was: ‘{old}’. Now: ‘{new}’",
    ),
    "term": (
        "Looptijd eindigt nu op {new} (was {old})",
        "Term now ends {new} (was {old})",
    ),
    "ceiling": ("Plafond {old} → {new}", "Ceiling {old} → {new}"),
    "allocation": ("Budget voor {org}: {old} → {new}", "Allocation to {org}: {old} → {new}"),
    "cumulative": (
        "Overeengekomen wijzigingen samen nu {new} van de {limit} die zonder nieuwe aanbesteding "
        "mogen",
        "Agreed changes now total {new} of the {limit} allowed without a new tender",
    ),
    "provider-admitted": ("Aanbieder {org} uitgenodigd", "Provider {org} invited"),
    "provider-status": ("Aanbieder {org}: {new}", "Provider {org} {new}"),
    "goal-new": ("Nieuw in de doelenboom ({level}): ‘{text}’", "New {level}: ‘{text}’"),
    "goal-retired": ("{Level} ‘{text}’ vervallen", "{Level} ‘{text}’ retired"),
    "goal-text": (
        "{Level} luidde ‘{old}’ en luidt nu ‘{new}’",
        "{Level} read ‘{old}’ and now reads ‘{new}’",
    ),
    "indicator-new": ("Indicator ‘{name}’ afgesproken", "Indicator ‘{name}’ agreed"),
    "indicator-retired": ("Indicator ‘{name}’ vervallen", "Indicator ‘{name}’ retired"),
    "indicator-target": (
        "Streefwaarde van indicator ‘{name}’: {old} → {new}",
        "Indicator ‘{name}’ target {old} → {new}",
    ),
    "indicator-definition": (
        "Indicator ‘{name}’ anders gedefinieerd (versie {old_version} → {new_version}): ‘{new}’",
        "Indicator ‘{name}’ redefined (version {old_version} → {new_version}): ‘{new}’",
    ),
    "proposal": (
        "Voorstel ‘{rationale}’ ({kind}): {status}",
        "Proposal ‘{rationale}’ ({kind}) {status}",
    ),
    "session": ("Dialoogsessie op {day}: {summary}", "Session held on {day}: {summary}"),
    "measurements": (
        "{count} meting(en) vastgelegd",
        "{count} measurement(s) recorded",
    ),
    "publication": (
        "Gepubliceerd voor {audience}: {summary}",
        "Published to {audience}: {summary}",
    ),
    "none": ("geen", "none"),
}


class Words:
    """How values are written in one language."""

    def __init__(self, language: str) -> None:
        self.english = language == "en"

    def say(self, message: str, **values: Any) -> str:
        template = MESSAGES[message][1 if self.english else 0]
        level = str(values.get("level", ""))
        return template.format(**values, Level=level[:1].upper() + level[1:])

    def word(self, value: object) -> str:
        return str(value) if self.english else dutch.word(value)

    def euros(self, amount: Decimal | None) -> str:
        if amount is None:
            return self.say("none")
        if self.english:
            return ("-" if amount < 0 else "") + f"€{abs(amount):,.2f}"  # €1,220,000.00
        return dutch.euros(amount)

    def day(self, value: date | None) -> str:
        if value is None:
            return self.say("none")
        return value.isoformat() if self.english else dutch.day(value)

    def amount(self, value: Decimal | None, unit: str) -> str:
        if value is None:
            return self.say("none")
        number = str(value) if self.english else dutch.number(value)
        return f"{number}{unit}" if unit in ("%", "‰") else f"{number} {unit}".strip()


def language_of(accept_language: str | None) -> str:
    """The language to answer in: the first of `nl` and `en` the header prefers (RFC 9110
    §12.5.4, with q-values), Dutch when it names neither."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "nl"


def diff(
    before: Contract,
    after: Contract,
    events: Iterable[ContractEvent] = (),
    language: str = "nl",
) -> DiffData:
    """The differences between two states; `events` are the ones recorded between them, which
    say why each difference came about."""
    words = Words(language)
    why = _Provenance(after, list(events), words)
    changes: list[ChangeData] = []

    def add(path: str, old: Any, new: Any, summary: str) -> None:
        changes.append(
            ChangeData(
                path=path,
                before=canonical(old),
                after=canonical(new),
                summary=summary,
                why=why.of(path),
            )
        )

    def org(org_id: str) -> str:
        provider = after.providers.get(org_id) or before.providers.get(org_id)
        return provider.name if provider is not None else org_id

    if before.title != after.title:
        add(
            "title",
            before.title,
            after.title,
            words.say("title", old=before.title, new=after.title),
        )
    if before.status != after.status:
        old, new = words.word(before.status), words.word(after.status)
        add("status", str(before.status), str(after.status), words.say("status", old=old, new=new))
    if before.assignment != after.assignment:
        add(
            "assignment",
            before.assignment,
            after.assignment,
            words.say("assignment", old=before.assignment, new=after.assignment),
        )
    if before.term != after.term:
        old_end, new_end = words.day(before.term.end), words.day(after.term.end)
        add(
            "term.end", before.term.end, after.term.end, words.say("term", old=old_end, new=new_end)
        )
    _money(before, after, words, add, org)
    for org_id in sorted(set(before.providers) | set(after.providers)):
        old_p, new_p = before.providers.get(org_id), after.providers.get(org_id)
        if old_p is None and new_p is not None:
            add(
                f"providers.{org_id}",
                None,
                str(new_p.status),
                words.say("provider-admitted", org=new_p.name),
            )
        elif old_p is not None and new_p is not None and old_p.status != new_p.status:
            add(
                f"providers.{org_id}.status",
                str(old_p.status),
                str(new_p.status),
                words.say("provider-status", org=new_p.name, new=words.word(new_p.status)),
            )
    _goals(before, after, words, add)
    _indicators(before, after, words, add)
    for proposal_id, proposal in after.proposals.items():
        old_prop = before.proposals.get(proposal_id)
        if old_prop is None or old_prop.status != proposal.status:
            add(
                f"proposals.{proposal_id}.status",
                str(old_prop.status) if old_prop else None,
                str(proposal.status),
                words.say(
                    "proposal",
                    rationale=proposal.rationale,
                    kind=words.word(proposal.kind),
                    status=words.word(proposal.status),
                ),
            )
    for session_id, session in after.sessions.items():
        if session_id not in before.sessions:
            add(
                f"sessions.{session_id}",
                None,
                session.held_on,
                words.say("session", day=words.day(session.held_on), summary=session.summary),
            )
    measured = len(after.measurements) - len(before.measurements)
    if measured:
        add(
            "measurements",
            len(before.measurements),
            len(after.measurements),
            words.say("measurements", count=abs(measured)),
        )
    for publication in after.publications[len(before.publications) :]:
        add(
            f"publications.{publication.publication_id}",
            None,
            publication.summary,
            words.say("publication", audience=publication.audience, summary=publication.summary),
        )
    return DiffData(
        from_version=before.version,
        to_version=after.version,
        language=language,
        changes=changes,
    )


Add = Callable[[str, Any, Any, str], None]


def _money(
    before: Contract, after: Contract, words: Words, add: Add, org: Callable[[str], str]
) -> None:
    fb, fa = before.framework, after.framework
    if fb.ceiling != fa.ceiling:
        old, new = words.euros(fb.ceiling), words.euros(fa.ceiling)
        add(
            "financialFramework.ceiling",
            fb.ceiling,
            fa.ceiling,
            words.say("ceiling", old=old, new=new),
        )
    for org_id in sorted(set(fb.allocations) | set(fa.allocations)):
        old_amount, new_amount = fb.allocations.get(org_id), fa.allocations.get(org_id)
        if old_amount != new_amount:
            add(
                f"financialFramework.allocations.{org_id}",
                old_amount,
                new_amount,
                words.say(
                    "allocation",
                    org=org(org_id),
                    old=words.euros(old_amount or Decimal("0.00")),
                    new=words.euros(new_amount or Decimal("0.00")),
                ),
            )
    if fb.cumulative_change_value != fa.cumulative_change_value:
        add(
            "financialFramework.cumulativeChangeValue",
            fb.cumulative_change_value,
            fa.cumulative_change_value,
            words.say(
                "cumulative",
                new=words.euros(fa.cumulative_change_value),
                limit=words.euros(fa.change_limit),
            ),
        )


def _goals(before: Contract, after: Contract, words: Words, add: Add) -> None:
    for node_id, node in after.goals.items():
        old_node = before.goals.get(node_id)
        level = words.word(node.level)
        if old_node is None:
            add(
                f"goals.{node_id}",
                None,
                node.text,
                words.say("goal-new", level=level, text=node.text),
            )
        elif old_node.active and not node.active:
            add(
                f"goals.{node_id}.status",
                "active",
                "retired",
                words.say("goal-retired", level=level, text=node.text),
            )
        elif old_node.text != node.text:
            add(
                f"goals.{node_id}.text",
                old_node.text,
                node.text,
                words.say("goal-text", level=level, old=old_node.text, new=node.text),
            )


def _indicators(before: Contract, after: Contract, words: Words, add: Add) -> None:
    for indicator_id, ind in after.indicators.items():
        old_ind = before.indicators.get(indicator_id)
        if old_ind is None:
            add(
                f"indicators.{indicator_id}",
                None,
                ind.name,
                words.say("indicator-new", name=ind.name),
            )
            continue
        if old_ind.active and not ind.active:
            add(
                f"indicators.{indicator_id}.status",
                "active",
                "retired",
                words.say("indicator-retired", name=ind.name),
            )
        old_target = old_ind.target.value if old_ind.target else None
        new_target = ind.target.value if ind.target else None
        if old_target != new_target:
            add(
                f"indicators.{indicator_id}.target",
                old_target,
                new_target,
                words.say(
                    "indicator-target",
                    name=ind.name,
                    old=words.amount(old_target, old_ind.unit),
                    new=words.amount(new_target, ind.unit),
                ),
            )
        if old_ind.definition != ind.definition:
            add(
                f"indicators.{indicator_id}.definition",
                old_ind.definition,
                ind.definition,
                words.say(
                    "indicator-definition",
                    name=ind.name,
                    old_version=old_ind.version,
                    new_version=ind.version,
                    new=ind.definition,
                ),
            )


class _Provenance:
    """Which event (between the two versions) made the difference at a path, and why."""

    def __init__(self, after: Contract, events: list[ContractEvent], words: Words) -> None:
        self.after = after
        self.words = words
        self.by_path: list[tuple[str, ContractEvent]] = []
        for event in events:
            for path in _paths(event):
                self.by_path.append((path, event))

    def of(self, path: str) -> WhyData | None:
        found = None
        for key, event in self.by_path:
            if path == key or path.startswith(key + "."):
                found = event  # the last one counts
        if found is None:
            return None
        session = self.after.sessions.get(found.session_id or "")
        return WhyData(
            version=found.originator_version,
            event=type(found).__name__,
            by=ActorData.of(found.actor),
            effective_on=found.effective_on,
            proposal_id=getattr(found, "proposal_id", None),
            session_id=found.session_id,
            session_held_on=session.held_on if session is not None else None,
            reason=found.reason or None,
            decision_ref=found.decision_ref,
        )


def _paths(event: ContractEvent) -> list[str]:
    org = getattr(event, "org", None)
    if org is not None:
        return [f"providers.{org}", f"financialFramework.allocations.{org}"]
    if isinstance(event, ProposalAgreed):
        return [f"proposals.{event.proposal_id}", *_change_paths(event.change)]
    if isinstance(event, ProposalSubmitted | ProposalRejected | ProposalWithdrawn):
        return [f"proposals.{event.proposal_id}"]
    if isinstance(event, SessionHeld):
        return [f"sessions.{event.session_id}"]
    if isinstance(event, MeasurementRecorded):
        return ["measurements"]
    if isinstance(event, PublicationIssued):
        return [f"publications.{event.publication_id}"]
    name = type(event).__name__
    if name.startswith("Contract") and name != "ContractOpened":
        return ["status"]
    return []


def _change_paths(change: Change) -> list[str]:
    if isinstance(change, ChangePackage):
        return [path for part in change.changes for path in _change_paths(part)]
    if isinstance(change, ScopeRefinement):
        return ["assignment"]
    if isinstance(change, GoalChange):
        return [f"goals.{change.node_id}"]
    if isinstance(change, IndicatorChange):
        return [f"indicators.{change.indicator_id}"]
    return ["financialFramework", "term"]  # an adjustment
