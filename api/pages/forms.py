"""The contract page's forms: each one reads its fields (Dutch names, strings) into one command of
the application layer. What the rules allow is decided there, not here: a form only says when
a field cannot be read at all (a date that is no date, an amount that is no amount)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from api.pages.messages import FormInvalid
from application.commands import (
    AcceptInvitation,
    ActivateContract,
    AdmitProvider,
    CompleteContract,
    ConsultResidents,
    ContractCommand,
    DiscloseContract,
    GiveConsent,
    GrantAccess,
    HoldSession,
    IssuePublication,
    OpenContract,
    RecordEvaluation,
    RecordMeasurement,
    RejectProposal,
    ResumeContract,
    RevokeAccess,
    SubmitProposal,
    SuspendContract,
    TerminateContract,
    WithdrawDisclosure,
    WithdrawProposal,
    WithdrawProvider,
)
from application.principal import Principal
from domain.goals import ChangeAction, DeliveredBy, GoalChange, GoalLevel
from domain.indicators import Baseline, Direction, IndicatorChange, Target
from domain.money import Adjustment
from domain.proposals import Change, ChangePackage, ScopeRefinement
from domain.values import AccessRole, Allocation, Participant, Period, ProcedureKind

MAX_TEXT = 10_000


def text(form: dict[str, str], name: str, label: str, *, required: bool = True) -> str:
    value = form.get(name, "").strip()
    if required and not value:
        raise FormInvalid(f"Vul ‘{label}’ in.")
    if len(value) > MAX_TEXT:
        raise FormInvalid(f"‘{label}’ is te lang (ten hoogste {MAX_TEXT} tekens).")
    return value


def optional(form: dict[str, str], name: str, label: str) -> str | None:
    return text(form, name, label, required=False) or None


def day(form: dict[str, str], name: str, label: str) -> date:
    value = text(form, name, label)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FormInvalid(f"‘{label}’ is geen datum (jjjj-mm-dd).") from None


def optional_day(form: dict[str, str], name: str, label: str) -> date | None:
    """A date the form may leave empty (then the domain's default applies)."""
    return day(form, name, label) if form.get(name, "").strip() else None


def amount(form: dict[str, str], name: str, label: str, *, required: bool = True) -> Decimal:
    raw = text(form, name, label, required=required) or "0"
    # People write 1.234,56 or 1234.56: a comma is the decimal separator when there is one.
    cleaned = raw.replace("€", "").replace(" ", "")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise FormInvalid(f"‘{label}’ is geen getal.") from None
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        raise FormInvalid(f"‘{label}’ is geen bruikbaar getal.")
    return value


def whole(form: dict[str, str], name: str, label: str) -> int:
    value = text(form, name, label)
    if not value.isdigit() or len(value) > 9:
        raise FormInvalid(f"‘{label}’ is geen heel getal.")
    return int(value)


E = TypeVar("E")


def choice(form: dict[str, str], name: str, label: str, kind: Callable[[str], E]) -> E:
    value = text(form, name, label)
    try:
        return kind(value)
    except ValueError:
        raise FormInvalid(f"Kies een geldige waarde bij ‘{label}’.") from None


def participants(form: dict[str, str]) -> tuple[Participant, ...]:
    """One participant a line: `Naam; organisatie; rol` (the organisation as its id)."""
    people = []
    for number, line in enumerate(text(form, "deelnemers", "Deelnemers").splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        if len(parts) != 3 or not all(parts):
            raise FormInvalid(f"Regel {number} van ‘Deelnemers’ is niet ‘Naam; organisatie; rol’.")
        people.append(Participant(parts[0], parts[1], parts[2]))
    if not people:
        raise FormInvalid("Vul ten minste één deelnemer in.")
    return tuple(people)


def session_of(form: dict[str, str]) -> str:
    return text(form, "sessie", "Overleg")


# ------------------------------------------------------------------------------ the forms


def hold_session(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return HoldSession(
        cid,
        held_on=day(form, "datum", "Datum"),
        kind=text(form, "soort", "Soort overleg"),
        participants=participants(form),
        minutes_ref=text(form, "verslag", "Verslag (kenmerk)"),
        summary=text(form, "samenvatting", "Samenvatting"),
    )


def _proposal(cid: str, form: dict[str, str], change: Change) -> ContractCommand:
    return SubmitProposal(
        cid,
        session_id=session_of(form),
        change=change,
        rationale=text(form, "toelichting", "Toelichting"),
    )


def propose_scope(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return _proposal(
        cid,
        form,
        ScopeRefinement(
            assignment=text(form, "opdracht", "Nieuwe opdracht"),
            effective_on=optional_day(form, "ingang", "Gaat in op"),
        ),
    )


def _goal_added(form: dict[str, str], text_label: str) -> GoalChange:
    delivered = form.get("uitvoering", "").strip()
    delivered_by = choice(form, "uitvoering", "Wie levert", DeliveredBy) if delivered else None
    return GoalChange(
        ChangeAction.ADD,
        choice(form, "niveau", "Niveau", GoalLevel),
        parent_id=optional(form, "bovenliggend", "Hangt onder"),
        text=text(form, "tekst", text_label),
        delivered_by=delivered_by,
        effective_on=optional_day(form, "ingang", "Gaat in op"),
    )


def _indicator_added(
    form: dict[str, str], name_label: str, result_id: str | None, effective_on: date | None
) -> IndicatorChange:
    return IndicatorChange(
        ChangeAction.ADD,
        name=text(form, "naam", name_label),
        definition=text(form, "definitie", "Definitie"),
        unit=text(form, "eenheid", "Eenheid"),
        direction=choice(form, "richting", "Richting", Direction),
        baseline=Baseline(
            amount(form, "nulwaarde", "Nulmeting"),
            day(form, "nuldatum", "Datum nulmeting"),
            text(form, "nulbron", "Bron nulmeting"),
        ),
        target=Target(
            amount(form, "streefwaarde", "Streefwaarde"),
            day(form, "streefdatum", "Streefdatum"),
        ),
        frequency=text(form, "frequentie", "Frequentie"),
        data_source=text(form, "bron", "Gegevensbron"),
        result_id=result_id,
        effective_on=effective_on,
    )


def propose_goal(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return _proposal(cid, form, _goal_added(form, "Omschrijving"))


def propose_indicator(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return _proposal(
        cid,
        form,
        _indicator_added(
            form,
            "Naam",
            optional(form, "resultaat", "Bij resultaat"),
            optional_day(form, "ingang", "Gaat in op"),
        ),
    )


def propose_goal_with_indicator(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    """A package: a new goal and the indicator that measures it, agreed or rejected as one (the
    indicator hangs under the goal the package adds, `#0`; the goal carries the package's day)."""
    goal = _goal_added(form, "Omschrijving van het resultaat")
    indicator = _indicator_added(form, "Naam van de indicator", "#0", None)
    return _proposal(cid, form, ChangePackage((goal, indicator)))


def propose_allocation(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    allocations = tuple(
        Allocation(key.removeprefix("budget-"), amount(form, key, f"Budget {key[7:]}"))
        for key in sorted(form)
        if key.startswith("budget-") and form[key].strip()
    )
    if not allocations:
        raise FormInvalid("Vul ten minste één budget per aanbieder in.")
    return _proposal(cid, form, _adjustment(form, allocations=allocations))


def _adjustment(form: dict[str, str], **changes: Any) -> Adjustment:
    """A change to money or term: its legal basis, value, day and justification from the form,
    what it changes from `changes`."""
    return Adjustment(
        legal_basis=text(form, "grondslag", "Juridische grondslag"),
        value=amount(form, "waarde", "Waarde van de wijziging", required=False),
        effective_on=day(form, "ingang", "Gaat in op"),
        justification=optional(form, "rechtvaardiging", "Rechtvaardiging"),
        **changes,
    )


def propose_ceiling_or_term(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    """A change to the financial framework's ceiling, the term's end, or both."""
    given = form.get("plafond", "").strip()
    ceiling = amount(form, "plafond", "Nieuw plafond") if given else None
    term_end = optional_day(form, "einde", "Nieuwe einddatum")
    if ceiling is None and term_end is None:
        raise FormInvalid("Vul een nieuw plafond of een nieuwe einddatum in (of beide).")
    return _proposal(
        cid,
        form,
        _adjustment(
            form,
            ceiling=ceiling,
            term_end=term_end,
            decision_ref=optional(form, "besluit", "Besluit (kenmerk)"),
        ),
    )


def _action(form: dict[str, str]) -> ChangeAction:
    action = choice(form, "actie", "Wat verandert", ChangeAction)
    if action == ChangeAction.ADD:
        raise FormInvalid("Kies herformuleren (bijstellen) of intrekken.")
    return action


def propose_goal_change(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    """Revise a goal's wording or retire it."""
    level, _sep, node_id = text(form, "doel", "Doel").partition(":")
    if level not in set(GoalLevel) or not node_id:
        raise FormInvalid("Kies een doel uit de lijst.")
    action = _action(form)
    return _proposal(
        cid,
        form,
        GoalChange(
            action,
            GoalLevel(level),
            node_id=node_id,
            text=optional(form, "tekst", "Nieuwe omschrijving")
            if action == ChangeAction.REVISE
            else None,
            effective_on=optional_day(form, "ingang", "Gaat in op"),
        ),
    )


def propose_indicator_change(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    """Adjust an indicator's target or definition, or retire it."""
    action = _action(form)
    target = None
    if action == ChangeAction.REVISE and (
        form.get("streefwaarde", "").strip() or form.get("streefdatum", "").strip()
    ):
        target = Target(
            amount(form, "streefwaarde", "Nieuwe streefwaarde"),
            day(form, "streefdatum", "Nieuwe streefdatum"),
        )
    return _proposal(
        cid,
        form,
        IndicatorChange(
            action,
            indicator_id=text(form, "indicator", "Indicator"),
            definition=optional(form, "definitie", "Nieuwe definitie")
            if action == ChangeAction.REVISE
            else None,
            target=target,
            effective_on=optional_day(form, "ingang", "Gaat in op"),
        ),
    )


def consent(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return GiveConsent(
        cid,
        proposal_id=text(form, "voorstel", "Voorstel"),
        session_id=optional(form, "sessie", "Overleg"),
    )


def reject(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return RejectProposal(
        cid,
        proposal_id=text(form, "voorstel", "Voorstel"),
        reason=text(form, "reden", "Reden van afwijzing"),
        session_id=optional(form, "sessie", "Overleg"),
    )


def withdraw(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return WithdrawProposal(
        cid,
        proposal_id=text(form, "voorstel", "Voorstel"),
        reason=text(form, "reden", "Reden van intrekken"),
    )


def measurement(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    try:
        period = Period(day(form, "van", "Periode van"), day(form, "tot", "Periode tot en met"))
    except ValueError as error:
        if isinstance(error, FormInvalid):
            raise
        raise FormInvalid("De periode eindigt voor zij begint.") from None
    return RecordMeasurement(
        cid,
        indicator_id=text(form, "indicator", "Indicator"),
        period=period,
        value=amount(form, "waarde", "Gemeten waarde"),
        source=text(form, "bron", "Bron"),
    )


def publication(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return IssuePublication(
        cid,
        audience=text(form, "publiek", "Voor wie"),
        channel=text(form, "kanaal", "Kanaal"),
        summary=text(form, "samenvatting", "Samenvatting"),
    )


def consultation(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return ConsultResidents(
        cid,
        held_on=day(form, "datum", "Datum"),
        method=text(form, "vorm", "Vorm"),
        summary=text(form, "samenvatting", "Wat kwam eruit"),
        participants_count=whole(form, "aantal", "Aantal deelnemers"),
    )


def accept_invitation(cid: str, form: dict[str, str], user: Principal) -> ContractCommand:
    return AcceptInvitation(cid, org=user.org)


def activate(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return ActivateContract(cid, reason=text(form, "reden", "Reden"))


def period(form: dict[str, str], start: str, end: str, label: str) -> Period:
    first, last = day(form, start, f"{label}: van"), day(form, end, f"{label}: tot en met")
    if last < first:
        raise FormInvalid(f"‘{label}’ eindigt voor zij begint.")
    return Period(first, last)


def open_contract(form: dict[str, str], _: Principal) -> OpenContract:
    """The "Nieuwe overeenkomst" form of "Mijn contracten" (the commissioner opens it)."""
    return OpenContract(
        reference=text(form, "kenmerk", "Kenmerk"),
        title=text(form, "titel", "Titel"),
        assignment=text(form, "opdracht", "Globale opdracht"),
        procedure=choice(form, "procedure", "Procedure", ProcedureKind),
        term=period(form, "looptijd-van", "looptijd-tot", "Looptijd"),
        ceiling=amount(form, "plafond", "Financieel kader (plafond)"),
        budget_period=period(form, "kader-van", "kader-tot", "Periode van het kader"),
    )


def admit_provider(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return AdmitProvider(
        cid,
        org=text(form, "organisatie", "Organisatie (kenmerk)"),
        name=text(form, "naam", "Naam van de aanbieder"),
        rationale=text(form, "motivering", "Motivering"),
        effective_on=optional_day(form, "ingang", "Gaat in op"),
    )


def evaluation(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return RecordEvaluation(
        cid,
        held_on=day(form, "datum", "Datum"),
        summary=text(form, "samenvatting", "Samenvatting"),
        conclusions=text(form, "conclusies", "Conclusies"),
    )


def grant_access(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    until = form.get("tot", "").strip()
    return GrantAccess(
        cid,
        org=text(form, "organisatie", "Organisatie (kenmerk)"),
        role=str(choice(form, "rol", "Rol", AccessRole)),
        reason=text(form, "reden", "Reden"),
        until=day(form, "tot", "Tot en met") if until else None,
    )


def revoke_access(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return RevokeAccess(
        cid,
        grant_id=text(form, "toegang", "Toegang"),
        reason=text(form, "reden", "Reden"),
        effective_on=optional_day(form, "ingang", "Gaat in op"),
    )


def withdraw_provider(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return WithdrawProvider(
        cid,
        org=text(form, "aanbieder", "Aanbieder"),
        reason=text(form, "reden", "Reden"),
        effective_on=optional_day(form, "ingang", "Gaat in op"),
    )


def disclose(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return DiscloseContract(cid, reason=text(form, "reden", "Reden"))


def withdraw_disclosure(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
    return WithdrawDisclosure(cid, reason=text(form, "reden", "Reden"))


def _lifecycle(
    command: type[SuspendContract | ResumeContract | TerminateContract | CompleteContract],
) -> Callable[[str, dict[str, str], Principal], ContractCommand]:
    def read(cid: str, form: dict[str, str], _: Principal) -> ContractCommand:
        return command(
            cid,
            reason=text(form, "reden", "Reden"),
            decision_ref=optional(form, "besluit", "Besluit (kenmerk)"),
            effective_on=optional_day(form, "ingang", "Gaat in op"),
        )

    return read


@dataclass(frozen=True)
class PageForm:
    read: Callable[[str, dict[str, str], Principal], ContractCommand]
    #: what the page says when the command was carried out
    done: str


FORMS: dict[str, PageForm] = {
    "sessie": PageForm(hold_session, "Het overleg is vastgelegd."),
    "voorstel-opdracht": PageForm(propose_scope, "Het voorstel is ingediend."),
    "voorstel-doel": PageForm(propose_goal, "Het voorstel is ingediend."),
    "voorstel-indicator": PageForm(propose_indicator, "Het voorstel is ingediend."),
    "voorstel-pakket": PageForm(propose_goal_with_indicator, "Het voorstel is ingediend."),
    "voorstel-budget": PageForm(propose_allocation, "Het voorstel is ingediend."),
    "voorstel-plafond": PageForm(propose_ceiling_or_term, "Het voorstel is ingediend."),
    "voorstel-doel-wijzigen": PageForm(propose_goal_change, "Het voorstel is ingediend."),
    "voorstel-indicator-wijzigen": PageForm(propose_indicator_change, "Het voorstel is ingediend."),
    "instemmen": PageForm(consent, "Uw instemming is vastgelegd."),
    "afwijzen": PageForm(reject, "Het voorstel is afgewezen."),
    "intrekken": PageForm(withdraw, "Het voorstel is ingetrokken."),
    "meting": PageForm(measurement, "De meting is vastgelegd."),
    "publicatie": PageForm(publication, "De publicatie is vastgelegd."),
    "raadpleging": PageForm(consultation, "De bewonersraadpleging is vastgelegd."),
    "uitnodiging": PageForm(accept_invitation, "U hebt de uitnodiging aanvaard."),
    "activeren": PageForm(activate, "De overeenkomst is actief."),
    "aanbieder": PageForm(admit_provider, "De aanbieder is uitgenodigd."),
    "evaluatie": PageForm(evaluation, "De evaluatie is vastgelegd."),
    "toegang": PageForm(grant_access, "De toegang is verleend."),
    "toegang-intrekken": PageForm(revoke_access, "De toegang is ingetrokken."),
    "aanbieder-terugtrekken": PageForm(withdraw_provider, "De aanbieder is teruggetreden."),
    "openbaar": PageForm(disclose, "De overeenkomst is openbaar gemaakt."),
    "niet-openbaar": PageForm(withdraw_disclosure, "De overeenkomst is niet langer openbaar."),
    "opschorten": PageForm(_lifecycle(SuspendContract), "De overeenkomst is opgeschort."),
    "hervatten": PageForm(_lifecycle(ResumeContract), "De overeenkomst loopt weer."),
    "beeindigen": PageForm(_lifecycle(TerminateContract), "De overeenkomst is beëindigd."),
    "afronden": PageForm(_lifecycle(CompleteContract), "De overeenkomst is afgerond."),
}
