"""The hash chain (rule 8): every event carries its predecessor's digest, and the digest is
SHA-256 over the RFC 8785 encoding of the event in its storage form."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
import rfc8785
from eventsourcing.utils import get_topic

from domain.chain import (
    GENESIS_DIGEST,
    canonical,
    canonical_json,
    digest_of,
    digest_of_event_fields,
    record_of,
    split_fields,
)
from domain.contract import Contract
from domain.goals import GoalLevel
from domain.proposals import ScopeRefinement
from domain.values import Actor, Participant, Period
from tests.support.builders import (
    COMMISSIONER,
    PROVIDER_A,
    Scene,
    active_contract,
    adjustment,
    agreed,
    allocations,
    goal_chain,
    indicator_added,
    measured,
    proposed,
    terminated,
)

GOLDEN_CONTRACT_ID = UUID("12345678-1234-5678-1234-567812345678")
GOLDEN_PRIOR = "ab" * 32


def rich_history() -> tuple[Contract, list[Any]]:
    """A contract with most kinds of event, and all its events from the opening on."""
    scene = Scene()
    steps = [
        *active_contract("zorg-a", "welzijn-b"),
        *goal_chain(),
        indicator_added("kpi"),
        measured("m1"),
        agreed("alloc", adjustment(allocations=allocations(zorg_a="1.10", welzijn_b="2.00"))),
        proposed("open", ScopeRefinement("sharper")),
        lambda s: s.c.reject_proposal(actor=PROVIDER_A, proposal_id=s["open"], reason="no"),
        lambda s: s.c.register_stakeholder(actor=COMMISSIONER, name="GGD", kind="other"),
        lambda s: s.c.correct(
            actor=PROVIDER_A,
            corrects_version=s.c.measurements[s["m1"]].recorded_version,
            corrections={"value": "62.5"},
            reason="typo",
        ),
        terminated(),
        lambda s: s.c.record_evaluation(
            actor=COMMISSIONER, held_on=date(2029, 1, 1), summary="s", conclusions="c"
        ),
    ]
    for step in steps:
        step(scene)
    return scene.c, scene.c.collect_events()


def recompute(event: Any, **tampered: Any) -> str:
    """The digest of a triggered event, recomputed from its fields as they are stored: the
    event store adds `class_version` when it is above 1."""
    fields = {
        k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version")
    }
    if getattr(type(event), "class_version", 1) > 1:
        fields["class_version"] = type(event).class_version
    fields.update(tampered)
    return digest_of_event_fields(
        topic=get_topic(type(event)),
        contract_id=event.originator_id,
        version=event.originator_version,
        fields=fields,
        prior_digest=event.prior_digest,
    )


def test_the_first_event_follows_the_genesis_digest_and_each_event_its_predecessor():
    _contract, events = rich_history()
    assert len(events) > 30
    assert GENESIS_DIGEST == "0" * 64
    assert events[0].prior_digest == GENESIS_DIGEST
    for previous, event in itertools.pairwise(events):
        assert event.prior_digest == previous.digest
    assert len({e.digest for e in events}) == len(events)
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))


def test_the_head_digest_is_the_last_events_digest():
    contract, events = rich_history()
    assert contract.head_digest == events[-1].digest
    assert Contract.INITIAL_VERSION == 1


def test_every_digest_is_reproduced_from_the_events_fields():
    _, events = rich_history()
    for event in events:
        assert recompute(event) == event.digest, type(event).__name__
        assert len(event.digest) == 64
        int(event.digest, 16)


@pytest.mark.parametrize(
    "tampered",
    [
        {"reason": "something else"},
        {"actor": Actor("mallory", "Mallory", "gemeente-utrecht", "contract_manager")},
        {"effective_on": date(1999, 1, 1)},
        {"session_id": "another-session"},
        {"timestamp": datetime(2030, 1, 1, tzinfo=UTC)},
    ],
)
def test_a_tampered_field_gives_another_digest(tampered):
    _, events = rich_history()
    for event in events:
        assert recompute(event, **tampered) != event.digest, type(event).__name__


def test_tampered_payload_version_contract_or_prior_digest_give_another_digest():
    _, events = rich_history()
    agreement = next(e for e in events if type(e).__name__ == "ProposalAgreed")
    fields = {
        k: v for k, v in vars(agreement).items() if k not in ("originator_id", "originator_version")
    }
    base = {
        "topic": get_topic(type(agreement)),
        "contract_id": agreement.originator_id,
        "version": agreement.originator_version,
        "fields": fields,
        "prior_digest": agreement.prior_digest,
    }
    assert digest_of_event_fields(**base) == agreement.digest
    for change in (
        {"fields": {**fields, "change_value": Decimal("1.00")}},
        {"version": agreement.originator_version + 1},
        {"contract_id": GOLDEN_CONTRACT_ID},
        {"prior_digest": GENESIS_DIGEST},
        {"topic": "domain.events:ProposalRejected"},
    ):
        assert digest_of_event_fields(**{**base, **change}) != agreement.digest


def test_the_digest_ignores_only_the_digest_fields():
    _, events = rich_history()
    event = events[3]
    assert recompute(event, digest="f" * 64) == event.digest


def test_the_digest_covers_the_class_version_and_the_aggregate_class():
    """Removing a stored class_version would switch an upcaster on behind the chain's back;
    changing the opening event's aggregate class would make the contract unreadable."""
    _, events = rich_history()
    assert recompute(events[3], class_version=2) != events[3].digest
    opened = events[0]
    assert recompute(opened, originator_topic="domain.other:Contract") != opened.digest


