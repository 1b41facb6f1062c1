"""Two server processes on one PostgreSQL, each with its own aggregate cache, writing the same
contract: no update is lost, and after a write's response the other server never answers with
an older version."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.support import api as s
from tests.support.servers import served

CACHE_ON = {"DIALOOG_AGGREGATE_CACHE_MB": "64"}  # the default, named: this test is about it
ROUNDS = 12
WRITERS = 3  # per server
WRITES = 6


def _publish(client, contract_id: str, summary: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"{s.API}/contracts/{contract_id}/publications",
        headers=s.commissioner(),
        json={"audience": "raad", "channel": "web", "summary": summary},
    )


def test_two_servers_on_one_postgres_lose_nothing_and_read_their_writes(
    postgres_database_url: str, tmp_path: Path
) -> None:
    with (
        served(postgres_database_url, tmp_path, **CACHE_ON) as first,
        served(postgres_database_url, tmp_path, **CACHE_ON) as second,
        first.client() as a,
        second.client() as b,
    ):
        contract_id = s.active_contract(a).id
        # Alternate: a write on one server, then a read on the other, which warms its cache.
        for n in range(ROUNDS):
            writer, reader = (a, b) if n % 2 == 0 else (b, a)
            written = _publish(writer, contract_id, f"ronde-{n}")
            assert written.status_code == 201, written.text
            version = int(written.headers["etag"].strip('W/"'))
            read = reader.get(f"{s.API}/contracts/{contract_id}", headers=s.auditor())
            assert read.status_code == 200, read.text
            assert read.json()["version"] >= version, (n, read.json()["version"], version)
            assert read.json()["counts"]["publications"] >= n + 1
            published = s.read_records(reader, contract_id, "publications", s.auditor())
            assert f"ronde-{n}" in {p["summary"] for p in published}

        # Concurrent writers on both servers.
        failures: list[str] = []

        def write(server, name: str) -> None:  # type: ignore[no-untyped-def]
            with server.client() as client:
                for k in range(WRITES):
                    response = _publish(client, contract_id, f"{name}-{k}")
                    if response.status_code != 201:
                        failures.append(f"{name}-{k}: {response.status_code} {response.text}")

        threads = [
            threading.Thread(target=write, args=(server, f"{label}{w}"))
            for label, server in (("a", first), ("b", second))
            for w in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        expected = {f"ronde-{n}" for n in range(ROUNDS)} | {
            f"{label}{w}-{k}" for label in "ab" for w in range(WRITERS) for k in range(WRITES)
        }
        for client in (a, b):
            body = client.get(f"{s.API}/contracts/{contract_id}", headers=s.auditor()).json()
            records = s.read_records(client, contract_id, "publications", s.auditor())
            published = [p["summary"] for p in records]
            assert len(published) == len(expected) and set(published) == expected
            assert body["counts"]["publications"] == len(expected)
        verdict = b.get(f"{s.API}/contracts/{contract_id}/verification", headers=s.auditor())
        assert verdict.json()["valid"] is True, verdict.text
