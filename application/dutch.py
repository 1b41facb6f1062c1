"""Dutch words and forms for what a contract says — one vocabulary for the diff, the auditor's
dossier and the pages, so a council member reads the same word for the same thing everywhere."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)

#: The state's words (statuses, levels, kinds of change), as a Dutch reader knows them.
WORDS = {
    "draft": "in voorbereiding",
    "active": "actief",
    "suspended": "opgeschort",
    "terminated": "beëindigd",
    "completed": "afgerond",
    "invited": "uitgenodigd",
    "declined": "afgeslagen",
    "withdrawn": "ingetrokken",
    "retired": "vervallen",
    "open": "open",
    "agreed": "aangenomen",
    "rejected": "afgewezen",
    "vision": "visie",
    "effect": "effect",
    "result": "resultaat",
    "performance": "prestatie",
    "scope_refinement": "aanscherping van de opdracht",
    "goal": "doel",
    "indicator": "indicator",
    "adjustment": "bijstelling (geld, looptijd)",
    "package": "pakket",
}


def word(value: object) -> str:
    """The Dutch word for a value of the state (the value itself if it has none)."""
    text = str(value)
    return WORDS.get(text, text)


def euros(amount: Decimal | int | str | None, *, none: str = "—") -> str:
    """`€ 1.220.000,00`: Dutch grouping and decimal comma."""
    if amount is None:
        return none
    value = Decimal(amount)
    grouped = f"{abs(value):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return ("− " if value < 0 else "") + "€ " + grouped


def day(value: date | None, *, none: str = "—") -> str:
    """`3 februari 2025`."""
    if value is None:
        return none
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def number(value: Decimal | int | str | None, *, none: str = "—") -> str:
    """A number with a decimal comma."""
    return none if value is None else str(value).replace(".", ",")
