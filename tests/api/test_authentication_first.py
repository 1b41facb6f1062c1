"""A caller without a valid token hears 401 before anything about its body: FastAPI parses the
body first, so the problem handler checks the token before reporting a malformed body."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support import api as s


@pytest.mark.parametrize("credentials", ["none", "wrong-signature", "expired"])
def test_a_malformed_body_without_a_valid_token_is_401(
    client: TestClient, credentials: str
) -> None:
    headers = {
        "none": s.no_token,
        "wrong-signature": s.wrong_signature,
        "expired": s.expired_token,
    }[credentials]()
    response = client.post(
        f"{s.API}/contracts",
        content=b'{"reference": ',
        headers={**headers, "Content-Type": "application/json"},
    )
    s.assert_unauthenticated(response)


def test_a_malformed_body_with_a_valid_token_is_400(client: TestClient) -> None:
    response = client.post(
        f"{s.API}/contracts",
        content=b'{"reference": ',
        headers={**s.commissioner(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["invalidParams"]
