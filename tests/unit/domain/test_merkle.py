"""The Merkle tree against RFC 9162's definitions and the published RFC 6962 test vectors
(transparency-dev/merkle, proof/verify_test.go: the eight leaves, their roots, and the
inclusion and consistency proofs there, with leaf numbers counted from 1 as in that file)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import merkle
from domain.merkle import ProofError

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf counted from 1, tree size, proof)
INCLUSION = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def test_the_empty_tree_is_the_hash_of_nothing():
    assert merkle.tree_hash([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_published_vectors(size):
    assert merkle.tree_hash(HASHES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_of_the_published_vectors(leaf, size, proof):
    expected = [bytes.fromhex(p) for p in proof]
    assert merkle.inclusion_proof(leaf - 1, HASHES[:size]) == expected
    root = bytes.fromhex(ROOTS[size - 1])
    merkle.verify_inclusion(leaf - 1, size, HASHES[leaf - 1], expected, root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_of_the_published_vectors(old, new, proof):
    expected = [bytes.fromhex(p) for p in proof]
    assert merkle.consistency_proof(old, HASHES[:new]) == expected
    merkle.verify_consistency(
        old, new, bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1]), expected
    )


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_every_corruption_of_a_published_inclusion_proof_fails(leaf, size, proof):
    path = [bytes.fromhex(p) for p in proof]
    root, index = bytes.fromhex(ROOTS[size - 1]), leaf - 1
    probes = [
        (index + 1, size, HASHES[index], path, root),
        (index ^ 2, size, HASHES[index], path, root),
        (index, size * 2, HASHES[index], path, root),
        (index, size, merkle.leaf_hash(b"WrongLeaf"), path, root),
        (index, size, HASHES[index], path, merkle.EMPTY_ROOT),
        (index, size, HASHES[index], [*path, root], root),
        (index, size, HASHES[index], [root, *path], root),
        (index, size, HASHES[index], path[:-1], root),
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, HASHES[index], flipped, root))
    for probe in probes:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*probe)


def test_consistency_edge_cases_as_rfc_and_go_treat_them():
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    merkle.verify_consistency(0, 0, a, a, [])
    merkle.verify_consistency(0, 1, a, b, [])
    merkle.verify_consistency(1, 1, b, b, [])
    for probe in [(1, 1, a, b, []), (1, 0, a, b, []), (1, 2, a, b, []), (0, 1, a, a, [a])]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*probe)


def _leaves(n):
    return [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(n)]


@given(st.integers(1, 300), st.data())
def test_appending_keeps_the_stored_nodes_and_root_of_the_definition(size, data):
    leaves = _leaves(size)
    frontier: list[bytes] = []
    nodes: dict[tuple[int, int], bytes] = {}
    for i, h in enumerate(leaves):
        for level, index, value in merkle.append_leaf(i, frontier, h):
            nodes[(level, index)] = value
    assert merkle.root_of_frontier(frontier) == merkle.tree_hash(leaves)
    level, index = data.draw(st.sampled_from(sorted(nodes)))
    assert nodes[(level, index)] == merkle.tree_hash(leaves[index << level : (index + 1) << level])
    # proofs built from the stored nodes equal the proofs of the definition
    m = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    assert merkle.proof_from(merkle.inclusion_ranges(m, size), nodes) == merkle.inclusion_proof(
        m, leaves
    )
    assert merkle.proof_from(
        merkle.consistency_ranges(old, size), nodes
    ) == merkle.consistency_proof(old, leaves)


@given(st.integers(1, 200), st.data())
def test_proofs_for_random_sizes_verify_and_tampered_ones_fail(size, data):
    leaves = _leaves(size)
    root = merkle.tree_hash(leaves)
    m = data.draw(st.integers(0, size - 1))
    path = merkle.inclusion_proof(m, leaves)
    merkle.verify_inclusion(m, size, leaves[m], path, root)
    old = data.draw(st.integers(1, size))
    proof = merkle.consistency_proof(old, leaves)
    old_root = merkle.tree_hash(leaves[:old])
    merkle.verify_consistency(old, size, old_root, root, proof)
    if path:
        i = data.draw(st.integers(0, len(path) - 1))
        bad = list(path)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        with pytest.raises(ProofError):
            merkle.verify_inclusion(m, size, leaves[m], bad, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        with pytest.raises(ProofError):
            merkle.verify_consistency(old, size, old_root, root, bad)
    if old < size:  # a rewritten old tree is not extended by the new one
        forged_root = merkle.tree_hash([merkle.leaf_hash(b"forged"), *leaves[1:old]])
        with pytest.raises(ProofError):
            merkle.verify_consistency(old, size, forged_root, root, proof)
