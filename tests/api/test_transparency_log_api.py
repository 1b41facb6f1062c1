"""The transparency log over HTTP: write receipts name their leaves, the public checkpoint is a
signed note the published key opens, proofs from the API verify against it, and a leaf of a
contract the caller cannot see yields nothing about that contract."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from application.checkpoints import open_note, parse_checkpoint
from application.offline import verify as offline
from domain import merkle
from tests.support import api as s
from tests.support.api import API


def _b(value: str) -> bytes:
    return base64.b64decode(value)


def test_a_write_names_its_leaf_and_the_proof_verifies_against_the_signed_checkpoint(
    client: TestClient, active: s.ActiveContract
) -> None:
    response = client.post(
        f"{API}/contracts/{active.id}/publications",
        headers=s.commissioner(),
        json={"audience": "council", "channel": "letter", "summary": "Nieuws"},
    )
    assert response.status_code == 201, response.text
    leaf_index = int(response.headers["Log-Index"])
    digest = response.headers["Contract-Digest"].removeprefix("sha-256=")

    key = client.get(f"{API}/log/key")
    assert key.status_code == 200
    assert key.json()["algorithm"] == "Ed25519"
    note = client.get(f"{API}/log/checkpoint")
    assert note.status_code == 200
    assert note.headers["content-type"].startswith("text/plain")
    checkpoint = parse_checkpoint(open_note(note.text, key.json()["verifierKey"]))
    assert checkpoint.origin == "dialoog.localhost/log"
    assert checkpoint.tree_size == leaf_index + 1

    proof = client.get(
        f"{API}/log/proofs/inclusion",
        params={"leafIndex": leaf_index, "treeSize": checkpoint.tree_size},
        headers=s.auditor(),
    )
    assert proof.status_code == 200, proof.text
    body = proof.json()
    assert (body["contractId"], body["eventDigest"]) == (active.id, digest)
    merkle.verify_inclusion(
        leaf_index,
        checkpoint.tree_size,
        merkle.event_leaf_hash(digest),
        [_b(p) for p in body["proof"]],
        checkpoint.root_hash,
    )


def test_consistency_between_two_checkpoints_verifies(client: TestClient) -> None:
    s.open_contract(client, "EERSTE-1")
    first = parse_checkpoint(client.get(f"{API}/log/checkpoint").text.split("\n\n")[0] + "\n")
    s.active_contract(client, "TWEEDE-2")
    size = first.tree_size + 5
    response = client.get(
        f"{API}/log/proofs/consistency",
        params={"from": first.tree_size, "to": size},
        headers=s.reader(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert _b(body["fromRoot"]) == first.root_hash
    merkle.verify_consistency(
        first.tree_size,
        size,
        first.root_hash,
        _b(body["toRoot"]),
        [_b(p) for p in body["proof"]],
    )


def test_a_leaf_of_another_organisations_contract_reveals_nothing(
    client: TestClient, active: s.ActiveContract
) -> None:
    hidden = client.get(
        f"{API}/log/proofs/inclusion", params={"leafIndex": 0, "treeSize": 1}, headers=s.outsider()
    )
    missing = client.get(
        f"{API}/log/proofs/inclusion",
        params={"leafIndex": 0, "treeSize": 1},
        headers=s.token_for(s.OUTSIDER_ORG, "auditor", sub="frank-auditor"),
    )
    for response in (hidden, missing):
        body = s.assert_problem(response, 404, "leaf-not-found")
        assert active.id not in response.text
        assert body["detail"] == "no leaf 0 of a contract you may see"


def test_proofs_need_a_token_and_sizes_within_the_log(client: TestClient) -> None:
    s.open_contract(client)
    response = client.get(f"{API}/log/proofs/consistency", params={"from": 0, "to": 1})
    s.assert_unauthenticated(response)
    response = client.get(
        f"{API}/log/proofs/consistency", params={"from": 0, "to": 999}, headers=s.reader()
    )
    s.assert_problem(response, 400, "invalid-query")
    response = client.get(
        f"{API}/log/proofs/inclusion", params={"leafIndex": 5, "treeSize": 2}, headers=s.reader()
    )
    s.assert_problem(response, 400, "invalid-query")


def test_the_checkpoint_history_pages_newest_first(client: TestClient) -> None:
    s.open_contract(client)
    client.get(f"{API}/log/checkpoint")
    page = client.get(f"{API}/log/checkpoints", params={"limit": 1})
    assert page.status_code == 200
    items = page.json()["items"]
    assert len(items) == 1
    assert items[0]["treeSize"] == 1
    assert items[0]["note"].startswith("dialoog.localhost/log\n1\n")


def test_an_auditor_downloads_the_bundle_over_http(client: TestClient, active: s.ActiveContract):
    response = client.get(f"{API}/contracts/{active.id}/export", headers=s.auditor())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    report = offline.verify_bundle(response.content)
    assert report.failures == 0, report.lines
    hidden = client.get(
        f"{API}/contracts/{active.id}/export",
        headers=s.token_for(s.OUTSIDER_ORG, "auditor", sub="frank-auditor"),
    )
    s.assert_problem(hidden, 404, "contract-not-found")
