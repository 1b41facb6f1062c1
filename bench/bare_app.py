"""Ceiling (b): a bare FastAPI GET that returns a fixed JSON document, served the way
`dialoog serve` serves the real app — its pre-bound TCP_NODELAY listener (api.cli.bind_listener),
the same uvicorn options and log configuration, the same number of worker processes.

    .venv/bin/python bench/bare_app.py --port 8100 --workers 2 --payload contract.json
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from api.cli import bind_listener
from api.logs import logging_config


def create(payload_file: str) -> FastAPI:
    payload = json.loads(Path(payload_file).read_text())
    app = FastAPI(title="bare")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # A sync endpoint like the real ones: FastAPI runs it in the thread pool and serialises the
    # returned document with jsonable_encoder, as it does for the contract responses.
    @app.get("/bare/{item}")
    def bare(item: str) -> Any:
        return payload

    return app


def serve(factory: Callable[[], FastAPI], host: str, port: int, workers: int) -> None:
    """Serve the app `factory` makes as `dialoog serve` does: its pre-bound TCP_NODELAY
    listener, the same uvicorn options and log configuration, `workers` processes."""
    listener = bind_listener(host, port)
    config = uvicorn.Config(
        app=factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config("INFO"),
        access_log=False,
        server_header=False,
    )
    try:
        if workers > 1:
            Multiprocess(config, sockets=[listener]).run()
        else:
            uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--payload", required=True)
    args = parser.parse_args()
    serve(functools.partial(create, args.payload), args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
