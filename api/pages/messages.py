"""Every refusal a page can show, in Dutch, in one place: application and domain errors by their
stable `code` (the same one the API's problem `type` names), and form input the pages could not
read. The English detail of the rule is not shown: it may name ids a person cannot use."""

from __future__ import annotations

from application.errors import ApplicationError
from domain.errors import DomainError

MESSAGES: dict[str, str] = {
    # application
    "store-unavailable": "De opslag is nu niet bereikbaar. Er is niets vastgelegd; probeer het "
    "zo opnieuw.",
    "commit-outcome-unknown": "Het is niet zeker of dit is vastgelegd. Kijk in de tijdlijn "
    "voordat u het opnieuw probeert.",
    "contract-not-found": "Deze overeenkomst bestaat niet of u mag haar niet zien.",
    "not-permitted": "Uw rol staat dit niet toe.",
    "version-mismatch": "De overeenkomst is intussen gewijzigd. Bekijk de nieuwe stand en "
    "probeer het opnieuw.",
    "reference-taken": "Dit kenmerk is al in gebruik.",
    "idempotency-key-in-flight": "Dit formulier wordt al verwerkt; wacht even en kijk dan of "
    "het is vastgelegd.",
    "idempotency-key-reused": "Dit formulier is al eens met andere gegevens verstuurd.",
    "too-much-contention": "Er wordt nu veel tegelijk gewijzigd; probeer het zo opnieuw.",
    "invalid-query": "Deze vraag kan niet beantwoord worden; controleer de invoer.",
    "history-corrupt": "De vastgelegde geschiedenis van deze overeenkomst is beschadigd.",
    "application-error": "Dit kan niet worden uitgevoerd.",
    "unsafe-webhook-url": "Dit webhookadres wordt niet aangeroepen: alleen https:// naar een "
    "openbaar adres.",
    "subscription-not-found": "Dit webhookabonnement bestaat niet of is niet van uw organisatie.",
    "not-in-force": "Op die datum was de overeenkomst nog niet van kracht.",
    # the transparency log and its witnesses
    "leaf-not-found": "Die gebeurtenis staat niet in het logboek, of u mag haar niet zien.",
    "log-inconsistent": "Het logboek sluit niet meer aan op het laatst ondertekende "
    "controlepunt; er wordt niets ondertekend. Meld dit aan de beheerder.",
    "cosignature-refused": "Deze medeondertekening klopt niet, of het logboek sluit niet aan op "
    "wat deze getuige eerder ondertekende.",
    "witness-conflict": "Deze sleutel is al geregistreerd, of de getuige is al goedgekeurd.",
    "witness-not-found": "Deze getuige bestaat niet.",
    # domain: who may act
    "not-a-party": "Uw organisatie is geen partij bij deze overeenkomst.",
    "commissioner-only": "Alleen de opdrachtgever mag dit doen.",
    "consent-not-yours": "U kunt alleen namens uw eigen organisatie instemmen.",
    "not-proposer": "Alleen wie het voorstel deed, kan het intrekken.",
    "invalid-value": "Een van de ingevulde waarden is niet geldig.",
    "effective-before-dependency": "Dit kan niet ingaan vóór iets waarop het berust (zoals de "
    "toetreding van een aanbieder of de afspraak over een indicator). Kies een latere "
    "ingangsdatum.",
    "invalid-batch": "Een of meer regels van deze reeks metingen kloppen niet; er is niets "
    "vastgelegd.",
    "already-public": "Deze overeenkomst is al openbaar.",
    "not-public": "Deze overeenkomst is niet openbaar.",
    # domain: dialogue
    "already-consented": "Uw organisatie heeft al ingestemd met dit voorstel.",
    "unknown-proposal": "Dit voorstel bestaat niet.",
    "proposal-not-open": "Dit voorstel staat niet meer open.",
    "unknown-provider": "Deze aanbieder hoort niet bij de overeenkomst.",
    "not-invited": "Uw organisatie is niet uitgenodigd voor deze overeenkomst.",
    "unknown-grant": "Deze toegang bestaat niet.",
    "provider-already-admitted": "Deze aanbieder is al toegelaten.",
    "session-required": "Kies het overleg waarin dit is besproken.",
    "unknown-session": "Dit overleg is niet vastgelegd bij deze overeenkomst.",
    # domain: money
    "ceiling-exceeded": "De verdeling gaat boven het plafond van het financieel kader.",
    "reallocation-unbalanced": "Een herverdeling moet samen op nul uitkomen.",
    "decision-required": "Een wijziging van het plafond vraagt een verwijzing naar een besluit.",
    "justification-required": "Deze wijziging gaat boven de wijzigingsgrens; leg uit waarom zij "
    "toch mag.",
    "invalid-term": "De looptijd klopt niet: het einde ligt voor het begin.",
    # domain: goals and indicators
    "unknown-goal": "Dit doel bestaat niet.",
    "goal-parent-invalid": "Dit doel kan niet onder het gekozen doel hangen.",
    "vision-exists": "Er is al een visie; herzie die in plaats van een tweede toe te voegen.",
    "goal-has-children": "Trek eerst de onderliggende doelen in of hang ze elders op.",
    "unknown-indicator": "Deze indicator bestaat niet.",
    "indicator-retired": "Deze indicator is ingetrokken.",
    "indicator-version-superseded": "Er geldt een nieuwere versie van deze indicator.",
    "target-needs-baseline": "Een streefwaarde vraagt een nulmeting.",
    # domain: lifecycle
    "contract-closed": "De overeenkomst is beëindigd; alleen evaluaties, publicaties en "
    "correcties kunnen nog.",
    "contract-not-active": "Dit kan alleen als de overeenkomst actief is.",
    "invalid-transition": "Deze stap past niet bij de huidige status van de overeenkomst.",
    "no-providers": "Er is nog geen aanbieder die de uitnodiging heeft aanvaard.",
    "unknown-version": "Deze versie bestaat niet.",
    "invalid-correction": "Deze correctie kan niet.",
    "nothing-to-erase": "Er zijn hier geen persoonsgegevens (meer) om te wissen.",
    "domain-error": "Dit past niet binnen de afspraken van de overeenkomst.",
}


class FormInvalid(Exception):
    """A field the pages could not read; the message is Dutch and names the field's label."""

    code = "form-invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def message_for(error: Exception) -> str:
    """The Dutch sentence for a refusal."""
    if isinstance(error, FormInvalid):
        return error.message
    if isinstance(error, ApplicationError | DomainError):
        return MESSAGES.get(error.code, MESSAGES["domain-error"])
    return "Dit kan niet worden uitgevoerd."


def status_for(error: Exception) -> int:
    """The status of the page that shows the refusal (the API's, roughly: 4xx, 503)."""
    from api.problems import ERROR_STATUS

    for cls in type(error).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls][0]
    return 400
