"""The service's secrets: from settings, or generated once and kept in the data directory.

* the token signing secret (`DIALOOG_JWT_SECRET`, else `<data_dir>/jwt-secret`);
* the snapshot sealing key (`DIALOOG_SNAPSHOT_KEY`, else `<data_dir>/snapshot-key`).

Generated files are created with mode 0600 on first use, so `make run` works out of the box
and both survive restarts. Several servers sharing one database must share both settings."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path

from infrastructure.settings import Settings

JWT_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret
SNAPSHOT_KEY_FILE = "snapshot-key"


def jwt_secret(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    return _kept(Path(settings.data_dir) / JWT_SECRET_FILE)


def snapshot_key(settings: Settings) -> bytes:
    if settings.snapshot_key is not None:
        return settings.snapshot_key.get_secret_value().encode()
    return _kept(Path(settings.data_dir) / SNAPSHOT_KEY_FILE).encode()


def _kept(path: Path) -> str:
    """The secret in `path`, made on first use (safe when several workers start at once)."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
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
        file.write(secrets.token_urlsafe(48))
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"{path} is empty: remove it to generate a new secret")
    return value
