"""The one cast of the test suite: organisations and the people who act for them.

Every layer's stand-ins are derived from these people, so a name means the same person with
the same organisation and role everywhere: the domain's `Actor`s (tests/support/builders.py),
the application's `Principal`s (tests/support/app.py) and the API's bearer tokens
(tests/support/api.py). Each person acts in one role.

The commissioner is gemeente-utrecht (Ann manages the contract, Carla audits, Rik reads);
Gert manages contracts for another municipality. Bob (zorg-a) and Bea (zorg-b) are the
providers of the HTTP and application tests; the domain tests add Dirk (welzijn-b) and Eva
(buurtwerk-c) for contracts with three providers. Frank's insurer is party to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.service import Principal
from domain.values import Actor


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str


GEMEENTE_UTRECHT = Organisation("gemeente-utrecht", "Gemeente Utrecht")
GEMEENTE_AMERSFOORT = Organisation("gemeente-amersfoort", "Gemeente Amersfoort")
ZORG_A = Organisation("zorg-a", "Zorg A")
ZORG_B = Organisation("zorg-b", "Zorg B")
WELZIJN_B = Organisation("welzijn-b", "Welzijn B")
BUURTWERK_C = Organisation("buurtwerk-c", "Buurtwerk C")
VERZEKERAAR_X = Organisation("verzekeraar-x", "Verzekeraar X")
#: outside the contracts: they read through an access grant of the commissioner
REKENKAMER = Organisation("rekenkamer-utrecht", "Rekenkamer Utrecht")
GRIFFIE = Organisation("griffie-utrecht", "Griffie Utrecht")

ORGANISATIONS = {
    o.id: o
    for o in (
        GEMEENTE_UTRECHT,
        GEMEENTE_AMERSFOORT,
        ZORG_A,
        ZORG_B,
        WELZIJN_B,
        BUURTWERK_C,
        VERZEKERAAR_X,
        REKENKAMER,
        GRIFFIE,
    )
}


@dataclass(frozen=True)
class Person:
    """Who (subject, display name), for which organisation, in which one role."""

    subject: str
    name: str
    organisation: Organisation
    role: str = "contract_manager"

    @property
    def org(self) -> str:
        return self.organisation.id

    @property
    def principal(self) -> Principal:
        """As the application sees this person once their token is verified."""
        return Principal(self.subject, self.name, self.org, frozenset({self.role}))

    @property
    def actor(self) -> Actor:
        """As the domain records this person on an event."""
        return Actor(self.subject, self.name, self.org, self.role)


ANN = Person("ann", "Ann de Vries", GEMEENTE_UTRECHT)
CARLA = Person("carla", "Carla Jansen", GEMEENTE_UTRECHT, "auditor")
RIK = Person("rik", "Rik Reader", GEMEENTE_UTRECHT, "reader")
GERT = Person("gert", "Gert Groen", GEMEENTE_AMERSFOORT)
BOB = Person("bob", "Bob Bakker", ZORG_A)
BEA = Person("bea", "Bea Boer", ZORG_B)
DIRK = Person("dirk", "Dirk Smit", WELZIJN_B)
EVA = Person("eva", "Eva Visser", BUURTWERK_C)
FRANK = Person("frank", "Frank de Boer", VERZEKERAAR_X)
RIA = Person("ria", "Ria Rekenkamer", REKENKAMER, "auditor")
ROB = Person("rob", "Rob Raad", GRIFFIE, "auditor")

CAST = (ANN, CARLA, RIK, GERT, BOB, BEA, DIRK, EVA, FRANK, RIA, ROB)