# Decimal, dates and the storage form ------------------------------------------------------


def _fields(**payload: Any) -> dict[str, Any]:
    return {
        "actor": COMMISSIONER,
        "effective_on": date(2025, 3, 10),
        "session_id": None,
        "decision_ref": None,
        "reason": "",
        "timestamp": datetime(2025, 3, 10, 14, 30, tzinfo=UTC),
        **payload,
    }


def _digest(fields: dict[str, Any]) -> str:
    return digest_of_event_fields(
        topic="domain.events:MeasurementRecorded",
        contract_id=GOLDEN_CONTRACT_ID,
        version=7,
        fields=fields,
        prior_digest=GOLDEN_PRIOR,
    )


def test_a_decimal_is_encoded_as_its_string_so_trailing_zeros_count():
    """Canonical Decimal is `str(d)`: 1.10 and 1.1 are equal numbers but different records."""
    assert canonical(Decimal("1.10")) == "1.10"
    assert canonical(Decimal("1.1")) == "1.1"
    assert _digest(_fields(value=Decimal("1.10"))) != _digest(_fields(value=Decimal("1.1")))
    assert _digest(_fields(value=Decimal("1.10"))) == _digest(_fields(value=Decimal("1.10")))


def test_money_in_events_always_has_two_places():
    _, events = rich_history()
    opened = events[0]
    assert str(opened.ceiling) == "1000000.00"


def test_floats_have_no_canonical_form():
    with pytest.raises(TypeError):
        canonical(1.1)


def test_tuples_and_lists_encode_alike_and_mappings_by_string_keys():
    assert canonical((1, "a")) == canonical([1, "a"]) == [1, "a"]
    assert canonical({1: Decimal("2.00")}) == {"1": "2.00"}
    assert canonical(GoalLevel.RESULT) == "result"
    assert canonical(GOLDEN_CONTRACT_ID) == "12345678123456781234567812345678"
    assert canonical(True) is True


def test_recorded_times_are_timezone_aware_utc():
    _, events = rich_history()
    for event in events:
        assert event.timestamp.utcoffset() is not None
        assert event.timestamp.utcoffset().total_seconds() == 0


# golden encoding --------------------------------------------------------------------------

