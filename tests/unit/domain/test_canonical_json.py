"""The fast encoder writes exactly the RFC 8785 bytes: `rfc8785` is the oracle, over generated
JSON with non-ASCII and astral-plane text in values and keys, control characters, and integers
up to and past the range RFC 8785 writes exactly."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.chain import canonical_json

SAFE = 2**53 - 1

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # no lone surrogates: not JSON text
    max_size=12,
)
astral_text = st.text(
    alphabet=st.characters(min_codepoint=0xE000, max_codepoint=0x1F9FF), max_size=4
)
scalars = st.none() | st.booleans() | st.integers(-SAFE, SAFE) | text | astral_text
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(text | astral_text, children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_json_is_rfc8785(value):
    assert canonical_json(value) == rfc8785.dumps(value)


def test_keys_above_the_basic_plane_sort_by_utf16_code_units():
    # U+1F600 sorts before U+FF61 in UTF-16 (a surrogate pair starts with 0xD83D), after it by
    # code point: orjson's order would differ, so the reference encoder decides.
    value = {"\U0001f600": 1, "\uff61": 2}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).index(b"\xf0") < canonical_json(value).index(b"\xef")


@pytest.mark.parametrize("number", [SAFE + 1, -(SAFE + 1), 2**64])
def test_integers_past_the_exact_range_are_refused_as_rfc8785_refuses_them(number):
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"n": number})


def test_control_characters_and_escapes_match():
    value = {"s": '\x00\x01\x1f\x7f"\\/\u2028\u2029\t\n\r\b\f'}
    assert canonical_json(value) == rfc8785.dumps(value)
