"""A snapshot's seal binds its content to one contract, one version and one key."""

from __future__ import annotations

from uuid import uuid4

from application.snapshots import is_outdated, opened, seal, unseal

KEY = b"k" * 32


def test_a_sealed_snapshot_unseals_to_its_state() -> None:
    contract = uuid4()
    assert unseal(KEY, contract, 50, seal(KEY, contract, 50, b'{"a":1}')) == b'{"a":1}'


def test_altered_moved_or_foreign_snapshots_do_not_unseal() -> None:
    contract = uuid4()
    sealed = seal(KEY, contract, 50, b'{"a":1}')
    assert unseal(KEY, contract, 50, sealed.replace(b'"a":1', b'"a":2')) is None
    assert unseal(KEY, contract, 100, sealed) is None
    assert unseal(KEY, uuid4(), 50, sealed) is None
    assert unseal(b"x" * 32, contract, 50, sealed) is None
    assert unseal(KEY, contract, 50, b'{"a":1}') is None  # written before snapshots were sealed


def test_a_snapshot_sealed_under_older_rules_is_outdated_not_broken() -> None:
    """When the rules that derive state change (Contract.STATE_VERSION), older snapshots are
    passed over quietly; an altered one is still damage."""
    contract = uuid4()
    old = seal(KEY, contract, 50, b'{"a":1}')
    assert unseal(KEY, contract, 50, old, state_version=2) is None
    assert is_outdated(KEY, contract, 50, old, state_version=2)
    assert not is_outdated(KEY, contract, 50, old.replace(b'"a":1', b'"a":2'), state_version=2)
    new = seal(KEY, contract, 50, b'{"a":1}', state_version=2)
    assert unseal(KEY, contract, 50, new, state_version=2) == b'{"a":1}'
    assert not is_outdated(KEY, contract, 50, new, state_version=2)


def test_the_seal_names_the_head_digest_and_covers_it() -> None:
    """A reader holds a snapshot against the chain by the head the seal names, without parsing
    the state; changing that head breaks the seal. Snapshots sealed without it still open."""
    contract, head = uuid4(), "ab" * 32
    sealed = seal(KEY, contract, 50, b'{"a":1}', state_version=2, head=head)
    assert opened(KEY, contract, 50, sealed, state_version=2) == (head, b'{"a":1}')
    assert unseal(KEY, contract, 50, sealed, state_version=2) == b'{"a":1}'
    assert opened(KEY, contract, 50, sealed.replace(head.encode(), b"cd" * 32), 2) is None
    older = seal(KEY, contract, 50, b'{"a":1}', state_version=2)
    assert opened(KEY, contract, 50, older, state_version=2) == (None, b'{"a":1}')
