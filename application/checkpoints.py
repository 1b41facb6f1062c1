"""Signed checkpoints of the transparency log (C2SP tlog-checkpoint in a C2SP signed note, as
Go's golang.org/x/mod/sumdb/note writes them; docs/EVIDENCE.md).

A checkpoint's text is three lines: the origin, the tree size in decimal, the base64 root hash.
The note appends a blank line and one signature line per signer:

    — <key name> base64(key id (4 bytes) ‖ Ed25519 signature of the text)

where the key id is the first four bytes of SHA-256(key name ‖ "\\n" ‖ 0x01 ‖ public key) and the
verifier key is `<key name>+<key id hex>+base64(0x01 ‖ public key)`.

The `Checkpointer` signs a checkpoint at most every `interval` seconds when the log grew, and
on demand; it never signs one the previous checkpoint is not a prefix of: a consistency proof
from the last signed checkpoint to the new tree must hold first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from application.errors import ApplicationError
from application.transparency_log import LogStore, MerkleLog, StoredCheckpoint
from domain import merkle

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
_NAME = re.compile(r"^[^\s+]+$")


class NoteError(ValueError):
    """A note, key or checkpoint that is malformed or whose signature does not hold."""


class LogInconsistent(ApplicationError):
    """The stored log no longer extends the last checkpoint this server signed."""

    code = "log-inconsistent"


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(bytes([ED25519]) + public_key).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes, bytes]:
    """(name, key id, Ed25519 public key) of a verifier key."""
    name, _, rest = vkey.partition("+")
    hash_hex, _, encoded = rest.partition("+")
    try:
        raw = base64.b64decode(encoded, validate=True)
        kid = bytes.fromhex(hash_hex)
    except (binascii.Error, ValueError):
        raise NoteError("the verifier key is not name+keyid+base64") from None
    if not _NAME.match(name) or len(hash_hex) != 8 or len(raw) != 33 or raw[0] != ED25519:
        raise NoteError("the verifier key is not an Ed25519 key of the note format")
    if key_id(name, raw[1:]) != kid:
        raise NoteError("the verifier key's id does not match its name and key")
    return name, kid, raw[1:]


def sign_note(text: str, name: str, public_key: bytes, sign: Callable[[bytes], bytes]) -> str:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note's text ends in a newline and has no blank line")
    if not _NAME.match(name):
        raise NoteError("a key name has no spaces and no '+'")
    signature = base64.b64encode(key_id(name, public_key) + sign(text.encode())).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{name} {signature}\n"


def open_note(note: str, vkey: str) -> str:
    """The text of a note that carries a valid signature of `vkey` (NoteError otherwise).
    Signature lines of other keys are ignored, as Go's note.Open does with unknown keys."""
    name, kid, public_key = parse_verifier_key(vkey)
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise NoteError("the note has no blank line before its signatures")
    text += "\n"
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line does not start with an em dash")
        signer, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise NoteError(f"the signature of {signer} is not base64") from None
        if signer != name or blob[:4] != kid:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(blob[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature of {name} does not hold") from None
        return text
    raise NoteError(f"the note carries no signature of {name}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes


def checkpoint_text(origin: str, tree_size: int, root_hash: bytes) -> str:
    return f"{origin}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint has an origin, a size and a root hash, one per line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or not re.fullmatch(r"0|[1-9][0-9]{0,18}", size):
        raise NoteError("the checkpoint's origin or tree size is malformed")
    try:
        root_hash = base64.b64decode(root, validate=True)
    except binascii.Error:
        raise NoteError("the checkpoint's root hash is not base64") from None
    if len(root_hash) != merkle.HASH_SIZE:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root_hash)


class LogSigner(Protocol):
    """The log's signing key (infrastructure/log_key.py)."""

    @property
    def name(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class Checkpointer:
    def __init__(
        self,
        store: LogStore,
        signer: LogSigner,
        *,
        origin: str,
        interval: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.log, self.signer = store, MerkleLog(store), signer
        self.origin, self.interval, self.clock = origin, interval, clock
        self.vkey = verifier_key(signer.name, signer.public_key)
        self._lock = threading.Lock()

    def latest(self) -> StoredCheckpoint | None:
        found = self.store.log_checkpoints(before=None, limit=1)
        return found[0] if found else None

    def current(self) -> StoredCheckpoint:
        """The latest checkpoint; a new one first if the log grew and the latest is older than
        the interval (or there is none)."""
        latest = self.latest()
        if latest is not None:
            age = (self.clock() - datetime.fromisoformat(latest.signed_at)).total_seconds()
            if age < self.interval or self.log.size() == latest.tree_size:
                return latest
        return self.sign_now()

    def sign_now(self) -> StoredCheckpoint:
        """Sign the tree as it stands, after checking it extends the last signed checkpoint."""
        with self._lock:
            size = self.log.size()
            root = self.log.root(size)
            latest = self.latest()
            if latest is not None:
                previous = self._signed(latest)
                if previous.tree_size > size:
                    raise LogInconsistent(
                        f"the log has {size} leaves, fewer than the {previous.tree_size} of the "
                        "last checkpoint signed: it was truncated"
                    )
                if previous.tree_size == size and previous.root_hash == root:
                    return latest
                try:
                    merkle.verify_consistency(
                        previous.tree_size,
                        size,
                        previous.root_hash,
                        root,
                        self.log.consistency(previous.tree_size, size),
                    )
                except merkle.ProofError as error:
                    raise LogInconsistent(
                        f"the log no longer extends the checkpoint of size {previous.tree_size} "
                        f"signed at {latest.signed_at} ({error}): it was rewritten"
                    ) from None
            text = checkpoint_text(self.origin, size, root)
            note = sign_note(text, self.signer.name, self.signer.public_key, self.signer.sign)
            signed = StoredCheckpoint(size, root, note, self.clock().isoformat())
            try:
                self.store.log_add_checkpoint(signed)
            except Exception:
                # another process signed this size first: that one stands
                again = self.latest()
                if again is not None and again.tree_size == size:
                    return again
                raise
            return signed

    def _signed(self, stored: StoredCheckpoint) -> Checkpoint:
        """The checkpoint as signed (the note, not the table's columns, which are only an
        index): a stored note whose signature fails is itself evidence of tampering."""
        try:
            return parse_checkpoint(open_note(stored.note, self.vkey))
        except NoteError as error:
            raise LogInconsistent(
                f"the stored checkpoint of size {stored.tree_size} is not one this key signed "
                f"({error})"
            ) from None
