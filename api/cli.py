"""The `dialoog` command: `dialoog serve`, `dialoog --version`.

A bad setting ends the command with one readable line on stderr and exit code 2."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import tempfile
import time
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from api.app import create_app, service_version
from api.evidence_cli import register as register_evidence_commands
from api.logs import logging_config
from api.serving import bind_listener
from api.telemetry import MULTIPROC_DIR_VAR
from application.errors import StoreUnavailable
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings

BAD_SETTING_EXIT_CODE = 2

app = typer.Typer(
    name="dialoog",
    help="Contracts that grow through dialogue, kept as an event-sourced history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> NoReturn:
    typer.echo(f"dialoog: {message}", err=True)
    raise typer.Exit(BAD_SETTING_EXIT_CODE)


def _describe(error: ValidationError) -> str:
    """All problems of a settings ValidationError on one line, named by environment variable."""
    problems = []
    for item in error.errors():
        field = "_".join(str(part) for part in item["loc"]).upper()
        reason = item["msg"].removeprefix("Value error, ")
        problems.append(f"DIALOOG_{field}: {reason}" if field else reason)
    return "invalid setting: " + "; ".join(problems)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"dialoog {service_version()}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """dialoog: the contract-dialogue service."""


def _run_server(settings: Settings, listener: socket.socket) -> None:
    import uvicorn

    from api.serving import GuardedH11Protocol, guard_config, run_workers

    options: dict[str, Any] = {
        # A picklable factory: each worker process builds its own app from the same settings.
        "app": functools.partial(create_app, settings),
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_config": logging_config(settings.log_level),
        "access_log": False,  # api.logs writes the access log, with request ids
        "server_header": False,
        # Slow and idle clients, and how many connections a worker holds (api/serving.py).
        "http": GuardedH11Protocol,
        "timeout_keep_alive": settings.keep_alive_timeout,
        # uvicorn answers 503 from this many requests in progress; connections stop at the
        # bound GuardedH11Protocol keeps, one below.
        "limit_concurrency": settings.max_connections + 1,
    }
    config = uvicorn.Config(**options)
    guard_config(config, settings)
    if settings.workers > 1:
        # Workers share their Prometheus series through files in a private folder, fresh for
        # each run (series of an earlier run must not add up with this one's).
        metrics_dir = tempfile.mkdtemp(prefix="dialoog-metrics-")  # mode 0700
        os.environ[MULTIPROC_DIR_VAR] = metrics_dir
        try:
            # `listener` only reserves the port; each worker listens on its own socket.
            run_workers(config)
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    else:
        uvicorn.Server(config).run(sockets=[listener])


def _check_token_policy(settings: Settings) -> None:
    """Refuse to serve with a token policy that cannot be safe (a short HS256 secret)."""
    from api.security import TokenVerifier, UnsafeTokenPolicy
    from infrastructure.secrets import jwt_secret

    try:
        TokenVerifier.from_settings(settings, jwt_secret(settings))
    except UnsafeTokenPolicy as error:
        _fail(str(error))
    except (OSError, ValueError) as error:
        _fail(f"no usable token keys: {type(error).__name__}: {error}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [DIALOOG_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [DIALOOG_PORT]")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [DIALOOG_WORKERS]")] = None,
) -> None:
    """Serve the HTTP API (settings from DIALOOG_* environment variables)."""
    overrides: dict[str, Any] = {
        name: value
        for name, value in {"host": host, "port": port, "workers": workers}.items()
        if value is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        _fail(_describe(error))

    if settings.dev_signin and settings.oidc_issuer:
        _fail(
            "DIALOOG_DEV_SIGNIN=1 is for development only: "
            "it cannot be used together with DIALOOG_OIDC_ISSUER"
        )
    _check_token_policy(settings)
    try:
        services = bootstrap(settings)
        try:
            services.ready()
        finally:
            services.close()
    except StoreUnavailable as error:
        _fail(f"event store not ready ({settings.database.redacted()}): {error}")

    try:
        listener = bind_listener(settings.host, settings.port, reuse_port=settings.workers > 1)
    except OSError as error:
        _fail(f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}")

    try:
        _run_server(settings, listener)
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()


projections = typer.Typer(help="Read models kept from the event log.", no_args_is_help=True)
app.add_typer(projections, name="projections")


@projections.command("rebuild")
def rebuild_projections() -> None:
    """Rebuild the contract list and indicator dashboards from the whole event log."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    try:
        settings = Settings()
    except ValidationError as error:
        _fail(_describe(error))
    console = Console(stderr=True)
    services = bootstrap(settings)
    try:
        contracts = services.contracts
        total = contracts.notification_count()
        started = time.perf_counter()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("events", total=total)
            processed = contracts.rebuild_read_models(lambda n: progress.advance(task, n))
        elapsed = max(time.perf_counter() - started, 1e-9)
        console.print(
            f"rebuilt read models from {processed} events in {elapsed:.2f} s "
            f"({processed / elapsed:,.0f} events/s)"
        )
    except StoreUnavailable as error:
        _fail(f"event store not available ({settings.database.redacted()}): {error}")
    finally:
        services.close()


@projections.command("verify")
def verify_projections() -> None:
    """Recompute every read-model row from the events and name each difference (exit 1 when
    there is any): an edited, added or deleted row, or a moved position."""
    try:
        settings = Settings()
    except ValidationError as error:
        _fail(_describe(error))
    services = bootstrap(settings)
    try:
        differences = services.contracts.verify_read_models()
    except StoreUnavailable as error:
        _fail(f"event store not available ({settings.database.redacted()}): {error}")
    finally:
        services.close()
    for difference in differences:
        typer.echo(difference)
    if differences:
        typer.echo(f"{len(differences)} difference(s): run `dialoog projections rebuild`", err=True)
        raise typer.Exit(1)
    typer.echo("the read models agree with the events")


