"""Benchmarks against this machine's own ceilings (issue 6): `make bench` / `make bench-quick`.

    .venv/bin/python bench/run.py [--quick] [--workers N] [--no-http]

Starts a throwaway PostgreSQL cluster (tests/support/pgcluster.py, default fsync and
synchronous_commit) and an SQLite file in a temp dir, measures every ceiling and every figure
P1–P8 in the same run,
prints a table, writes bench/results/latest.json and the table in docs/BENCHMARKS.md.
Every figure is a ratio against a ceiling measured minutes earlier on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT)]

import http_bench as hb
import store_bench as sb

from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support.pgcluster import PgCluster

RESULTS = HERE / "results" / "latest.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"

MODES: dict[str, dict[str, Any]] = {
    "quick": {
        "seed_events": 2000,
        "fleet": 32,
        "ceiling_seconds": 3.0,
        "load_seconds": 8.0,
        "read_runs": 3,
        "p3_repeats": 10,
        "p4_repeats": 20,
        "p8_contracts": 1000,
    },
    "full": {
        "seed_events": 10000,
        "fleet": 64,
        "ceiling_seconds": 10.0,
        "load_seconds": 30.0,
        "read_runs": 5,
        "p3_repeats": 30,
        "p4_repeats": 50,
        "p8_contracts": 1000,
    },
}
CONNECTIONS = 16
HISTORY_PAGE = 50
GOALS: dict[str, tuple[str, float]] = {
    "P1": (">=", 1.0),
    "P1L": (">=", 0.9),
    "P2": (">=", 0.5),
    "P3": ("<=", 2.0),
    "P4": ("<=", 1.2),
    "P5": (">=", 0.5),
    "P6": (">=", 0.5),
    "P6s": (">=", 0.5),
    "P7": (">=", 1.0),
    "P8": ("<=", 200.0),
    "P9c": ("<=", 1.5),
    "P9g": ("<=", 1.5),
    "P10": (">=", 0.5),
    "P11": ("<=", 1.5),
    "P12": (">=", 0.5),
}
PUBLICATION = {
    "audience": "council",
    "channel": "raadsinformatiebrief",
    "summary": "Stand van zaken",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Report:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.ceilings: dict[str, float] = {}

    def ceiling(self, key: str, figure: float, unit: str, notes: str, **extra: Any) -> None:
        self.ceilings[key] = figure
        self.rows.append(
            {
                "id": f"C{key}",
                "figure": round(figure, 3),
                "ceiling": None,
                "ratio": None,
                "goal": None,
                "pass": None,
                "unit": unit,
                "notes": notes,
                **extra,
            }
        )

    def figure(
        self,
        pid: str,
        figure: float,
        ceiling: float | None,
        unit: str,
        notes: str,
        *,
        ratio: float | None = None,
        **extra: Any,
    ) -> None:
        op, target = GOALS[pid]
        if ratio is None and ceiling:
            ratio = figure / ceiling
        judged = figure if pid == "P8" else ratio
        passed = None
        if judged is not None and not math.isnan(judged):
            passed = judged >= target if op == ">=" else judged <= target
        goal = f"{op} {target:g}" + (" MB" if pid == "P8" else "")
        self.rows.append(
            {
                "id": pid,
                "figure": round(figure, 3),
                "ceiling": None if ceiling is None else round(ceiling, 3),
                "ratio": None if ratio is None else round(ratio, 3),
                "goal": goal,
                "pass": passed,
                "unit": unit,
                "notes": notes,
                **extra,
            }
        )

    def missing(self, pid: str, reason: str) -> None:
        op, target = GOALS[pid]
        self.rows.append(
            {
                "id": pid,
                "figure": None,
                "ceiling": None,
                "ratio": None,
                "goal": f"{op} {target:g}" + (" MB" if pid == "P8" else ""),
                "pass": None,
                "unit": "",
                "notes": reason,
            }
        )

    @contextlib.contextmanager
    def section(self, name: str, ids: list[str]) -> Iterator[None]:
        """A failing benchmark leaves its rows marked not measured; the run goes on."""
        log(f"{name} …")
        started = time.perf_counter()
        try:
            yield
        except Exception as error:
            traceback.print_exc()
            done = {row["id"] for row in self.rows}
            for pid in ids:
                if pid not in done:
                    self.missing(pid, f"not measured: {type(error).__name__}: {error}"[:300])
        log(f"{name} done in {time.perf_counter() - started:.1f} s")


def machine_info(pg_url: str | None) -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wrk": hb.wrk_available(),
    }
    if pg_url:
        with contextlib.suppress(Exception):
            settings = sb.postgres_settings(pg_url)
            info["postgres"] = settings.pop("server_version", "")
            info["postgres_settings"] = settings
    return info


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# The run -------------------------------------------------------------------------------------


def run(mode: str, workers: int, want_http: bool) -> dict[str, Any]:
    cfg = MODES[mode]
    report = Report()
    scratch = Path(tempfile.mkdtemp(prefix="dialoog-bench-"))
    secret = secrets.token_hex(32)
    use_wrk = hb.wrk_available()
    log(f"mode={mode} workers={workers} load generator={'wrk' if use_wrk else 'python'}")
    with PgCluster() as cluster:
        machine = machine_info(cluster.url)
        pg_settings = Settings(
            database_url=cluster.url, data_dir=scratch
        )  # shares the server's snapshot key
        service = contract_service(pg_settings)
        big = ""
        fleet: list[str] = []
        try:
            with report.section("ceilings (a) PostgreSQL and (e) SQLite", []):
                rate = sb.postgres_insert_ceiling(
                    cluster.url, max_count=200_000, max_seconds=cfg["ceiling_seconds"]
                )
                report.ceiling(
                    "a",
                    rate.per_second,
                    "commits/s",
                    "one psycopg connection, INSERT small row + COMMIT, same cluster",
                    p50_ms=round(rate.p(50), 3),
                    p99_ms=round(rate.p(99), 3),
                )
                rate = sb.sqlite_insert_ceiling(
                    scratch, max_count=200_000, max_seconds=cfg["ceiling_seconds"]
                )
                report.ceiling(
                    "e",
                    rate.per_second,
                    "commits/s",
                    "one sqlite3 connection, WAL, default synchronous, INSERT + COMMIT",
                    p50_ms=round(rate.p(50), 3),
                    p99_ms=round(rate.p(99), 3),
                )

            with report.section("seeding", ["P3", "P4", "P6"]):
                t0 = time.perf_counter()
                fleet = sb.seed_fleet(service, cfg["fleet"], "FLEET")
                t1 = time.perf_counter()
                big = sb.seed_big_contract(service, cfg["seed_events"])
                t2 = time.perf_counter()
                machine["seeding"] = {
                    "fleet_contracts": cfg["fleet"],
                    "fleet_seconds": round(t1 - t0, 2),
                    "big_contract_events": cfg["seed_events"],
                    "big_contract_seconds": round(t2 - t1, 2),
                }
                log(
                    f"seeded {cfg['fleet']} contracts in {t1 - t0:.1f} s, "
                    f"{cfg['seed_events']} events in {t2 - t1:.1f} s"
                )

            if big:
                service_level_figures(report, service, big, cfg)

            if want_http and fleet and big:
                http_figures(
                    report, cluster.url, service, fleet, big, cfg, workers, secret, scratch, use_wrk
                )
            elif not want_http:
                for pid in ("P1", "P2", "P7", "P8"):
                    report.missing(pid, "HTTP benchmarks skipped (--no-http)")

            fill_service_fallbacks(report)

            with report.section("P5 read-model rebuild vs (c) raw notification reads", ["P5"]):
                assert service.projection is not None
                page = service.projection.batch_size
                raw = sb.best_of(cfg["read_runs"], lambda: sb.read_notifications_raw(service, page))
                report.ceiling(
                    "c",
                    raw.per_second,
                    "notifications/s",
                    f"recorder.select_notifications, pages of {page}, {raw.count} notifications",
                )
                rebuilt = sb.best_of(
                    max(1, cfg["read_runs"] // 2), lambda: sb.rebuild_rate(service)
                )
                report.figure(
                    "P5",
                    rebuilt.per_second,
                    raw.per_second,
                    "events/s",
                    f"rebuild_read_models over the whole log ({rebuilt.count} "
                    f"notifications, PostgreSQL read models)",
                )

            with report.section("P12 change feed vs (f) raw notification reads", ["P12"]):
                from application.feed import MAX_LIMIT

                raw = sb.best_of(
                    cfg["read_runs"], lambda: sb.read_notifications_raw(service, MAX_LIMIT)
                )
                report.ceiling(
                    "f",
                    raw.per_second,
                    "notifications/s",
                    f"recorder.select_notifications, pages of {MAX_LIMIT}, {raw.count} "
                    "notifications",
                )
                followed = sb.best_of(
                    cfg["read_runs"], lambda: sb.feed_rate(service, sb.MANAGER, MAX_LIMIT)
                )
                if not 0 < followed.count <= raw.count:
                    raise RuntimeError(
                        f"the feed showed {followed.count} events of a log of {raw.count}"
                    )
                report.figure(
                    "P12",
                    followed.per_second,
                    raw.per_second,
                    "events/s",
                    f"the change feed followed from the start as the commissioner, pages of "
                    f"{MAX_LIMIT} ({followed.count} CloudEvents from {raw.count} notifications)",
                )
        finally:
            service.close()
    rows = sorted(report.rows, key=lambda r: (r["id"][0] != "C", r["id"]))
    return {"mode": mode, "workers": workers, "machine": machine, "rows": rows}


def service_level_figures(report: Report, service: Any, big: str, cfg: dict[str, Any]) -> None:
    head = service.get_contract(sb.AUDITOR, big).version
    with report.section("P6 chain verification vs (d) raw event reads", ["P6", "P6s"]):
        raw = sb.best_of(cfg["read_runs"], lambda: sb.read_events_raw(service, big, 1000))
        report.ceiling(
            "d",
            raw.per_second,
            "events/s",
            f"recorder.select_events, pages of 1000, one {head}-event contract",
        )
        verified = sb.best_of(
            cfg["read_runs"], lambda: sb.verify_rate(service, big, snapshots=False)
        )
        report.figure(
            "P6",
            verified.per_second,
            raw.per_second,
            "events/s",
            f"service.verify(snapshots=False) on the {head}-event contract: every record "
            "hashed, linked and held against the transparency log",
        )
        with_snapshots = sb.best_of(cfg["read_runs"], lambda: sb.verify_rate(service, big))
        report.figure(
            "P6s",
            with_snapshots.per_second,
            raw.per_second,
            "events/s",
            f"service.verify (the default) on the {head}-event contract: also every snapshot's "
            "seal and head digest; snapshots hold the whole state (issue 14)",
        )
    with report.section("P3/P4 at service level", []):
        travelled, current = sb.time_travel_latencies(service, big, head, cfg["p3_repeats"])
        report.service_p3 = (mean(travelled), mean(current))  # type: ignore[attr-defined]
        last, first = sb.history_latencies(service, big, head, cfg["p4_repeats"], HISTORY_PAGE)
        report.service_p4 = (  # type: ignore[attr-defined]
            statistics.median(last),
            statistics.median(first),
        )
        log(
            f"service P3 {ms(mean(travelled))} ms vs {ms(mean(current))} ms; "
            f"P4 {ms(statistics.median(last))} ms vs {ms(statistics.median(first))} ms"
        )


def http_figures(
    report: Report,
    pg_url: str,
    service: Any,
    fleet: list[str],
    big: str,
    cfg: dict[str, Any],
    workers: int,
    secret: str,
    scratch: Path,
    use_wrk: bool,
) -> None:
    manager = {
        "Authorization": "Bearer "
        + hb.token(secret, sub="bench-m", org=sb.COMMISSIONER, roles=["contract_manager"])
    }
    auditor = {
        "Authorization": "Bearer "
        + hb.token(secret, sub="bench-a", org=sb.COMMISSIONER, roles=["auditor"])
    }
    seconds = cfg["load_seconds"]
    payload = scratch / "payload.json"
    head = service.get_contract(sb.AUDITOR, big).version

    def drive(
        port: int,
        headers: dict[str, str],
        method: str,
        paths: list[str],
        body: Any,
        *,
        warm_up: bool = False,
        half: bool = False,
    ) -> hb.Load:
        """A bounded load run; a warm-up run is short and its figures are discarded; `half`
        runs half as long (one of a pair of alternating runs)."""
        duration = min(3.0, seconds) if warm_up else seconds / 2 if half else seconds
        return hb.load(
            port,
            headers,
            method,
            paths,
            body,
            connections=CONNECTIONS,
            seconds=duration,
            max_requests=int(duration * 5000),
            scratch=scratch,
            use_wrk=use_wrk,
        )

    with report.section("P1/P2/P3/P4/P9/P10 over HTTP on PostgreSQL", ["P1", "P2", "P3", "P4"]):
        # The CRUD peer first, on the same contracts' ids and the same body (ceiling g).
        with hb.crud_server(pg_url, workers=workers, log=scratch / "server-crud.log") as crud:
            crud_paths = [f"/crud/{cid}/publications" for cid in fleet]
            drive(crud.port, {}, "POST", crud_paths[:4], PUBLICATION, warm_up=True)
            peer = drive(crud.port, {}, "POST", crud_paths, PUBLICATION)
        report.ceiling(
            "g",
            peer.per_second,
            "requests/s",
            f"the CRUD peer (bench/crud_app.py): FastAPI validates the same body with pydantic, "
            f"INSERTs one row from a psycopg pool and commits; same server setup, {workers} "
            f"workers, {peer.tool}; {peer.non_2xx} non-2xx",
            p50_ms=round(peer.p50_ms, 3),
            p99_ms=round(peer.p99_ms, 3),
        )
        with hb.dialoog_server(
            pg_url, workers=workers, secret=secret, data_dir=scratch, log=scratch / "server-pg.log"
        ) as server:
            client = hb.Client(server.port, manager)
            probe = f"/api/v1/contracts/{fleet[0]}"
            if not hb.route_exists(client, "GET", probe):
                raise RuntimeError("the HTTP API v1 is not there yet (GET /api/v1/contracts/{id})")
            # P1: commands appending to existing contracts, 16 connections. The disk's commit
            # rate drifts on a shared machine: Ca is taken again right before, the best counts.
            recheck_ceiling(
                report,
                "a",
                lambda: sb.postgres_insert_ceiling(
                    pg_url, max_count=200_000, max_seconds=cfg["ceiling_seconds"]
                ),
            )
            paths = [f"/api/v1/contracts/{cid}/publications" for cid in fleet]
            drive(
                server.port, manager, "POST", paths[:4], PUBLICATION, warm_up=True
            )  # warm-up, discarded
            p1 = drive(server.port, manager, "POST", paths, PUBLICATION)
            report.figure(
                "P1",
                p1.per_second,
                report.ceilings.get("g"),
                "commands/s",
                f"POST publications to {len(fleet)} contracts, {CONNECTIONS} "
                f"connections, {workers} workers, {p1.tool}; {p1.requests} requests, "
                f"{p1.non_2xx} non-2xx, {p1.errors} socket errors; against the CRUD peer (g); "
                f"the raw loop (a) would give {p1.per_second / report.ceilings['a']:.3f}",
                p50_ms=round(p1.p50_ms, 3),
                p99_ms=round(p1.p99_ms, 3),
            )
            # P10: the same load on one contract (a hot contract), against P1's rate.
            drive(server.port, manager, "POST", paths[:1], PUBLICATION, warm_up=True)
            p10 = drive(server.port, manager, "POST", paths[:1], PUBLICATION)
            report.figure(
                "P10",
                p10.per_second,
                p1.per_second,
                "commands/s",
                f"POST publications to one contract, {CONNECTIONS} connections, {p10.tool}; "
                f"{p10.requests} requests, {p10.non_2xx} non-2xx (409s: stale reads retried "
                f"by the service, then refused), against P1's rate",
                p50_ms=round(p10.p50_ms, 3),
                p99_ms=round(p10.p99_ms, 3),
            )
            # P2: the current state of those contracts; the bare ceiling returns the same size.
            document = client.json("GET", f"/api/v1/contracts/{fleet[len(fleet) // 2]}")
            payload.write_text(json.dumps(document))
            get_paths = [f"/api/v1/contracts/{cid}" for cid in fleet]
            drive(server.port, manager, "GET", get_paths[:4], None, warm_up=True)
            p2 = drive(server.port, manager, "GET", get_paths, None)
            report.p2 = p2  # type: ignore[attr-defined]
            # P3 and P4 on the big contract, one connection, one request at a time.
            p3_p4_over_http(report, hb.Client(server.port, auditor), big, head, cfg)
            # P9: a command and a current GET on the big contract against a 20-event one.
            small = sb.open_active_contract(service, "P9-00001")
            for n in range(16):
                service.handle(sb.MANAGER, sb.publication(small, f"P9 {n}"))
            p9_over_http(report, hb.Client(server.port, manager), big, small, cfg)
        with hb.bare_server(payload, workers=workers, log=scratch / "server-bare.log") as bare:
            bare_paths = [f"/bare/{cid}" for cid in fleet]
            drive(bare.port, {}, "GET", bare_paths[:4], None, warm_up=True)
            ceiling = drive(bare.port, {}, "GET", bare_paths, None)
        report.ceiling(
            "b",
            ceiling.per_second,
            "requests/s",
            f"bare FastAPI GET of a {payload.stat().st_size}-byte JSON, same server "
            f"setup, {workers} workers, {ceiling.tool}",
            p50_ms=round(ceiling.p50_ms, 3),
            p99_ms=round(ceiling.p99_ms, 3),
        )
        report.figure(
            "P2",
            p2.per_second,
            ceiling.per_second,
            "requests/s",
            f"GET current state of {len(fleet)} contracts (~{payload.stat().st_size} "
            f"bytes), {p2.tool}; {p2.non_2xx} non-2xx",
            p50_ms=round(p2.p50_ms, 3),
            p99_ms=round(p2.p99_ms, 3),
        )

    with report.section("P8 peak RSS after 1,000 contracts", ["P8"]):
        with hb.dialoog_server(
            pg_url, workers=1, secret=secret, data_dir=scratch, log=scratch / "server-p8.log"
        ) as server:
            client = hb.Client(server.port, manager)
            created = []
            for n in range(cfg["p8_contracts"]):
                body = {
                    "reference": f"RSS-{n:05d}",
                    "title": f"Wijkondersteuning {n}",
                    "assignment": "Integrale ondersteuning in de wijk, samen met bewoners.",
                    "procedure": "dialogue",
                    "term": {"start": "2025-01-01", "end": "2028-12-31"},
                    "financialFramework": {
                        "ceiling": "1250000.00",
                        "period": {"start": "2025-01-01", "end": "2025-12-31"},
                    },
                }
                created.append(client.json("POST", "/api/v1/contracts", body)["id"])
            for cid in created:
                client.json("GET", f"/api/v1/contracts/{cid}")
            client.json("GET", "/api/v1/contracts?limit=200")
            peaks = {pid: hb.peak_rss_mb(pid) for pid in server.serving_pids()}
        peak = max(peaks.values())
        report.figure(
            "P8",
            peak,
            None,
            "MB",
            f"VmHWM of the worker after opening and reading "
            f"{len(created)} contracts over HTTP (1 worker, PostgreSQL)",
            ratio=peak / GOALS["P8"][1],
        )

    with report.section("P7 HTTP commands on SQLite vs (e)", ["P7"]):
        recheck_ceiling(
            report,
            "e",
            lambda: sb.sqlite_insert_ceiling(
                scratch, max_count=200_000, max_seconds=cfg["ceiling_seconds"]
            ),
        )
        sqlite_url = f"sqlite:///{scratch / 'dialoog.sqlite'}"
        lite = contract_service(Settings(database_url=sqlite_url, data_dir=scratch))
        try:
            lite_fleet = sb.seed_fleet(lite, len(fleet), "LITE")
        finally:
            lite.close()
        with hb.crud_server(sqlite_url, workers=1, log=scratch / "server-crud-sqlite.log") as crud:
            crud_paths = [f"/crud/{cid}/publications" for cid in lite_fleet]
            drive(crud.port, {}, "POST", crud_paths[:4], PUBLICATION, warm_up=True)
            peer = drive(crud.port, {}, "POST", crud_paths, PUBLICATION)
        report.ceiling(
            "h",
            peer.per_second,
            "requests/s",
            f"the CRUD peer on a SQLite file beside the service's (WAL, default synchronous), "
            f"1 worker, {peer.tool}; {peer.non_2xx} non-2xx",
            p50_ms=round(peer.p50_ms, 3),
            p99_ms=round(peer.p99_ms, 3),
        )
        with hb.dialoog_server(
            sqlite_url,
            workers=1,
            secret=secret,
            data_dir=scratch,
            log=scratch / "server-sqlite.log",
        ) as server:
            paths = [f"/api/v1/contracts/{cid}/publications" for cid in lite_fleet]
            drive(server.port, manager, "POST", paths[:4], PUBLICATION, warm_up=True)
            p7 = drive(server.port, manager, "POST", paths, PUBLICATION)
        report.figure(
            "P7",
            p7.per_second,
            report.ceilings.get("h"),
            "commands/s",
            f"SQLite defaults (1 worker): POST publications to {len(lite_fleet)} "
            f"contracts, {CONNECTIONS} connections, {p7.tool}; {p7.non_2xx} non-2xx; against "
            f"the CRUD peer on SQLite (h); the raw loop (e) would give "
            f"{p7.per_second / report.ceilings['e']:.3f}",
            p50_ms=round(p7.p50_ms, 3),
            p99_ms=round(p7.p99_ms, 3),
        )

    with report.section("P11 contract page vs API GET of the same contract", ["P11"]):
        # The demo contract (what a contract manager's page shows in full), read by one of its
        # people over one connection, one request at a time: the page, then the API, alternating.
        from api.demo import MUNICIPALITY, PEOPLE, Demo

        person = PEOPLE[MUNICIPALITY]
        demo_id = Demo(service).load()
        api_headers = {
            "Authorization": "Bearer "
            + hb.token(secret, sub=person.subject, org=person.org, roles=sorted(person.roles))
        }
        with hb.dialoog_server(
            pg_url,
            workers=1,
            secret=secret,
            data_dir=scratch,
            log=scratch / "server-pages.log",
            DIALOOG_DEV_SIGNIN="1",
        ) as server:
            pages = sb.signed_in_pages(server.port, person.subject)
            try:
                page_path, api_path = f"/contracten/{demo_id}", f"/api/v1/contracts/{demo_id}"
                sb.timed_gets(pages, page_path, 5, {})  # warm-up, discarded
                sb.timed_gets(pages, api_path, 5, api_headers)
                page_ms: list[float] = []
                api_ms: list[float] = []
                for _ in range(5):
                    page_ms += sb.timed_gets(pages, page_path, cfg["p4_repeats"] // 5, {}).latencies
                    api_ms += sb.timed_gets(
                        pages, api_path, cfg["p4_repeats"] // 5, api_headers
                    ).latencies
            finally:
                pages.close()
        page_median = statistics.median(page_ms) * 1000
        api_median = statistics.median(api_ms) * 1000
        report.figure(
            "P11",
            page_median,
            api_median,
            "ms",
            f"median GET /contracten/{{id}} (HTML, signed in) vs GET /api/v1/contracts/{{id}} "
            f"(JSON, token) of the demo contract, same person, {len(page_ms)} each, alternating; "
            f"API median {api_median:.1f} ms",
        )

    with report.section("P1L commands with vs without the transparency log", ["P1L"]):
        # Two fresh databases on the same cluster, seeded alike; one server appends to the log
        # as shipped, the other stores events as before the log (bench/without_log). Loads
        # alternate (with, without, with, without) so the disk's drift hits both alike.
        urls: dict[str, str] = {}
        paths: dict[str, list[str]] = {}
        for name in ("with_log", "without_log"):
            urls[name] = sb.create_database(pg_url, f"bench_{name}")
            seeded = contract_service(Settings(database_url=urls[name], data_dir=scratch))
            try:
                paths[name] = [
                    f"/api/v1/contracts/{cid}/publications"
                    for cid in sb.seed_fleet(seeded, len(fleet), "LOG")
                ]
            finally:
                seeded.close()
        without = {
            "PYTHONPATH": os.pathsep.join(
                [str(HERE / "without_log"), os.environ.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep),
            "DIALOOG_BENCH_WITHOUT_LOG": "1",
        }
        seeded_leaves = sb.log_size(urls["without_log"])  # the seeding went through the log
        runs: dict[str, list[hb.Load]] = {"with_log": [], "without_log": []}
        for _ in range(2):
            for name in ("with_log", "without_log"):
                with hb.dialoog_server(
                    urls[name],
                    workers=workers,
                    secret=secret,
                    data_dir=scratch,
                    log=scratch / f"server-{name}.log",
                    **(without if name == "without_log" else {}),
                ) as server:
                    drive(server.port, manager, "POST", paths[name][:4], PUBLICATION, warm_up=True)
                    runs[name].append(
                        drive(server.port, manager, "POST", paths[name], PUBLICATION, half=True)
                    )
        leaves = sb.log_size(urls["without_log"]) - seeded_leaves
        if leaves:
            raise RuntimeError(f"the peer without the log appended {leaves} leaves")
        if sb.log_size(urls["with_log"]) <= seeded_leaves:
            raise RuntimeError("the server with the log appended no leaves")
        rate = {
            name: sum(r.requests for r in done) / sum(r.seconds for r in done)
            for name, done in runs.items()
        }
        report.figure(
            "P1L",
            rate["with_log"],
            rate["without_log"],
            "commands/s",
            f"P1's load with the log vs the same server storing events without it "
            f"({rate['without_log']:.0f}/s), {len(fleet)} contracts each, 2 alternating runs "
            f"of {runs['with_log'][0].seconds:.0f} s each; "
            f"{sum(r.non_2xx for d in runs.values() for r in d)} non-2xx",
        )


def recheck_ceiling(report: Report, key: str, measure: Callable[[], sb.Rate]) -> None:
    """Measure a ceiling again next to its figure and keep the better of the two runs."""
    again = measure().per_second
    row = next(r for r in report.rows if r["id"] == f"C{key}")
    first = report.ceilings[key]
    row["notes"] += f"; best of {first:,.0f} (start) and {again:,.0f} (next to its figure)"
    if again > first:
        report.ceilings[key] = again
        row["figure"] = round(again, 3)


def p3_p4_over_http(
    report: Report, client: hb.Client, big: str, head: int, cfg: dict[str, Any]
) -> None:
    import random
    from datetime import timedelta

    base = f"/api/v1/contracts/{big}"
    first_doc = client.json("GET", f"{base}?version=1")
    current_doc = client.json("GET", base)
    start = datetime.fromisoformat(first_doc["createdAt"])
    span = (datetime.fromisoformat(current_doc["updatedAt"]) - start).total_seconds()
    rng = random.Random(6)

    def random_point(_: int) -> str:
        if rng.random() < 0.5:
            return f"{base}?version={rng.randint(1, head)}"
        moment = (start + timedelta(seconds=rng.uniform(0, span))).astimezone(UTC)
        return f"{base}?asOf={moment.isoformat().replace('+00:00', 'Z')}"

    current = hb.sequential_latencies(client, lambda _: base, cfg["p3_repeats"])
    travelled = hb.sequential_latencies(client, random_point, cfg["p3_repeats"])
    report.figure(
        "P3",
        ms(mean(travelled)),
        ms(mean(current)),
        "ms",
        f"HTTP GET at random version/asOf of a {head}-event contract vs current state "
        f"(mean of {cfg['p3_repeats']} each, one connection; service level: "
        f"{_pair(report, 'service_p3')})",
        p50_ms=ms(statistics.median(travelled)),
        p99_ms=ms(max(travelled)),
    )

    history = f"{base}/history"
    if not hb.route_exists(client, "GET", f"{history}?after=0&limit={HISTORY_PAGE}"):
        last, first = report.service_p4  # type: ignore[attr-defined]
        report.figure(
            "P4",
            ms(last),
            ms(first),
            "ms",
            "SERVICE LEVEL (no HTTP history route yet): last vs first page of "
            f"{HISTORY_PAGE} in a {head}-event contract",
        )
        return
    first_l = hb.sequential_latencies(
        client, lambda _: f"{history}?after=0&limit={HISTORY_PAGE}", cfg["p4_repeats"]
    )
    last_l = hb.sequential_latencies(
        client,
        lambda _: f"{history}?after={head - HISTORY_PAGE}&limit={HISTORY_PAGE}",
        cfg["p4_repeats"],
    )
    report.figure(
        "P4",
        ms(statistics.median(last_l)),
        ms(statistics.median(first_l)),
        "ms",
        f"HTTP GET last vs first history page of {HISTORY_PAGE} in a {head}-event "
        f"contract (median of {cfg['p4_repeats']}; service level: "
        f"{_pair(report, 'service_p4')})",
        p50_ms=ms(statistics.median(last_l)),
        p99_ms=ms(max(last_l)),
    )


def p9_over_http(
    report: Report, client: hb.Client, big: str, small: str, cfg: dict[str, Any]
) -> None:
    """Median latency of POST publication and of GET current state on each contract, one
    connection, alternating in rounds so drift hits both alike."""
    sizes = {cid: client.json("GET", f"/api/v1/contracts/{cid}")["version"] for cid in (big, small)}
    if not 15 <= sizes[small] <= 25:
        raise RuntimeError(f"the small contract has {sizes[small]} events, not ~20")
    rounds, each = 5, max(2, cfg["p4_repeats"] // 5)
    command: dict[str, list[float]] = {big: [], small: []}
    read: dict[str, list[float]] = {big: [], small: []}
    for cid in (big, small):  # warm-up (fills the worker's cache), discarded
        hb.sequential_latencies(client, lambda _, c=cid: f"/api/v1/contracts/{c}", 3)
    for _ in range(rounds):
        for cid in (big, small):
            command[cid] += hb.sequential_latencies(
                client,
                lambda _, c=cid: f"/api/v1/contracts/{c}/publications",
                each,
                method="POST",
                body=PUBLICATION,
            )
            read[cid] += hb.sequential_latencies(
                client, lambda _, c=cid: f"/api/v1/contracts/{c}", each
            )
    for pid, what, latencies in (("P9c", "POST publication", command), ("P9g", "GET", read)):
        report.figure(
            pid,
            ms(statistics.median(latencies[big])),
            ms(statistics.median(latencies[small])),
            "ms",
            f"median {what} on the {sizes[big]}-event contract vs a {sizes[small]}-event one "
            f"({len(latencies[big])} each, alternating, one connection)",
            p50_ms=ms(statistics.median(latencies[big])),
            p99_ms=ms(max(latencies[big])),
        )


def _pair(report: Report, name: str) -> str:
    pair = getattr(report, name, None)
    if not pair:
        return "n/a"
    return f"{ms(pair[0])} ms vs {ms(pair[1])} ms, ratio {pair[0] / pair[1]:.2f}"


def fill_service_fallbacks(report: Report) -> None:
    """P3/P4 at service level when the HTTP run did not produce them."""
    ids = {row["id"]: row for row in report.rows}
    for pid, name, what in (
        ("P3", "service_p3", "random version/asOf vs current state"),
        ("P4", "service_p4", "last vs first history page"),
    ):
        pair = getattr(report, name, None)
        if pair and (pid not in ids or ids[pid]["figure"] is None):
            report.rows = [r for r in report.rows if r["id"] != pid]
            report.figure(
                pid, ms(pair[0]), ms(pair[1]), "ms", f"SERVICE LEVEL (HTTP not measured): {what}"
            )


# Output --------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    header = "| id | figure | unit | ceiling | ratio | goal | pass | p50 ms | p99 ms | notes |"
    lines = [header, "|---|---:|---|---:|---:|---|---|---:|---:|---|"]
    for row in rows:
        passed = row["pass"]
        lines.append(
            f"| {row['id']} | {fmt(row['figure'])} | {row['unit']} | {fmt(row['ceiling'])} | "
            f"{fmt(row['ratio'], 3)} | {row['goal'] or ''} | "
            f"{'' if passed is None and row['goal'] is None else fmt(passed)} | "
            f"{fmt(row.get('p50_ms'))} | {fmt(row.get('p99_ms'))} | {row['notes']} |"
        )
    return "\n".join(lines)


def console_table(rows: list[dict[str, Any]]) -> str:
    cols = ["id", "figure", "unit", "ceiling", "ratio", "goal", "pass", "p50_ms", "p99_ms"]
    cells = [cols]
    for row in rows:
        passed = row["pass"]
        cells.append([
            row["id"], fmt(row["figure"]), row["unit"], fmt(row["ceiling"]),
            fmt(row["ratio"], 3), row["goal"] or "",
            "" if passed is None and row["goal"] is None else fmt(passed),
            fmt(row.get("p50_ms")), fmt(row.get("p99_ms")),
        ])  # fmt: skip
    widths = [max(len(str(line[i])) for line in cells) for i in range(len(cols))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_doc(result: dict[str, Any]) -> None:
    machine = result["machine"]
    block = "\n".join([
        TABLE_START,
        f"Latest run: `{result['mode']}` mode, {machine['date']}, {machine['cores']} cores "
        f"({machine['cpu']}), Python {machine['python']}, PostgreSQL "
        f"{machine.get('postgres', '?')}, {result['workers']} server workers, load generator "
        f"{'wrk' if machine.get('wrk') else 'python'}.",
        "",
        table(result["rows"]),
        TABLE_END,
    ])  # fmt: skip
    if DOC.exists() and TABLE_START in DOC.read_text():
        text = DOC.read_text()
        before, rest = text.split(TABLE_START, 1)
        after = rest.split(TABLE_END, 1)[1] if TABLE_END in rest else ""
        DOC.write_text(before + block + after)
    else:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(f"# Benchmarks\n\n{block}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small seed, short loads (< 3 min)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server worker processes for P1/P2 and the bare ceiling",
    )
    parser.add_argument("--no-http", action="store_true", help="service-level figures only")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    result = run("quick" if args.quick else "full", args.workers, not args.no_http)
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if not args.no_doc:
        write_doc(result)
    print(console_table(result["rows"]))
    print(f"\n{len(result['rows'])} rows in {result['seconds']} s -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
