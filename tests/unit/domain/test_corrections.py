"""Corrections (rule 8): a mistaken record is corrected by a new event naming the one it
corrects; the corrected event itself is never edited."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import errors
from domain.events import RecordCorrected
from tests.support.builders import (
    COMMISSIONER,
    OUTSIDER,
    PROVIDER_A,
    active_contract,
    assert_rejected,
    given,
    indicator_added,
    measured,
    then_events,
)

SESSION_VERSION = 5  # opened, admitted, accepted, activated, session s1


def test_correcting_a_session_replaces_its_minutes_and_summary_by_a_new_event():
    scene = given(*active_contract())
    version_before = scene.c.version

    scene.c.correct(
        actor=COMMISSIONER,
        corrects_version=SESSION_VERSION,
        corrections={"minutes_ref": "dms://minutes/42-v2", "summary": "Corrected summary"},
        reason="wrong attachment",
    )

    (event,) = then_events(scene.c, RecordCorrected)
    assert event.corrects_version == SESSION_VERSION
    assert event.corrections == {
        "minutes_ref": "dms://minutes/42-v2",
        "summary": "Corrected summary",
    }
    assert event.reason == "wrong attachment"
    assert event.originator_version == version_before + 1
    session = scene.c.sessions[scene["s1"]]
    assert session.minutes_ref == "dms://minutes/42-v2"
    assert session.summary == "Corrected summary"
    (correction,) = scene.c.corrections
    assert correction.corrects_version == SESSION_VERSION
    assert correction.recorded_in_version == event.originator_version


def test_correcting_a_measurement_replaces_its_value_as_a_decimal():
    scene = given(*active_contract(), indicator_added("kpi"), measured("m1", value="62.0"))
    version = scene.c.measurements[scene["m1"]].recorded_version

    scene.c.correct(
        actor=PROVIDER_A,
        corrects_version=version,
        corrections={"value": "64.5", "source": "ZRM Q1 (corrected export)"},
        reason="export error",
    )

    then_events(scene.c, RecordCorrected)
    measurement = scene.c.measurements[scene["m1"]]
    assert measurement.value == Decimal("64.5")
    assert isinstance(measurement.value, Decimal)
    assert measurement.source == "ZRM Q1 (corrected export)"


@pytest.mark.parametrize("version", [0, -1, 99])
def test_correcting_a_version_that_does_not_exist_is_refused(version):
    scene = given(*active_contract())
    error = assert_rejected(
        scene.c,
        errors.UnknownVersion,
        lambda: scene.c.correct(
            actor=COMMISSIONER, corrects_version=version, corrections={"summary": "x"}, reason="r"
        ),
    )
    assert error.code == "unknown-version"


@pytest.mark.parametrize(
    ("version", "corrections"),
    [
        (1, {"summary": "x"}),  # the opening is not a correctable record
        (SESSION_VERSION, {"held_on": "2025-01-01"}),  # not a correctable field of a session
        (SESSION_VERSION, {"value": "1"}),  # a measurement's field
    ],
)
def test_correcting_what_cannot_be_corrected_is_refused(version, corrections):
    scene = given(*active_contract())
    error = assert_rejected(
        scene.c,
        errors.InvalidCorrection,
        lambda: scene.c.correct(
            actor=COMMISSIONER, corrects_version=version, corrections=corrections, reason="r"
        ),
    )
    assert error.code == "invalid-correction"


def test_a_correction_that_corrects_nothing_is_refused():
    """BUG (domain/contract.py Contract.correct): with `corrections={}` the field loop never
    runs, so an empty RecordCorrected is recorded — even against version 1, which is not a
    correctable record at all."""
    scene = given(*active_contract())
    for version in (1, SESSION_VERSION):
        assert_rejected(
            scene.c,
            errors.InvalidCorrection,
            lambda version=version: scene.c.correct(
                actor=COMMISSIONER, corrects_version=version, corrections={}, reason="r"
            ),
        )


def test_correction_refusals():
    scene = given(*active_contract(), indicator_added("kpi"), measured("m1"))
    version = scene.c.measurements[scene["m1"]].recorded_version
    for corrections in ({"value": "abc"}, {"value": "NaN"}, {"source": " "}):
        assert_rejected(
            scene.c,
            errors.InvalidValue,
            lambda corrections=corrections: scene.c.correct(
                actor=PROVIDER_A, corrects_version=version, corrections=corrections, reason="r"
            ),
        )
    assert_rejected(
        scene.c,
        errors.InvalidValue,
        lambda: scene.c.correct(
            actor=PROVIDER_A, corrects_version=version, corrections={"value": "1"}, reason=" "
        ),
    )
    assert_rejected(
        scene.c,
        errors.NotAParty,
        lambda: scene.c.correct(
            actor=OUTSIDER, corrects_version=version, corrections={"value": "1"}, reason="r"
        ),
    )
