"""The CRUD peer (issue 14, P1 and P7): what a team would write instead of an event store — a
bare FastAPI endpoint that validates the same JSON body as dialoog's publication command with
pydantic, INSERTs one row and commits, served the way `dialoog serve` serves the real app (its
pre-bound TCP_NODELAY listener, the same uvicorn options and log configuration, the same number
of worker processes).

On PostgreSQL it takes a connection from a psycopg pool of the size dialoog's pool has
(`DIALOOG_POOL_SIZE`, default 8) per worker; on SQLite each thread keeps its own connection to
the file (WAL, the default `synchronous`, as dialoog's store). Durability as dialoog's: one
commit per request, the servers' defaults.

    .venv/bin/python bench/crud_app.py --port 8100 --workers 2 --database-url postgresql://…
    .venv/bin/python bench/crud_app.py --port 8100 --workers 1 --database-url sqlite:///x.db
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bare_app import serve
from fastapi import FastAPI
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

TABLE = """CREATE TABLE IF NOT EXISTS crud_publications (
    id TEXT PRIMARY KEY, contract_id TEXT NOT NULL, audience TEXT NOT NULL,
    channel TEXT NOT NULL, summary TEXT NOT NULL, recorded_at TEXT NOT NULL)"""
INSERT = (
    "INSERT INTO crud_publications (id, contract_id, audience, channel, summary, recorded_at) "
    "VALUES ({0}, {0}, {0}, {0}, {0}, {0})"
)


class PublicationBody(BaseModel):
    """The body dialoog's POST …/publications takes, validated alike."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    audience: Annotated[str, Field(min_length=1, max_length=200)]
    channel: Annotated[str, Field(min_length=1, max_length=200)]
    summary: Annotated[str, Field(min_length=1, max_length=4000)]


def postgres_writer(url: str, pool_size: int) -> Callable[[tuple[Any, ...]], None]:
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(url, min_size=pool_size, max_size=pool_size, open=True)
    with pool.connection() as connection:
        connection.execute(TABLE)
    statement = INSERT.format("%s")

    def write(row: tuple[Any, ...]) -> None:
        with pool.connection() as connection:  # commits on leaving
            connection.execute(statement, row)

    return write


def sqlite_writer(path: str) -> Callable[[tuple[Any, ...]], None]:
    local = threading.local()
    statement = INSERT.format("?")

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "connection"):
            local.connection = sqlite3.connect(path, timeout=10, isolation_level=None)
            local.connection.execute("PRAGMA journal_mode=WAL")
            local.connection.execute(TABLE)
        return local.connection  # type: ignore[no-any-return]

    def write(row: tuple[Any, ...]) -> None:
        db = connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(statement, row)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    return write


def create(database_url: str, pool_size: int) -> FastAPI:
    if database_url.startswith("sqlite:///"):
        write = sqlite_writer(database_url.removeprefix("sqlite:///"))
    else:
        write = postgres_writer(database_url, pool_size)
    app = FastAPI(title="crud peer")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # A sync endpoint like dialoog's: FastAPI runs it in the thread pool.
    @app.post("/crud/{contract_id}/publications", status_code=201)
    def publish(
        contract_id: Annotated[str, PathParam(pattern="^[0-9a-f]{32}$")], body: PublicationBody
    ) -> dict[str, Any]:
        row_id, now = uuid4().hex, datetime.now(UTC).isoformat()
        write((row_id, contract_id, body.audience, body.channel, body.summary, now))
        return {"id": row_id, "contractId": contract_id, "recordedAt": now, **body.model_dump()}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pool-size", type=int, default=8)
    args = parser.parse_args()
    factory = functools.partial(create, args.database_url, args.pool_size)
    serve(factory, args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
