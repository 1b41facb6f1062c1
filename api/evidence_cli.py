"""`dialoog export`, `dialoog verify`, `dialoog import`, `dialoog checkpoint` and `dialoog
dossier`: evidence an auditor can take away, and checking it (docs/EVIDENCE.md).

* `verify BUNDLE [--checkpoint OLD]` runs the bundle's own verifier logic (the file shipped as
  `verify.py`), with no server and no database.
* `verify --server URL --checkpoint OLD [--contract ID ...]` asks a running server for its
  latest checkpoint and a consistency proof from OLD, checks both here against the log's key,
  and, per contract named, fetches and checks its bundle. Proof requests need a token
  (`--token` or DIALOOG_TOKEN).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from application.checkpoints import NoteError, open_note, parse_checkpoint
from application.errors import ApplicationError
from application.evidence import build_bundle, import_bundle
from application.offline import verify as offline
from domain import merkle
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings

HTTP_TIMEOUT = 30


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("verify")(verify)
    app.command("import")(import_)
    app.command("checkpoint")(checkpoint)
    app.command("dossier")(dossier)


def _settings() -> Settings:
    from pydantic import ValidationError

    from api.cli import _describe, _fail

    try:
        return Settings()
    except ValidationError as error:
        _fail(_describe(error))


def export(
    contract_id: Annotated[str, typer.Argument(help="The contract's id (32 hex characters)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The bundle file to write")],
    from_size: Annotated[
        int | None,
        typer.Option(
            help="The size of a checkpoint you kept: the bundle proves consistency from it"
        ),
    ] = None,
) -> None:
    """Write a contract's evidence bundle (events as stored, signed checkpoint, proofs, key,
    verify.py) from the configured store."""
    from api.cli import _fail
    from application.contract_store import contract_uuid

    services = bootstrap(_settings())
    try:
        uuid = contract_uuid(contract_id)
        recorder = services.contracts.recorder
        # A contract whose events were all removed still has its leaves in the log: its
        # bundle then names every event the log recorded and the store no longer holds.
        if not recorder.select_events(uuid, limit=1) and not (
            services.checkpoints.store.log_leaves_of(uuid.hex)
        ):
            _fail(f"no contract {contract_id}")
        sizes = (from_size,) if from_size else ()
        bundle = build_bundle(recorder, services.checkpoints, uuid, sizes)
    except ApplicationError as error:
        _fail(str(error))
    finally:
        services.close()
    output.write_bytes(bundle)
    typer.echo(f"wrote {output} ({len(bundle)} bytes)")


def import_(
    bundle: Annotated[Path, typer.Argument(help="An evidence bundle (zip)")],
) -> None:
    """Restore a bundle's events, byte for byte, into the configured (empty) store."""
    from api.cli import _fail

    services = bootstrap(_settings())
    try:
        contract_id, count = import_bundle(services.contracts.recorder, bundle.read_bytes())
    except ApplicationError as error:
        _fail(str(error))
    finally:
        services.close()
    typer.echo(f"imported {count} events of contract {contract_id}")


def dossier(
    contract_id: Annotated[str, typer.Argument(help="The contract's id (32 hex characters)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The PDF file to write")],
) -> None:
    """Write the auditor's dossier of a contract (PDF, in Dutch) from the configured store."""
    from api.cli import _fail
    from application.contract_store import contract_uuid
    from infrastructure.pdf import pdf_of

    services = bootstrap(_settings())
    try:
        html = services.contracts.dossier_of(contract_uuid(contract_id), services.checkpoints)
    except ApplicationError as error:
        _fail(str(error))
    finally:
        services.close()
    pdf = pdf_of(html)
    output.write_bytes(pdf)
    typer.echo(f"wrote {output} ({len(pdf)} bytes)")


def checkpoint() -> None:
    """Sign a checkpoint of the log now (if it grew) and print it."""
    from api.cli import _fail

    services = bootstrap(_settings())
    try:
        typer.echo(services.checkpoints.sign_now().note, nl=False)
    except ApplicationError as error:
        _fail(str(error))
    finally:
        services.close()


