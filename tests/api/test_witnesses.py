"""Witnesses over HTTP: an auditor organisation registers its Ed25519 key, a commissioning
organisation approves it, and its auditors co-sign checkpoints; the server checks each
co-signature and that the log extends what the witness signed before, and serves checkpoints
with their co-signatures."""

from __future__ import annotations

import os

from fastapi.testclient import TestClient

from application.checkpoints import open_note, sign_note, verifier_key
from infrastructure.log_key import parse_signer_key, signer_key_text
from tests.support import api as s
from tests.support.api import API

WITNESS_ORG = "rekenkamer-utrecht"


def witness_auditor() -> s.Headers:
    return s.token_for(WITNESS_ORG, "auditor", sub="rita")


class WitnessKey:
    def __init__(self, name: str = "rekenkamer.utrecht.nl/witness") -> None:
        self.signer = parse_signer_key(signer_key_text(name, os.urandom(32)))
        self.vkey = verifier_key(self.signer.name, self.signer.public_key)

    def cosignature(self, note: str) -> str:
        body = note.split("\n\n")[0] + "\n"
        signed = sign_note(body, self.signer.name, self.signer.public_key, self.signer.sign)
        return signed.rstrip("\n").split("\n")[-1]


def registered(client: TestClient, key: WitnessKey, *, approve: bool = True) -> str:
    response = client.post(
        f"{API}/log/witnesses", json={"verifierKey": key.vkey}, headers=witness_auditor()
    )
    assert response.status_code == 201, response.text
    key_id = response.json()["keyId"]
    if approve:
        response = client.post(f"{API}/log/witnesses/{key_id}/approval", headers=s.commissioner())
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "approved"
    return key_id


def current(client: TestClient) -> tuple[int, str]:
    note = client.get(f"{API}/log/checkpoint").text
    return int(note.split("\n")[1]), note


def test_a_witness_registers_is_approved_and_co_signs(
    client: TestClient, active: s.ActiveContract
) -> None:
    key = WitnessKey()
    response = client.post(
        f"{API}/log/witnesses", json={"verifierKey": key.vkey}, headers=witness_auditor()
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    key_id = response.json()["keyId"]
    size, note = current(client)
    pending = client.post(
        f"{API}/log/checkpoints/{size}/cosignatures",
        json={"signature": key.cosignature(note)},
        headers=witness_auditor(),
    )
    s.assert_problem(pending, 409, "cosignature-refused")

    # only a contract manager of a commissioning organisation approves
    for headers in (s.reader(), s.token_for("nergens-bv"), witness_auditor()):
        refused = client.post(f"{API}/log/witnesses/{key_id}/approval", headers=headers)
        s.assert_problem(refused, 403, "not-permitted")
    approved = client.post(f"{API}/log/witnesses/{key_id}/approval", headers=s.commissioner())
    assert approved.json()["approvedBy"] == s.COMMISSIONER_ORG

    cosigned = client.post(
        f"{API}/log/checkpoints/{size}/cosignatures",
        json={"signature": key.cosignature(note)},
        headers=witness_auditor(),
    )
    assert cosigned.status_code == 201, cosigned.text
    served = client.get(f"{API}/log/checkpoint").text
    assert served.startswith(note) and served != note
    log_key = client.get(f"{API}/log/key").json()["verifierKey"]
    assert open_note(served, key.vkey) == open_note(served, log_key)

    # the log grows; the witness co-signs the next checkpoint, not an older one after it
    client.post(
        f"{API}/contracts/{active.id}/publications",
        headers=s.commissioner(),
        json={"audience": "council", "channel": "letter", "summary": "Nieuws"},
    )
    later = client.post(f"{API}/log/checkpoints/{size}/cosignatures", headers=witness_auditor())
    assert later.status_code == 400  # no body
    signed_later = client.app.state.services.checkpoints.sign_now()  # on demand
    response = client.post(
        f"{API}/log/checkpoints/{signed_later.tree_size}/cosignatures",
        json={"signature": key.cosignature(signed_later.note)},
        headers=witness_auditor(),
    )
    assert response.status_code == 201, response.text
    backwards = client.post(
        f"{API}/log/checkpoints/{size}/cosignatures",
        json={"signature": key.cosignature(note)},
        headers=witness_auditor(),
    )
    s.assert_problem(backwards, 409, "cosignature-refused")  # never back to a smaller size
    history = client.get(f"{API}/log/checkpoints").json()["items"]
    assert all(key.signer.name in item["note"] for item in history)


def test_a_co_signature_that_does_not_hold_or_is_not_yours_is_refused(
    client: TestClient, active: s.ActiveContract
) -> None:
    key = WitnessKey()
    registered(client, key)
    size, note = current(client)
    other = WitnessKey()
    forged = other.cosignature(note).replace(other.signer.name, key.signer.name)
    # the key id in the blob names the other key: no such witness
    s.assert_problem(
        client.post(
            f"{API}/log/checkpoints/{size}/cosignatures",
            json={"signature": forged},
            headers=witness_auditor(),
        ),
        404,
        "witness-not-found",
    )
    line = key.cosignature(note)
    tampered = line[:-6] + ("A" if line[-6] != "A" else "B") + line[-5:]
    s.assert_problem(
        client.post(
            f"{API}/log/checkpoints/{size}/cosignatures",
            json={"signature": tampered},
            headers=witness_auditor(),
        ),
        409,
        "cosignature-refused",
    )
    s.assert_problem(
        client.post(
            f"{API}/log/checkpoints/{size}/cosignatures",
            json={"signature": line},
            headers=s.auditor(),  # another organisation's auditor
        ),
        403,
        "not-permitted",
    )
    s.assert_problem(
        client.post(
            f"{API}/log/checkpoints/{size + 5}/cosignatures",
            json={"signature": line},
            headers=witness_auditor(),
        ),
        404,
        "witness-not-found",
    )
    again = client.post(
        f"{API}/log/witnesses", json={"verifierKey": key.vkey}, headers=witness_auditor()
    )
    s.assert_problem(again, 409, "witness-conflict")
