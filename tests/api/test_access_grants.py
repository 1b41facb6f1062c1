"""An outside organisation with an access grant finds the contract in its own list, for as long
as the grant holds, on every backend."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import api as s
from tests.support.api import API
from tests.support.people import RIA


def _listed(client: TestClient) -> list[str]:
    response = client.get(f"{API}/contracts", headers=s.headers_of(RIA))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_a_grantee_lists_the_contract_until_the_grant_is_revoked(client: TestClient) -> None:
    contract = s.active_contract(client)
    s.open_contract(client, "WMO-2025-099")  # another contract, never granted
    assert _listed(client) == []

    granted = client.post(
        contract.url("/access-grants"),
        headers=s.commissioner(),
        json={"org": RIA.org, "role": "auditor", "reason": "Onderzoek inkoop sociaal domein"},
    )
    assert granted.status_code == 201, granted.text

    assert _listed(client) == [contract.id]
    revoked = client.post(
        contract.url(f"/access-grants/{granted.json()['grantId']}/revocation"),
        headers=s.commissioner(),
        json={"reason": "Onderzoek afgerond"},
    )
    assert revoked.status_code == 200, revoked.text
    assert _listed(client) == []