GOLDEN_FIELDS: dict[str, Any] = {
    "actor": Actor("ann", "Ann de Vries", "gemeente-utrecht", "contract_manager"),
    "effective_on": date(2025, 3, 10),
    "session_id": "5e55i0n",
    "decision_ref": None,
    "reason": "Cliëntenraad asked for “evening hours” — 😀",
    "timestamp": datetime(2025, 3, 10, 14, 30, 15, 123456, tzinfo=UTC),
    "prior_digest": GOLDEN_PRIOR,
    "held_on": date(2025, 3, 10),
    "participants": (Participant("Ann", "gemeente-utrecht", "contract_manager"),),
    "amount": Decimal("1234.50"),
    "count": 37,
    "level": GoalLevel.RESULT,
    "flag": True,
    "period": Period(date(2025, 1, 1), date(2025, 3, 31)),
}

GOLDEN_ENCODING = (
    '{"contractId":"12345678123456781234567812345678",'
    '"metadata":{"actor":{"name":"Ann de Vries","org":"gemeente-utrecht",'
    '"role":"contract_manager","subject":"ann"},"decision_ref":null,'
    '"effective_on":"2025-03-10",'
    '"reason":"Cliëntenraad asked for “evening hours” — 😀","session_id":"5e55i0n"},'
    '"payload":{"amount":"1234.50","count":37,"flag":true,"held_on":"2025-03-10",'
    '"level":"result","participants":[{"name":"Ann","org":"gemeente-utrecht",'
    '"role":"contract_manager"}],"period":{"end":"2025-03-31","start":"2025-01-01"}},'
    '"priorDigest":"abababababababababababababababababababababababababababababababab",'
    '"recordedAt":"2025-03-10T14:30:15.123456+00:00","type":"domain.events:SessionHeld",'
    '"version":4}'
).encode()

GOLDEN_DIGEST = "38050ebfbb68a3943e7636dbe4b01ce9ab85e11b1afd7f97bb7a61e1522156e4"


def test_golden_encoding_and_digest_of_a_fixed_event_in_form_1():
    """If this fails the form-1 rule changed, and every chain recorded before form 2 would
    break."""
    fields = {k: v for k, v in GOLDEN_FIELDS.items() if k not in ("timestamp", "prior_digest")}
    payload, metadata = split_fields(fields)
    digest = digest_of(
        topic="domain.events:SessionHeld",
        contract_id=GOLDEN_CONTRACT_ID.hex,
        version=4,
        recorded_at=canonical(GOLDEN_FIELDS["timestamp"]),
        payload=canonical(payload),
        metadata=canonical(metadata),
        prior_digest=GOLDEN_PRIOR,
    )
    assert hashlib.sha256(GOLDEN_ENCODING).hexdigest() == GOLDEN_DIGEST
    assert digest == GOLDEN_DIGEST


#: The same event's form-2 record, byte for byte (docs/EVENTS.md): type information included.
GOLDEN_RECORD = (
    '{"contractId":"12345678123456781234567812345678","form":2,'
    '"metadata":{"actor":{"_data_":{"name":"Ann de Vries","org":"gemeente-utrecht",'
    '"role":"contract_manager","subject":"ann"},"_type_":"Actor"},"decision_ref":null,'
    '"effective_on":{"_data_":"2025-03-10","_type_":"date_iso"},'
    '"reason":"Cliëntenraad asked for “evening hours” — 😀","session_id":"5e55i0n"},'
    '"payload":{"amount":{"_data_":"1234.50","_type_":"decimal_str"},"count":37,"flag":true,'
    '"held_on":{"_data_":"2025-03-10","_type_":"date_iso"},"level":"result",'
    '"participants":[{"_data_":{"name":"Ann","org":"gemeente-utrecht",'
    '"role":"contract_manager"},"_type_":"Participant"}],'
    '"period":{"_data_":{"end":{"_data_":"2025-03-31","_type_":"date_iso"},'
    '"start":{"_data_":"2025-01-01","_type_":"date_iso"}},"_type_":"Period"}},'
    '"priorDigest":"abababababababababababababababababababababababababababababababab",'
    '"recordedAt":"2025-03-10T14:30:15.123456+00:00","type":"domain.events:SessionHeld",'
    '"version":4}'
).encode()