def verify(
    bundle: Annotated[Path | None, typer.Argument(help="An evidence bundle (zip)")] = None,
    old: Annotated[
        Path | None, typer.Option("--checkpoint", help="An older checkpoint of the log you kept")
    ] = None,
    server: Annotated[str | None, typer.Option(help="A running server's base URL")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="DIALOOG_TOKEN", help="Bearer token for --server")
    ] = None,
    contract: Annotated[
        list[str] | None, typer.Option(help="With --server: also check this contract's bundle")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="With --server: the log's verifier key you trust")
    ] = None,
) -> None:
    """Check a bundle offline, or a server's log against a checkpoint you kept. One line per
    finding, then the verdict; exit code 0 only when everything holds."""
    from api.cli import _fail

    old_note = old.read_text(encoding="utf-8") if old else None
    if server is not None:
        if old_note is None:
            _fail("--server needs --checkpoint: the checkpoint you kept")
        report = verify_server(server, old_note, token, contract or [], key)
    elif bundle is not None:
        report = offline.verify_bundle(str(bundle), old_note)
    else:
        _fail("name a bundle, or --server URL --checkpoint OLD.txt")
    for line in report.lines:
        typer.echo(line)
    if report.failures:
        typer.echo(f"VERDICT: FAILED ({report.failures} findings)")
        raise typer.Exit(1)
    typer.echo("VERDICT: VERIFIED")


def _get(url: str, token: str | None = None) -> bytes:
    request = urllib.request.Request(url)  # noqa: S310 - the auditor names the server
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
        body: bytes = response.read()
        return body


def verify_server(
    base: str,
    old_note: str,
    token: str | None,
    contracts: list[str],
    trusted_key: str | None = None,
) -> offline.Report:
    report = offline.Report()
    api = base.rstrip("/") + "/api/v1"
    try:
        published: dict[str, Any] = json.loads(_get(f"{api}/log/key"))
        vkey = str(published["verifierKey"])
        note = _get(f"{api}/log/checkpoint").decode()
    except (OSError, ValueError, KeyError) as error:
        report.fail(f"server: cannot be asked ({error})")
        return report
    if trusted_key is not None and trusted_key != vkey:
        report.fail("server: its log key is not the key you trust")
        return report
    try:
        current = parse_checkpoint(open_note(note, vkey))
        report.ok(f"server checkpoint: signed by {vkey.split('+')[0]} (size {current.tree_size})")
    except NoteError as error:
        report.fail(f"server checkpoint: {error}")
        return report
    try:
        kept = parse_checkpoint(open_note(old_note, vkey))
    except NoteError as error:
        report.fail(f"your checkpoint: {error}")
        return report
    _check_server_consistency(report, api, token, kept, current)
    for contract_id in contracts:
        try:
            query = urllib.parse.urlencode({"fromSize": kept.tree_size} if kept.tree_size else {})
            path = f"{api}/contracts/{urllib.parse.quote(contract_id)}/export?{query}"
            bundle = _get(path, token)
        except urllib.error.HTTPError as error:
            what = "the server has no such contract (removed?)" if error.code == 404 else error
            report.fail(f"contract {contract_id}: {what}")
            continue
        except OSError as error:
            report.fail(f"contract {contract_id}: cannot be fetched ({error})")
            continue
        inner = offline.verify_bundle(bundle, old_note)
        report.failures += inner.failures
        report.lines.extend(f"{line[:6]}contract {contract_id}: {line[6:]}" for line in inner.lines)
    return report


def _check_server_consistency(
    report: offline.Report,
    api: str,
    token: str | None,
    kept: Any,
    current: Any,
) -> None:
    if kept.tree_size > current.tree_size:
        report.fail(
            f"your checkpoint (size {kept.tree_size}) is larger than the server's "
            f"({current.tree_size}): the log was truncated"
        )
        return
    query = urllib.parse.urlencode({"from": kept.tree_size, "to": current.tree_size})
    try:
        body = json.loads(_get(f"{api}/log/proofs/consistency?{query}", token))
        proof = [base64.b64decode(p) for p in body["proof"]]
    except (OSError, ValueError, KeyError) as error:
        report.fail(f"consistency proof: cannot be fetched ({error})")
        return
    try:
        merkle.verify_consistency(
            kept.tree_size, current.tree_size, kept.root_hash, current.root_hash, proof
        )
    except merkle.ProofError as error:
        report.fail(
            f"your checkpoint (size {kept.tree_size}): the server's log at size "
            f"{current.tree_size} does not extend it ({error}): history was rewritten, "
            "removed or truncated since"
        )
        return
    report.ok(
        f"your checkpoint (size {kept.tree_size}): the server's log at size "
        f"{current.tree_size} extends it"
    )
