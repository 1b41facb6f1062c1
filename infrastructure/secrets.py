"""The token signing secret: from settings, or generated once and kept in the data directory."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path

from infrastructure.settings import Settings

SECRET_FILE_NAME = "jwt-secret"  # noqa: S105 - a file name, not a secret


def jwt_secret(settings: Settings) -> str:
    """DIALOOG_JWT_SECRET if set; otherwise the secret in `<data_dir>/jwt-secret`, created with
    mode 0600 on first use so that `make run` works out of the box and tokens survive restarts."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = Path(settings.data_dir) / SECRET_FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
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
