from pathlib import Path

import pytest
from pydantic import ValidationError

from infrastructure.settings import Settings, parse_database_url


def test_defaults_use_sqlite_under_var_on_loopback() -> None:
    settings = Settings()
    assert settings.database.kind == "sqlite"
    assert settings.database.path == Path("var/dialoog.sqlite")
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert (settings.pool_size, settings.connect_timeout, settings.lock_timeout) == (8, 3, 3)
    assert settings.snapshot_interval == 50
    assert settings.jwt_secret is None


def test_environment_variables_carry_the_dialoog_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALOOG_DATABASE_URL", "postgresql://app:s%40cret@db.local:6543/contracts")
    monkeypatch.setenv("DIALOOG_JWT_SECRET", "hush-hush-a-secret-of-32-bytes-or-more")
    monkeypatch.setenv("DIALOOG_WORKERS", "4")
    monkeypatch.setenv("DIALOOG_LOG_LEVEL", "debug")
    settings = Settings()
    database = settings.database
    assert (database.kind, database.host, database.port) == ("postgres", "db.local", 6543)
    assert (database.user, database.password, database.dbname) == ("app", "s@cret", "contracts")
    assert settings.workers == 4
    assert settings.log_level == "DEBUG"
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == "hush-hush-a-secret-of-32-bytes-or-more"


def test_secrets_stay_out_of_repr_and_redacted_urls() -> None:
    settings = Settings(
        database_url="postgresql://app:topsecret@db:5432/x",
        jwt_secret="jwt-topsecret-long-enough-for-hs256-use",
    )
    assert "jwt-topsecret-long-enough-for-hs256-use" not in repr(settings)
    assert "topsecret" not in settings.database.redacted()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///./var/dialoog.sqlite", Path("var/dialoog.sqlite")),
        ("sqlite:///relative.sqlite", Path("relative.sqlite")),
        ("sqlite:////tmp/absolute.sqlite", Path("/tmp/absolute.sqlite")),
    ],
)
def test_sqlite_urls_follow_the_three_and_four_slash_convention(url: str, path: Path) -> None:
    assert parse_database_url(url).path == path


def test_postgres_default_port_and_memory() -> None:
    assert parse_database_url("postgresql://u@h/db").port == 5432
    assert parse_database_url("postgres://u@h:1/db").kind == "postgres"
    assert parse_database_url("memory://").kind == "memory"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://u:p@h/db", "unsupported scheme 'mysql'"),
        ("not a url", "unsupported scheme"),
        ("postgresql://u:p@h:notaport/db", "cannot parse"),
        ("postgresql://u:p@h:5432/", "needs a host and a database name"),
        ("sqlite://", "needs a file path"),
    ],
)
def test_unusable_database_urls_fail_with_a_readable_reason(url: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(database_url=url)
    assert fragment in str(caught.value)
    assert "postgresql://user:password@host:port/dbname" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"), [("port", 70000), ("workers", 0), ("pool_size", 0), ("log_level", "LOUD")]
)
def test_out_of_range_values_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})
