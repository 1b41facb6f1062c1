"""The one settings object. Built from `DIALOOG_*` environment variables in the composition root
(the CLI or the app factory's caller) and passed down; nothing else reads the environment."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

StoreKind = Literal["memory", "sqlite", "postgres"]

_SCHEMES: dict[str, StoreKind] = {
    "memory": "memory",
    "sqlite": "sqlite",
    "postgresql": "postgres",
    "postgres": "postgres",
}
_URL_HELP = (
    "expected sqlite:///relative/path.sqlite, sqlite:////absolute/path.sqlite, "
    "postgresql://user:password@host:port/dbname or memory://"
)


#: Every JWT algorithm the service can verify; HS256 is the only symmetric one.
JWT_ALGORITHMS = ("HS256", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA")
#: RFC 7518 §3.2: an HS256 key of at least the hash size (256 bits).
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class DatabaseParts:
    """A parsed `database_url`. For SQLite only `path` is set; for PostgreSQL the rest."""

    kind: StoreKind
    path: Path | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = field(default="", repr=False)
    dbname: str = ""

    def redacted(self) -> str:
        """The URL without its password, for log lines and error messages."""
        if self.kind == "memory":
            return "memory://"
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        return f"postgresql://{self.user}:***@{self.host}:{self.port}/{self.dbname}"


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def parse_database_url(url: str) -> DatabaseParts:
    """Split a database URL into its parts; raise ValueError with a readable message if it is
    not one this service can use."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise ValueError(
            f"cannot parse {_without_password(url)!r} ({error}); {_URL_HELP}"
        ) from None
    kind = _SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise ValueError(f"unsupported scheme {parts.scheme or '(none)'!r}; {_URL_HELP}")
    if kind == "memory":
        return DatabaseParts(kind="memory")
    if kind == "sqlite":
        # SQLAlchemy's convention: three slashes then a relative path, four for an absolute one.
        if parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
            raise ValueError(f"SQLite URL needs a file path; {_URL_HELP}")
        return DatabaseParts(kind="sqlite", path=Path(parts.path[1:]))
    dbname = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not dbname or "/" in dbname:
        raise ValueError(f"PostgreSQL URL needs a host and a database name; {_URL_HELP}")
    return DatabaseParts(
        kind="postgres",
        host=parts.hostname,
        port=port or 5432,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        dbname=dbname,
    )


