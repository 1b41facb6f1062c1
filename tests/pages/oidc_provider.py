"""A real OpenID Connect provider for the sign-in tests: oidc-provider-mock (Authlib's
authorization server in Flask) on 127.0.0.1 in a thread, with the people the tests sign in as.
Nothing of the flow is mocked: discovery, the authorization form, the code, the token endpoint,
the signed ID token and its JWKS are the provider's own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import werkzeug.serving
from oidc_provider_mock import User, app

from tests.support.servers import HOST

#: who the provider knows: sub → claims (name, organisation, roles as dialoog reads them)
USERS = {
    "ann": {"name": "Ann Jansen", "org": "gemeente-utrecht", "roles": ["contract_manager"]},
    "bob": {"name": "Bob de Boer", "org": "zorg-a", "roles": ["contract_manager"]},
    "bea": {"name": "Bea Bakker", "org": "zorg-b", "roles": ["contract_manager"]},
    "carla": {"name": "Carla Smit", "org": "gemeente-utrecht", "roles": ["auditor"]},
    "nobody": {"name": "Zonder Organisatie", "roles": ["contract_manager"]},
}


@contextmanager
def oidc_provider() -> Iterator[str]:
    """The provider's issuer URL, for the block's duration."""
    users = [User(sub=sub, claims=claims) for sub, claims in USERS.items()]
    provider = app(require_nonce=True, user_claims=users)
    server = werkzeug.serving.make_server(HOST, 0, provider, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
