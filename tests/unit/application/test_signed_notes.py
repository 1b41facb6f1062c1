"""Signed notes and checkpoints in Go's format: the published golang.org/x/mod/sumdb/note example
(its verifier key, signer key and signed note) round-trips byte for byte."""

from __future__ import annotations

import pytest

from application.checkpoints import (
    NoteError,
    checkpoint_text,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
    verifier_key,
)
from infrastructure.log_key import parse_signer_key, signer_key_text

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdn"
    "gotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"


def test_the_published_go_note_opens_with_its_verifier_key():
    assert open_note(GO_NOTE, GO_VKEY) == GO_TEXT


def test_signing_with_the_published_go_key_gives_the_published_note_byte_for_byte():
    signer = parse_signer_key(GO_SKEY)
    assert signer.name == "PeterNeumann"
    assert verifier_key(signer.name, signer.public_key) == GO_VKEY
    assert sign_note(GO_TEXT, signer.name, signer.public_key, signer.sign) == GO_NOTE
    assert signer_key_text("PeterNeumann", signer.private_key.private_bytes_raw()) == GO_SKEY


@pytest.mark.parametrize(
    "note",
    [
        GO_NOTE.replace("cryptography", "cryptographY"),
        GO_NOTE.replace("x08go", "x08gp"),
        GO_NOTE.replace("\n\n", "\n"),
        GO_NOTE.replace("\u2014", "-"),
    ],
)
def test_an_altered_note_does_not_open(note):
    with pytest.raises(NoteError):
        open_note(note, GO_VKEY)


def test_a_note_without_a_signature_of_the_key_does_not_open():
    with pytest.raises(NoteError, match="no signature of EnochRoot"):
        open_note(GO_NOTE, ENOCH_VKEY)


@pytest.mark.parametrize(
    "vkey",
    [GO_VKEY[:-2], GO_VKEY.replace("c74f20a3", "c74f20a4"), "Peter Neumann" + GO_VKEY[12:]],
)
def test_a_mangled_verifier_key_is_refused(vkey):
    with pytest.raises(NoteError):
        parse_verifier_key(vkey)


def test_a_checkpoint_round_trips_and_a_malformed_one_is_refused():
    root = bytes(range(32))
    text = checkpoint_text("dialoog.gemeente-utrecht.nl/log", 42, root)
    assert text == (
        "dialoog.gemeente-utrecht.nl/log\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    )
    parsed = parse_checkpoint(text)
    assert (parsed.origin, parsed.tree_size, parsed.root_hash) == (
        "dialoog.gemeente-utrecht.nl/log",
        42,
        root,
    )
    for bad in (text.replace("42", "042"), text.replace("42", "-1"), text[:-1], "x\n1\nAAAA\n"):
        with pytest.raises(NoteError):
            parse_checkpoint(bad)