class Settings(BaseSettings):
    """Every knob of the service. Environment variables carry the `DIALOOG_` prefix, e.g.
    `DIALOOG_DATABASE_URL`, `DIALOOG_JWT_SECRET`, `DIALOOG_PORT`."""

    model_config = SettingsConfigDict(
        env_prefix="DIALOOG_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    database_url: str = Field(
        default="sqlite:///./var/dialoog.sqlite",
        repr=False,  # it may carry a password
        description="sqlite:///path.sqlite, postgresql://user:pass@host:port/db or memory://",
    )
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 signing secret")
    jwt_public_key_file: Path | None = Field(
        default=None, description="PEM public key or JWKS file (RS/ES/PS/EdDSA)"
    )
    jwt_algorithms: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        default=None,
        description="accepted JWT algorithms, comma-separated (default: HS256 alone, or only the "
        "public-key algorithms once a public key or JWKS is configured)",
    )
    jwt_issuer: str | None = Field(default=None, description="required `iss` (checked when set)")
    jwt_audience: str | None = Field(default=None, description="required `aud` (checked when set)")
    jwt_max_lifetime: int = Field(
        default=12 * 3600, ge=60, le=31 * 86400, description="longest `exp - iat` accepted, s"
    )
    snapshot_key: SecretStr | None = Field(
        default=None, description="HMAC key sealing snapshots (else generated under data_dir)"
    )
    retention_years: int = Field(
        default=7,
        ge=1,
        le=100,
        description="years after a contract ends before `dialoog retention apply` erases its "
        "personal data (Archiefwet: the selection list's period for the records)",
    )
    pool_size: int = Field(default=8, ge=1, le=200, description="PostgreSQL connections")
    connect_timeout: float = Field(default=3, gt=0, le=60, description="seconds")
    lock_timeout: float = Field(default=3, gt=0, le=600, description="seconds")
    snapshot_interval: int = Field(default=50, ge=0, description="events between snapshots")
    aggregate_cache_mb: int = Field(
        default=64,
        ge=0,
        le=65536,
        description="MB of contracts kept in memory per process between requests (0: none)",
    )
    social_services_threshold: Decimal = Field(
        default=Decimal("750000.00"),
        gt=0,
        max_digits=15,
        decimal_places=2,
        description="the EU threshold for social and other specific services (Directive "
        "2014/24/EU art. 4(d), revised every two years) recorded on each contract opened; "
        "the modification limit is the lower of 10% of the initial value and this",
    )
    log_origin: str = Field(
        default="dialoog.localhost/log",
        min_length=1,
        max_length=200,
        pattern=r"^[^\s+]+$",
        description="the transparency log's origin: the first line of every checkpoint and the "
        "name of its signing key, e.g. dialoog.gemeente-utrecht.nl/log",
    )
    log_signing_key_file: Path | None = Field(
        default=None,
        description="the log's Ed25519 key in Go's note signer format (else generated as "
        "<data_dir>/log-signing-key, mode 0600)",
    )
    log_checkpoint_interval: float = Field(
        default=60, ge=0, le=86400, description="seconds at least between checkpoints signed"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    data_dir: Path = Path("./var")
    metrics_enabled: bool = Field(default=True, description="serve GET /metrics")
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token for /metrics; without one, loopback callers only"
    )
    # The OpenTelemetry variable itself (no DIALOOG_ prefix): spans are exported only if set.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    header_timeout: float = Field(
        default=10, gt=0, le=300, description="seconds a client has to send a request's headers"
    )
    keep_alive_timeout: float = Field(
        default=5, gt=0, le=300, description="seconds an idle keep-alive connection stays open"
    )
    max_connections: int = Field(
        default=1000, ge=1, le=100_000, description="open connections per worker (more: closed)"
    )
    # The change feed and open data (issue 15; docs/INTEGRATION.md).
    event_source: str = Field(
        default="urn:nld:dialoog",
        min_length=1,
        max_length=200,
        description="the CloudEvents `source` of this deployment's events (a URI reference, "
        "e.g. urn:nld:oin:<OIN>:systeem:dialoog)",
    )
    sse_heartbeat_seconds: float = Field(
        default=15, gt=0, le=300, description="seconds between heartbeat comments on a stream"
    )
    sse_poll_seconds: float = Field(
        default=0.25, gt=0, le=10, description="seconds between looks for new events per stream"
    )
    sse_max_streams: int = Field(
        default=100, ge=1, le=10_000, description="open event streams per worker (more: 503)"
    )
    ocid_prefix: str = Field(
        default="ocds-dialoog",
        pattern=r"^ocds-[a-z0-9]{1,30}$",
        description="the OCDS ocid prefix registered for this publisher (ocid = prefix-contractid)",
    )
    ocds_publisher: str = Field(
        default="dialoog", min_length=1, max_length=200, description="the OCDS publisher's name"
    )

    # Signed webhooks (issue 15; docs/INTEGRATION.md) ------------------------------------------
    webhooks_allow_local: bool = Field(
        default=False,
        description="allow http:// webhooks to 127.0.0.1, ::1 and localhost (tests, make run)",
    )
    webhooks_poll_seconds: float = Field(
        default=1, gt=0, le=60, description="seconds between looks for webhooks to deliver"
    )
    webhooks_timeout: float = Field(
        default=5, gt=0, le=60, description="seconds a webhook receiver has to answer"
    )
    webhooks_backoff_base: float = Field(
        default=5, gt=0, le=3600, description="seconds before the first retry of a webhook"
    )
    webhooks_backoff_cap: float = Field(
        default=3600, gt=0, le=86400, description="longest wait between webhook retries, s"
    )
    webhooks_give_up_after: float = Field(
        default=86400,
        gt=0,
        le=30 * 86400,
        description="seconds of failed retries before a subscription is marked failing",
    )
    webhooks_lease_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="how long a process holds a subscription's delivery (renewed per attempt)",
    )

    # Pages for people (api/pages/, docs/PAGES.md): sign-in and sessions ------------------------
    oidc_issuer: str | None = Field(
        default=None, description="OpenID Connect issuer URL of the organisation's provider"
    )
    oidc_client_id: str | None = Field(default=None, description="this service's OIDC client id")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="this service's OIDC client secret"
    )
    oidc_scope: str = Field(default="openid profile", description="scopes asked for at sign-in")
    oidc_org_claim: str = Field(default="org", description="ID-token claim with the organisation")
    oidc_roles_claim: str = Field(default="roles", description="ID-token claim with the roles")
    oidc_name_claim: str = Field(default="name", description="ID-token claim with the name")
    dev_signin: bool = Field(
        default=False, description="development sign-in page (never with an OIDC issuer)"
    )
    session_secret: SecretStr | None = Field(
        default=None, description="key signing page-session cookies (else from the JWT secret)"
    )
    session_idle_timeout: int = Field(
        default=15 * 60, ge=60, le=24 * 3600, description="seconds a page session may sit idle"
    )
    session_absolute_timeout: int = Field(
        default=8 * 3600, ge=60, le=7 * 24 * 3600, description="seconds a page session may last"
    )
    theme_css: Path | None = Field(
        default=None, description="a design-token CSS file to use instead of the open theme"
    )

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        if self.webhooks_lease_seconds <= 2 * self.webhooks_timeout:
            raise ValueError(
                "webhooks_lease_seconds must be more than twice webhooks_timeout: a lease that "
                "runs out during an attempt lets a second process deliver beside the first"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _database_url_is_usable(cls, value: str) -> str:
        parse_database_url(value)
        return value.strip()

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple):
            unknown = sorted(set(value) - set(JWT_ALGORITHMS))
            if unknown or not value:
                raise ValueError(f"choose algorithms from {', '.join(JWT_ALGORITHMS)}")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def database(self) -> DatabaseParts:
        return parse_database_url(self.database_url)

    @property
    def accepted_jwt_algorithms(self) -> tuple[str, ...]:
        """HS256 alone by default; once a public key (or JWKS) is configured, only public-key
        algorithms unless DIALOOG_JWT_ALGORITHMS names HS256 as well."""
        if self.jwt_algorithms:
            return self.jwt_algorithms
        if self.jwt_public_key_file is not None:
            return tuple(a for a in JWT_ALGORITHMS if a != "HS256")
        return ("HS256",)

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]


def side_conninfo(settings: Settings) -> str:
    """A libpq connection string for the stores kept beside the events in the same PostgreSQL
    database (read models, access log), with a statement timeout just past the lock timeout."""
    from psycopg.conninfo import make_conninfo  # only when a PostgreSQL store is built

    database = settings.database
    return make_conninfo(
        host=database.host,
        port=database.port,
        dbname=database.dbname,
        user=database.user,
        password=database.password,
        options=f"-c statement_timeout={int(max(settings.lock_timeout, 1) * 1000) + 2000}",
    )
