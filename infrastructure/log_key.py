"""The transparency log's Ed25519 signing key: `DIALOOG_LOG_SIGNING_KEY_FILE`, else
`<data_dir>/log-signing-key`, generated on first use with mode 0600.

The file holds the key in Go's note signer format, `PRIVATE+KEY+<name>+<key id>+base64(0x01 ‖
seed)`, so the same file works with golang.org/x/mod/sumdb/note. Several servers sharing one
database must share the file. The key's name is the log's origin (`DIALOOG_LOG_ORIGIN`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from application.checkpoints import ED25519, key_id
from infrastructure.settings import Settings

LOG_SIGNING_KEY_FILE = "log-signing-key"
_PREFIX = "PRIVATE+KEY+"


@dataclass(frozen=True)
class Ed25519LogSigner:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def signer_key_text(name: str, seed: bytes) -> str:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    encoded = base64.b64encode(bytes([ED25519]) + seed).decode()
    return f"{_PREFIX}{name}+{key_id(name, raw).hex()}+{encoded}"


def parse_signer_key(text: str) -> Ed25519LogSigner:
    """A signer from Go's note signer key format (the key id must match)."""
    if not text.startswith(_PREFIX):
        raise ValueError("a log signing key starts with PRIVATE+KEY+")
    name, _, rest = text[len(_PREFIX) :].partition("+")
    hash_hex, _, encoded = rest.partition("+")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("the log signing key is not base64") from None
    if len(raw) != 33 or raw[0] != ED25519:
        raise ValueError("the log signing key is not an Ed25519 key")
    signer = Ed25519LogSigner(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if key_id(name, signer.public_key).hex() != hash_hex:
        raise ValueError("the log signing key's id does not match its name and key")
    return signer


def log_signer(settings: Settings) -> Ed25519LogSigner:
    path = settings.log_signing_key_file or Path(settings.data_dir) / LOG_SIGNING_KEY_FILE
    signer = parse_signer_key(_kept(path, settings.log_origin))
    if signer.name != settings.log_origin:
        raise ValueError(
            f"the log signing key in {path} is named {signer.name!r}, not the log's origin "
            f"{settings.log_origin!r}"
        )
    return signer


def _kept(path: Path, name: str) -> str:
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker is making it: wait for its content
        for _ in range(50):
            with contextlib.suppress(ValueError):
                return _read(path)
            time.sleep(0.02)
        return _read(path)
    with os.fdopen(descriptor, "w") as file:
        file.write(signer_key_text(name, os.urandom(32)) + "\n")
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"{path} is empty: remove it to generate a new key")
    return value
