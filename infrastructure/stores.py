"""From settings to the library's environment: which store, how big a pool, how long to wait."""

from __future__ import annotations

import math

from application.read_models import ReadModelStore
from application.service import ContractService
from infrastructure.read_models import MemoryReadModels, PostgresReadModels, SqliteReadModels
from infrastructure.secrets import snapshot_key
from infrastructure.settings import Settings, side_conninfo

#: A command against a store that does not answer fails within this many seconds.
STORE_DEADLINE_SECONDS = 4.5


def library_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing library's settings for `settings.database_url`."""
    database = settings.database
    if database.kind == "memory":
        return {"PERSISTENCE_MODULE": "infrastructure.memory:LoggedPOPOFactory"}
    if database.kind == "sqlite":
        busy_timeout = max(1, math.ceil(settings.lock_timeout))
        return {
            "PERSISTENCE_MODULE": "infrastructure.sqlite:BoundedWaitSQLiteFactory",
            "SQLITE_DBNAME": str(database.path),
            "SQLITE_LOCK_TIMEOUT": str(busy_timeout),
            # Queueing for the writer slot plus the busy timeout stay within ~4.5 s.
            "DIALOOG_SQLITE_POOL_TIMEOUT": str(max(1.0, STORE_DEADLINE_SECONDS - busy_timeout)),
        }
    return {
        "PERSISTENCE_MODULE": "infrastructure.postgres:FailFastPostgresFactory",
        "POSTGRES_DBNAME": database.dbname,
        "POSTGRES_HOST": database.host,
        "POSTGRES_PORT": str(database.port),
        "POSTGRES_USER": database.user,
        "POSTGRES_PASSWORD": database.password,
        # libpq counts whole seconds and treats anything under 2 as 2.
        "POSTGRES_CONNECT_TIMEOUT": str(max(2, math.ceil(settings.connect_timeout))),
        "POSTGRES_LOCK_TIMEOUT": str(max(1, math.ceil(settings.lock_timeout))),
        "POSTGRES_POOL_SIZE": str(settings.pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
        # A pooled connection is checked (one empty query) before use and replaced if the
        # server closed it: once the database is back after an outage or a restart, no request
        # fails on a connection opened before it.
        "POSTGRES_PRE_PING": "y",
        # Database functions skip the table lock, so notification ids could commit out of order
        # and a reader tracking its position could skip an event: never, whatever the
        # environment says (the library also reads os.environ).
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "DIALOOG_STATEMENT_TIMEOUT_MS": str(int(max(settings.lock_timeout, 1) * 1000) + 2000),
    }


def read_model_store(settings: Settings) -> ReadModelStore:
    database = settings.database
    if database.kind == "memory":
        return MemoryReadModels()
    if database.kind == "sqlite":
        return SqliteReadModels(str(database.path), lock_timeout=settings.lock_timeout)
    conninfo = side_conninfo(settings)
    return PostgresReadModels(
        conninfo,
        pool_size=max(2, settings.pool_size // 2),
        connect_timeout=settings.connect_timeout,
    )


def contract_service(settings: Settings, *, with_read_models: bool = True) -> ContractService:
    """The contract service on the configured store (connects lazily where the library can)."""
    return ContractService(
        library_env(settings),
        snapshot_interval=settings.snapshot_interval,
        aggregate_cache_bytes=settings.aggregate_cache_mb * 1024 * 1024,
        read_models=read_model_store(settings) if with_read_models else None,
        snapshot_key=snapshot_key(settings),
        social_services_threshold=settings.social_services_threshold,
    )
