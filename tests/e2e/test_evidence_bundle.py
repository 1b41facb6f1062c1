"""Evidence bundles end to end on every store: export, check with the bundle's own verify.py
logic (with and without an older checkpoint), import into an empty store with identical
digests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from uuid import UUID

from application.checkpoints import Checkpointer
from application.commands import IssuePublication
from application.evidence import build_bundle, import_bundle
from application.offline import verify as offline
from application.verification import verify_chain
from infrastructure.log_key import log_signer
from infrastructure.settings import Settings
from tests.support.app import COMMISSIONER, active_contract, service_for


def _publish(service, contract_id: str, summary: str = "Verslag") -> None:
    service.handle(
        COMMISSIONER,
        IssuePublication(contract_id, audience="council", channel="website", summary=summary),
    )


def test_export_verify_and_import_with_identical_digests(settings: Settings, tmp_path: Path):
    service = service_for(settings)
    try:
        scene = active_contract(service)
        other = active_contract(service, reference="ANDER-1")
        checkpoints = Checkpointer(
            service.recorder, log_signer(settings), origin=settings.log_origin, interval=0
        )
        kept = checkpoints.sign_now()
        _publish(service, scene.contract_id)
        _publish(service, other.contract_id)
        uuid = UUID(hex=scene.contract_id)
        bundle = build_bundle(service.recorder, checkpoints, uuid)

        report = offline.verify_bundle(bundle, kept.note)
        assert report.failures == 0, report.lines
        assert any("6 digests recomputed" in line for line in report.lines)
        assert any("all 6 events included" in line for line in report.lines)
        assert any(f"your checkpoint (size {kept.tree_size})" in line for line in report.lines)

        names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
        assert set(names) == {
            "manifest.json",
            "events.jsonl",
            "checkpoint.txt",
            "log-key.txt",
            "verify.py",
            "README.txt",
        }
        source_verdict, _ = verify_chain(service.recorder, uuid)
        source_states = [e.state for e in service.recorder.select_events(uuid)]
    finally:
        service.close()

    target = service_for(
        Settings(database_url=f"sqlite:///{tmp_path / 'imported.sqlite'}", data_dir=tmp_path)
    )
    try:
        assert import_bundle(target.recorder, bundle) == (scene.contract_id, 6)
        verdict, _ = verify_chain(target.recorder, uuid)
        assert verdict.valid and verdict.head_digest == source_verdict.head_digest
        # byte for byte
        assert [e.state for e in target.recorder.select_events(uuid)] == source_states
    finally:
        target.close()


def test_an_altered_bundle_names_what_failed(settings: Settings):
    service = service_for(settings)
    try:
        scene = active_contract(service)
        checkpoints = Checkpointer(
            service.recorder, log_signer(settings), origin=settings.log_origin, interval=0
        )
        bundle = build_bundle(service.recorder, checkpoints, UUID(hex=scene.contract_id))
    finally:
        service.close()
    archive = zipfile.ZipFile(io.BytesIO(bundle))
    files = {name: archive.read(name) for name in archive.namelist()}
    lines = files["events.jsonl"].decode().splitlines()

    def rebuilt(**changes: bytes) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as out:
            for name, data in {**files, **changes}.items():
                out.writestr(name, data)
        return buffer.getvalue()

    dropped = rebuilt(**{"events.jsonl": ("\n".join(lines[:3]) + "\n").encode()})
    report = offline.verify_bundle(dropped)
    assert report.failures == 2
    assert any("event v4: recorded in the log (leaf" in line for line in report.lines)
    assert any("event v5: recorded in the log (leaf" in line for line in report.lines)

    note = files["checkpoint.txt"].decode()
    forged = rebuilt(**{"checkpoint.txt": note.replace("\n5\n", "\n6\n").encode()})
    report = offline.verify_bundle(forged)
    assert report.failures == 1
    assert "checkpoint: the signature of dialoog.localhost/log does not hold" in report.lines[0]


def test_the_cli_exports_verifies_imports_and_prints_the_dossier(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.support.servers import ROOT

    source = f"sqlite:///{tmp_path / 'source.sqlite'}"
    settings = Settings(database_url=source, data_dir=tmp_path / "data")
    service = service_for(settings)
    try:
        scene = active_contract(service)
    finally:
        service.close()
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIALOOG_")}

    def dialoog(*args: str, url: str = source) -> subprocess.CompletedProcess[str]:
        env = base | {"DIALOOG_DATABASE_URL": url, "DIALOOG_DATA_DIR": str(tmp_path / "data")}
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    bundle = tmp_path / "bundle.zip"
    exported = dialoog("export", scene.contract_id, "-o", str(bundle))
    assert exported.returncode == 0, exported.stderr
    checked = dialoog("verify", str(bundle))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.rstrip().endswith("VERDICT: VERIFIED")
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    imported = dialoog("import", str(bundle), url=target)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == f"imported 5 events of contract {scene.contract_id}"
    again = dialoog("import", str(bundle), url=target)
    assert again.returncode == 2
    assert "empty store only" in again.stderr
    dossier = tmp_path / "dossier.pdf"
    printed = dialoog("dossier", scene.contract_id, "-o", str(dossier))
    assert printed.returncode == 0, printed.stderr
    assert dossier.read_bytes().startswith(b"%PDF-")
    missing = dialoog("export", "0" * 32, "-o", str(tmp_path / "none.zip"))
    assert missing.returncode == 2
    assert f"no contract {'0' * 32}" in missing.stderr