def test_golden_record_and_digest_of_a_fixed_event_in_form_2():
    """If this fails the stored form changed, and every chain recorded since form 2 would
    break. The digest is SHA-256 over exactly the record's bytes."""
    record = record_of(
        topic="domain.events:SessionHeld",
        contract_id=GOLDEN_CONTRACT_ID.hex,
        version=4,
        fields=GOLDEN_FIELDS,
    )
    assert record == GOLDEN_RECORD
    assert rfc8785.dumps(json.loads(GOLDEN_RECORD)) == GOLDEN_RECORD
    digest = digest_of_event_fields(
        topic="domain.events:SessionHeld",
        contract_id=GOLDEN_CONTRACT_ID,
        version=4,
        fields=GOLDEN_FIELDS,
        prior_digest=GOLDEN_PRIOR,
    )
    assert digest == hashlib.sha256(GOLDEN_RECORD).hexdigest()
    assert digest == "2b12b186497a5a9bdff53274398c03ec388b30e15d15bb17687be45b2a3894d5"


def test_floats_never_enter_the_stored_form():
    with pytest.raises(TypeError, match="floats"):
        record_of(
            topic="t",
            contract_id=GOLDEN_CONTRACT_ID.hex,
            version=1,
            fields={**GOLDEN_FIELDS, "amount": 1.5},
        )
    with pytest.raises(rfc8785.FloatDomainError):
        canonical_json({"x": float("nan")})


def test_the_golden_encoding_is_rfc8785_of_the_documented_document():
    document = {
        "type": "domain.events:SessionHeld",
        "contractId": "12345678123456781234567812345678",
        "version": 4,
        "recordedAt": "2025-03-10T14:30:15.123456+00:00",
        "payload": {
            "held_on": "2025-03-10",
            "participants": [
                {"name": "Ann", "org": "gemeente-utrecht", "role": "contract_manager"}
            ],
            "amount": "1234.50",
            "count": 37,
            "level": "result",
            "flag": True,
            "period": {"start": "2025-01-01", "end": "2025-03-31"},
        },
        "metadata": {
            "actor": {
                "subject": "ann",
                "name": "Ann de Vries",
                "org": "gemeente-utrecht",
                "role": "contract_manager",
            },
            "effective_on": "2025-03-10",
            "session_id": "5e55i0n",
            "decision_ref": None,
            "reason": "Cliëntenraad asked for “evening hours” — 😀",
        },
        "priorDigest": GOLDEN_PRIOR,
    }
    assert rfc8785.dumps(document) == GOLDEN_ENCODING


def test_a_real_event_matches_the_golden_shape():
    """An event triggered by the aggregate is covered by the same encoding."""
    contract = Contract.open(
        actor=COMMISSIONER,
        reference="R",
        title="T",
        assignment="A",
        procedure="dialogue",
        term=Period(date(2025, 1, 1), date(2026, 1, 1)),
        ceiling=Decimal("10"),
        budget_period=Period(date(2025, 1, 1), date(2026, 1, 1)),
        contract_id=GOLDEN_CONTRACT_ID,
    )
    contract.admit_provider(actor=COMMISSIONER, org="zorg-a", name="A", rationale="fit")
    contract.accept_invitation(actor=PROVIDER_A)
    contract.activate(actor=COMMISSIONER)
    opened, admitted, accepted, activated = contract.collect_events()
    payload_keys = {"reference", "title", "assignment", "procedure", "term", "ceiling"}
    assert payload_keys <= set(vars(opened))
    assert recompute(opened) == opened.digest
    assert recompute(admitted) == admitted.digest
    assert recompute(accepted) == accepted.digest
    assert activated.prior_digest == accepted.digest
