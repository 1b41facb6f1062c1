"""The webhooks' pure parts: the Standard Webhooks signature against the specification's own
example, secrets, and the URL check and pinning (no network: literal addresses, or a resolver
stubbed in)."""

from __future__ import annotations

import base64
import socket
from typing import Any

import pytest

from application.errors import UnsafeWebhookUrl
from application.webhooks import new_secret, signature
from infrastructure.webhooks import _pinned, checked_url


def test_the_signature_of_the_specifications_example() -> None:
    # The example of the Standard Webhooks reference libraries' tests.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    got = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_secrets_are_fresh_whsec_keys_of_32_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        family = {True: socket.AF_INET6, False: socket.AF_INET}
        return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in names[str(host)]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def test_a_public_name_is_checked_and_pinned(resolver: dict[str, list[str]]) -> None:
    resolver["dashboard.example.nl"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    url = "https://dashboard.example.nl:8443/hooks?x=1"
    addresses = checked_url(url, allow_local=False)
    assert addresses == resolver["dashboard.example.nl"]
    target, headers, extensions = _pinned(url, addresses[0])
    assert target == "https://93.184.215.14:8443/hooks?x=1"
    assert headers == {"Host": "dashboard.example.nl:8443"}
    assert extensions == {"sni_hostname": "dashboard.example.nl"}
    target, _, _ = _pinned(url, addresses[1])
    assert target == "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/hooks?x=1"


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.1"],
        ["93.184.215.14", "192.168.0.1"],  # one bad address among good ones is enough
        ["169.254.169.254"],
        ["127.0.0.1"],
        ["::1"],
        ["fd00::1"],
        ["100.64.0.1"],  # carrier-grade NAT
        ["::ffff:10.0.0.1"],
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused(
    resolver: dict[str, list[str]], addresses: list[str]
) -> None:
    resolver["rebind.example.nl"] = addresses
    with pytest.raises(UnsafeWebhookUrl):
        checked_url("https://rebind.example.nl/hook", allow_local=False)
    with pytest.raises(UnsafeWebhookUrl):  # the local setting allows only the loopback names
        checked_url("https://rebind.example.nl/hook", allow_local=True)


def test_an_unknown_name_is_refused(resolver: dict[str, list[str]]) -> None:
    with pytest.raises(UnsafeWebhookUrl, match="does not resolve"):
        checked_url("https://nowhere.example.nl/hook", allow_local=False)
