"""verify.py, the bundle's single-file verifier, as a separate implementation: its Merkle
proofs, canonical JSON and signed-note checks agree with the service's own code (domain.merkle,
rfc8785, application.checkpoints) on random inputs, and both refuse what is tampered."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from application.checkpoints import checkpoint_text, sign_note, verifier_key
from application.offline import verify as offline
from domain import merkle
from infrastructure.log_key import parse_signer_key

GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"


def test_verify_py_imports_nothing_but_the_standard_library_and_cryptography():
    source = Path(offline.__file__).read_text()
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    import sys

    assert modules - set(sys.stdlib_module_names) == {"cryptography"}


def _leaves(n):
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


@given(st.integers(1, 300), st.data())
def test_proofs_of_the_service_verify_in_verify_py_and_tampered_ones_do_not(size, data):
    leaves = _leaves(size)
    root = merkle.tree_hash(leaves)
    index = data.draw(st.integers(0, size - 1))
    path = merkle.inclusion_proof(index, leaves)
    assert offline.inclusion_root(index, size, leaves[index], path) == root
    assert offline.inclusion_root(index, size, merkle.leaf_hash(b"other"), path) != root
    if size > 1:
        assert offline.inclusion_root((index + 1) % size, size, leaves[index], path) != root
    old = data.draw(st.integers(1, size))
    proof = merkle.consistency_proof(old, leaves)
    old_root = merkle.tree_hash(leaves[:old])
    assert offline.consistent(old, size, old_root, root, proof)
    if proof:
        bad = list(proof)
        i = data.draw(st.integers(0, len(bad) - 1))
        bad[i] = bytes([bad[i][0] ^ 4]) + bad[i][1:]
        assert not offline.consistent(old, size, old_root, root, bad)
        assert not offline.consistent(old, size, root, old_root, proof) or old == size


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_canonical_json_of_verify_py_is_rfc_8785(value):
    assert offline.canonical_json(value) == rfc8785.dumps(value)


def test_a_checkpoint_signed_by_the_service_opens_in_verify_py_and_an_altered_one_does_not():
    signer = parse_signer_key(GO_SKEY)
    text = checkpoint_text("PeterNeumann", 7, bytes(range(32)))
    note = sign_note(text, signer.name, signer.public_key, signer.sign)
    vkey = verifier_key(signer.name, signer.public_key)
    assert offline.open_checkpoint(note, vkey) == ("PeterNeumann", 7, bytes(range(32)))
    with pytest.raises(ValueError):
        offline.open_checkpoint(note.replace("\n7\n", "\n8\n"), vkey)
