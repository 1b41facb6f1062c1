"""Every refusal the application or the domain can give has its own Dutch sentence."""

from __future__ import annotations

import application.errors
import domain.errors
from api.pages.messages import MESSAGES, message_for


def _subclasses(base: type) -> set[type]:
    found = set()
    for cls in base.__subclasses__():
        found |= {cls, *_subclasses(cls)}
    return found


def test_every_error_code_has_a_dutch_message() -> None:
    errors = _subclasses(domain.errors.DomainError) | _subclasses(
        application.errors.ApplicationError
    )
    codes = {cls.code for cls in errors} | {"domain-error", "application-error"}
    assert codes - set(MESSAGES) == set()


def test_a_rule_refusal_reads_as_its_dutch_sentence() -> None:
    error = domain.errors.CeilingExceeded("allocations 9000000.00 exceed the ceiling")
    assert message_for(error) == "De verdeling gaat boven het plafond van het financieel kader."
