"""The test suite's one cast (tests/support/people.py) is the same person in every layer: the
token a person presents is verified as exactly the Principal the application tests use, and
that Principal signs events as exactly the Actor the domain tests use."""

from __future__ import annotations

import pytest

from api.security import TokenVerifier
from tests.support import api, app, builders, people
from tests.support.people import Person


@pytest.mark.parametrize("person", people.CAST, ids=lambda p: p.subject)
def test_a_persons_token_authenticates_as_their_principal_who_acts_as_their_actor(
    person: Person,
) -> None:
    token = api.headers_of(person)["Authorization"].removeprefix("Bearer ")
    principal = TokenVerifier(secret=api.JWT_SECRET).principal(token)
    assert principal == person.principal
    assert principal.actor() == person.actor


def test_each_layers_stand_ins_are_the_same_people() -> None:
    assert builders.COMMISSIONER == app.COMMISSIONER.actor() == people.ANN.actor
    assert builders.PROVIDER_A == app.PROVIDER.actor() == people.BOB.actor
    assert builders.COMMISSIONER_AUDITOR == app.AUDITOR.actor() == people.CARLA.actor
    assert builders.OUTSIDER.org == app.OUTSIDER.org == api.OUTSIDER_ORG
    verifier = TokenVerifier(secret=api.JWT_SECRET)
    for headers, principal in [
        (api.commissioner(), app.COMMISSIONER),
        (api.provider_a(), app.PROVIDER),
        (api.auditor(), app.AUDITOR),
        (api.reader(), app.READER),
        (api.outsider(), app.OUTSIDER),
    ]:
        assert verifier.principal(headers["Authorization"].removeprefix("Bearer ")) == principal
