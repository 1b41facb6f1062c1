"""An exported bundle checked by its own verify.py in a fresh virtual environment holding only
`cryptography` (the version constraints.txt pins), with the service stopped and none of our
code on the path."""

from __future__ import annotations

import re
import subprocess
import venv
import zipfile
from pathlib import Path
from uuid import UUID

import pytest

from application.checkpoints import Checkpointer
from application.evidence import build_bundle
from infrastructure.log_key import log_signer
from infrastructure.settings import Settings
from tests.support.app import active_contract, service_for
from tests.support.servers import ROOT

pytestmark = pytest.mark.slow


def _pinned_cryptography() -> str:
    found = re.search(r"^cryptography==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    assert found, "constraints.txt pins cryptography"
    return found.group(1)


def test_verify_py_runs_in_a_fresh_venv_with_only_cryptography(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.sqlite'}", data_dir=tmp_path)
    service = service_for(settings)
    try:
        scene = active_contract(service)
        checkpoints = Checkpointer(
            service.recorder, log_signer(settings), origin=settings.log_origin, interval=0
        )
        bundle = build_bundle(service.recorder, checkpoints, UUID(hex=scene.contract_id))
    finally:
        service.close()  # the service is stopped from here on
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)
    folder = tmp_path / "auditor"
    with zipfile.ZipFile(path) as archive:
        archive.extract("verify.py", folder)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"cryptography=={_pinned_cryptography()}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    installed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert names - {"pip", "setuptools", "wheel"} == {"cryptography", "cffi", "pycparser"}

    result = subprocess.run(
        [str(python), "-I", "verify.py", str(path)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("VERDICT: VERIFIED")