retention = typer.Typer(
    help="Personal data past its retention period (docs/PRIVACY.md).", no_args_is_help=True
)
app.add_typer(retention, name="retention")


@retention.command("apply")
def apply_retention(
    today: Annotated[
        str | None, typer.Option(help="The day to apply it on (YYYY-MM-DD; default: today)")
    ] = None,
) -> None:
    """Erase the personal data of every contract that ended more than DIALOOG_RETENTION_YEARS
    (default 7) ago, recorded in each as a PersonalDataErased event on the ground "retention";
    also finish erasures a stopped process left half done. Safe to run daily."""
    from datetime import date

    try:
        settings = Settings()
    except ValidationError as error:
        _fail(_describe(error))
    try:
        day = date.fromisoformat(today) if today is not None else date.today()
    except ValueError:
        _fail(f"--today {today!r} is not a date such as 2031-01-01")
    services = bootstrap(settings)
    try:
        done = services.contracts.apply_retention(years=settings.retention_years, today=day)
    except StoreUnavailable as error:
        _fail(f"event store not available ({settings.database.redacted()}): {error}")
    finally:
        services.close()
    for erasure in done:
        typer.echo(
            f"contract {erasure.contract_id}: {erasure.keys_destroyed} key(s) destroyed "
            f"(version {erasure.version})"
        )
    typer.echo(
        f"{len(done)} contract(s) past the retention period of {settings.retention_years} years "
        f"on {day.isoformat()}"
    )


tokens = typer.Typer(help="Bearer tokens for the API.", no_args_is_help=True)
app.add_typer(tokens, name="token")

_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _ttl_seconds(text: str) -> int:
    text = text.strip().lower()
    unit = _TTL_UNITS.get(text[-1:])
    number = text[:-1] if unit else text
    if not number.isdigit() or int(number) <= 0:
        _fail(f"--ttl {text!r} is not a duration such as 30m, 8h or 7d")
    return int(number) * (unit or 1)


@tokens.command("issue")
def issue(
    sub: Annotated[str, typer.Option(help="Subject: the person's stable id")],
    name: Annotated[str, typer.Option(help="The person's display name")],
    org: Annotated[str, typer.Option(help="The organisation the person acts for")],
    role: Annotated[
        list[str], typer.Option(help="contract_manager, auditor, reader, privacy_officer (repeat)")
    ],
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 30m, 8h, 7d")] = "8h",
) -> None:
    """Print a signed token for the same settings `dialoog serve` uses."""
    from api.security import ROLES
    from infrastructure.secrets import jwt_secret

    unknown = sorted(set(role) - ROLES)
    if unknown:
        _fail(f"unknown role {', '.join(unknown)}; choose from {', '.join(sorted(ROLES))}")
    seconds = _ttl_seconds(ttl)
    try:
        settings = Settings()
        secret = jwt_secret(settings)
    except ValidationError as error:
        _fail(_describe(error))
    except (OSError, ValueError) as error:
        _fail(f"no signing secret: {error}")
    if seconds > settings.jwt_max_lifetime:
        _fail(
            f"--ttl {ttl} is longer than the {settings.jwt_max_lifetime} s the service accepts "
            "(DIALOOG_JWT_MAX_LIFETIME)"
        )
    typer.echo(_local_token(settings, secret, sub=sub, name=name, org=org, roles=role, ttl=seconds))


def _local_token(
    settings: Settings, secret: str, *, sub: str, name: str, org: str, roles: list[str], ttl: int
) -> str:
    """A token as `make run`'s server expects it: `iss` and `aud` are the configured ones, or
    the local defaults (which `make run` configures), so the server checks them."""
    from api.security import LOCAL_AUDIENCE, LOCAL_ISSUER, issue_token

    return issue_token(
        secret,
        sub=sub,
        name=name,
        org=org,
        roles=roles,
        ttl=ttl,
        issuer=settings.jwt_issuer or LOCAL_ISSUER,
        audience=settings.jwt_audience or LOCAL_AUDIENCE,
    )


@app.command()
def demo() -> None:
    """Load a realistic demo contract and print tokens for each party and an auditor."""
    from api.demo import AUDITOR, PEOPLE, Demo
    from application.errors import ReferenceTaken
    from infrastructure.secrets import jwt_secret

    try:
        settings = Settings()
    except ValidationError as error:
        _fail(_describe(error))
    services = bootstrap(settings)
    try:
        demo = Demo(services.contracts)
        try:
            contract_id = demo.load()
        except ReferenceTaken as error:
            _fail(str(error))
        typer.echo(f"loaded demo contract {demo.reference}: {contract_id}")
        secret = jwt_secret(settings)
        for person in [*PEOPLE.values(), AUDITOR]:
            token = _local_token(
                settings,
                secret,
                sub=person.subject,
                name=person.name,
                org=person.org,
                roles=sorted(person.roles),
                ttl=min(8 * 3600, settings.jwt_max_lifetime),
            )
            typer.echo(f"\n{person.name} ({person.org}, {', '.join(sorted(person.roles))}):")
            typer.echo(token)
    except StoreUnavailable as error:
        _fail(f"event store not available ({settings.database.redacted()}): {error}")
    finally:
        services.close()


# Evidence an auditor can take away: export, verify, import, checkpoint (api/evidence_cli.py).
register_evidence_commands(app)


if __name__ == "__main__":
    app()
