"""Openness (rule 12): the commissioner makes the contract public (Woo active disclosure), at any
stage, and may withdraw that; nobody else can, and neither happens twice in a row."""

from __future__ import annotations

from domain import errors
from domain.events import ContractMadePublic, DisclosureWithdrawn
from tests.support.builders import (
    COMMISSIONER,
    PROVIDER_A,
    active_contract,
    assert_rejected,
    given,
    opened,
    terminated,
    then_events,
)


def test_the_commissioner_makes_the_contract_public_and_withdraws_that():
    scene = given(*active_contract())
    assert scene.c.public is False

    scene.c.disclose(actor=COMMISSIONER, reason="Woo: actieve openbaarmaking")
    (made_public,) = then_events(scene.c, ContractMadePublic)
    assert made_public.reason == "Woo: actieve openbaarmaking"
    assert scene.c.public is True

    scene.c.withdraw_disclosure(actor=COMMISSIONER, reason="bijlage met namen")
    then_events(scene.c, DisclosureWithdrawn)
    assert scene.c.public is False


def test_only_the_commissioner_and_with_a_reason():
    scene = given(*active_contract())
    assert_rejected(
        scene.c, errors.CommissionerOnly, lambda: scene.c.disclose(actor=PROVIDER_A, reason="x")
    )
    assert_rejected(
        scene.c, errors.InvalidValue, lambda: scene.c.disclose(actor=COMMISSIONER, reason=" ")
    )


def test_not_twice_in_a_row():
    scene = given(opened())
    assert_rejected(
        scene.c,
        errors.NotPublic,
        lambda: scene.c.withdraw_disclosure(actor=COMMISSIONER, reason="x"),
    )
    scene.c.disclose(actor=COMMISSIONER, reason="Woo")
    assert_rejected(
        scene.c, errors.AlreadyPublic, lambda: scene.c.disclose(actor=COMMISSIONER, reason="Woo")
    )


def test_a_contract_that_ended_can_still_be_made_public():
    scene = given(*active_contract(), terminated())
    scene.c.disclose(actor=COMMISSIONER, reason="Woo: afgerond contract")
    assert scene.c.public is True
