"""P13, `make bench-scale` (issue 14): dialoog on a store of a million events.

    .venv/bin/python bench/scale.py [--events 1000000] [--contracts 2000] [--organisations 20]

Starts a throwaway PostgreSQL cluster (tests/support/pgcluster.py, default fsync and
synchronous_commit) with two databases: the *scale* store, seeded with `--events` events over
`--contracts` contracts, and a *fresh* store of the same shape at a hundredth of the size (one
contract per organisation, each as long as the scale store's). Both are seeded the same way:
contracts opened, joined and given an agreed indicator through the service, then grown with
sessions, publications, consultations and measurements by the aggregate's own command methods
(`store_bench.Grower`), saved in batches, by `--processes` processes at once, round-robin over
the organisations so the log interleaves them as a real one does.

Then, with a server (`dialoog serve`, two workers) on each store, in alternating rounds so
drift hits both alike, the median of: a command (POST a publication), the current state (GET),
the contract's last history page, a page of the change feed (as one municipality's contract
manager, from the middle of the log) and an inclusion proof of one of the contract's events
at the log's full size. P13 is each median on the scale store over the fresh store's (goal
≤ 1.2). Also measured: the full read-model rebuild of the scale store (goal ≤ 5 min), and two
server processes on different ports writing the same 64 contracts of the scale store against
one server with both workers (throughput, and every answered command stored: no lost update).

Prints a table, writes bench/results/scale.json and the table in docs/SCALING.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import multiprocessing
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import http_bench as hb
import store_bench as sb

from application.service import ContractService, Principal
from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support.pgcluster import PgCluster
from tests.support.servers import HOST

RESULTS = HERE / "results" / "scale.json"
DOC = ROOT / "docs" / "SCALING.md"
TABLE_START = "<!-- bench-scale:table:start -->"
TABLE_END = "<!-- bench-scale:table:end -->"
#: Events added to a contract per turn of the round-robin, saved in one transaction.
STEP = 25
PROVIDERS = 5
FEED_LIMIT = 100
HISTORY_LIMIT = 50
PUBLICATION = {"audience": "council", "channel": "raadsinformatiebrief", "summary": "Stand"}
RATIO_GOAL = 1.2
REBUILD_GOAL_SECONDS = 300.0


def log(message: str) -> None:
    print(f"[bench-scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Who is who: organisation n has one contract manager; providers are shared ----------------------


def commissioner(n: int) -> str:
    return f"gemeente-{n:02d}"


def manager_of(n: int) -> Principal:
    return Principal(
        f"m-{n:02d}", f"Manager {n:02d}", commissioner(n), frozenset({"contract_manager"})
    )


def provider_manager_of(n: int) -> Principal:
    org = f"zorg-{n % PROVIDERS:02d}"
    return Principal(f"p-{org}", f"Aanbieder {org}", org, frozenset({"contract_manager"}))


# Seeding -------------------------------------------------------------------------------------


def settings_for(url: str, data_dir: Path) -> Settings:
    # The servers are started with the same data dir: they share the snapshot key.
    return Settings(database_url=url, data_dir=data_dir)


def seed_share(
    url: str, data_dir: str, indexes: list[int], per_contract: int, organisations: int
) -> list[tuple[int, str]]:
    """One seeding process: the contracts `indexes`, a group of one per organisation at a time,
    each grown `STEP` events per turn, round-robin. Returns (index, contract id) pairs."""
    service = contract_service(settings_for(url, Path(data_dir)))
    made: list[tuple[int, str]] = []
    try:
        for start in range(0, len(indexes), organisations):
            growers = []
            for i in indexes[start : start + organisations]:
                n = i % organisations
                manager, provider = manager_of(n), provider_manager_of(n)
                cid = sb.open_active_contract(
                    service, f"S-{i:05d}", manager=manager, provider_manager=provider
                )
                growers.append(sb.Grower(service, cid, manager=manager, provider_manager=provider))
                made.append((i, cid))
            while any(g.version < per_contract for g in growers):
                for grower in growers:
                    if grower.version < per_contract:
                        grower.grow(min(per_contract, grower.version + STEP), batch=STEP)
    finally:
        service.close()
    return made


def seed(
    url: str, data_dir: Path, contracts: int, per_contract: int, organisations: int, processes: int
) -> tuple[dict[int, str], float]:
    """Seed `contracts` contracts of `per_contract` events; their ids by index, and seconds."""
    contract_service(settings_for(url, data_dir)).close()  # tables and keys made once, first
    shares = [list(range(p, contracts, processes)) for p in range(processes)]
    started = time.perf_counter()
    made: dict[int, str] = {}
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [
            pool.submit(seed_share, url, str(data_dir), share, per_contract, organisations)
            for share in shares
            if share
        ]
        for future in futures:
            made.update(future.result())
    return made, time.perf_counter() - started


def store_size(url: str) -> tuple[int, int]:
    """(events in the store, bytes of its database)."""
    import psycopg

    with psycopg.connect(url) as connection:
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    service = contract_service(Settings(database_url=url, data_dir=Path(tempfile.mkdtemp())))
    try:
        events = service.recorder.max_notification_id() or 0
    finally:
        service.close()
    return int(events), int(size[0] if size else 0)


# Measuring -----------------------------------------------------------------------------------


class Target:
    """One store with its server: the contract measured on it and the requests' paths."""

    def __init__(self, name: str, url: str, server: Any, contract_id: str, secret: str) -> None:
        self.name, self.url, self.contract_id = name, url, contract_id
        self.port = server.port
        self.headers = {
            "Authorization": "Bearer "
            + hb.token(secret, sub="m-01", org=commissioner(1), roles=["contract_manager"])
        }
        self.client = hb.Client(self.port, self.headers)
        self.base = f"/api/v1/contracts/{contract_id}"
        self.leaf = self.command_leaf()
        self.feed_after = self.max_position() // 2
        self.latencies: dict[str, list[float]] = {}

    def command_leaf(self) -> int:
        """POST a publication; the log index of its event (the receipt's `Log-Index`)."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            headers = {**self.headers, "Content-Type": "application/json"}
            connection.request(
                "POST", f"{self.base}/publications", json.dumps(PUBLICATION), headers
            )
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"POST publication -> {response.status}")
            return int(response.headers["Log-Index"].split(",")[0])
        finally:
            connection.close()

    def max_position(self) -> int:
        return store_size(self.url)[0]

    def paths(self) -> dict[str, tuple[str, str, Any]]:
        head = self.client.json("GET", self.base)["version"]
        size = self.command_leaf() + 1  # the log's size right after this command
        return {
            "command": ("POST", f"{self.base}/publications", PUBLICATION),
            "current": ("GET", self.base, None),
            "history": (
                "GET",
                f"{self.base}/history?after={head - HISTORY_LIMIT}&limit={HISTORY_LIMIT}",
                None,
            ),
            "feed": ("GET", f"/api/v1/events?after={self.feed_after}&limit={FEED_LIMIT}", None),
            "proof": (
                "GET",
                f"/api/v1/log/proofs/inclusion?leafIndex={self.leaf}&treeSize={size}",
                None,
            ),
        }

    def round(self, repeats: int) -> None:
        for what, (method, path, body) in self.paths().items():
            self.latencies.setdefault(what, []).extend(
                hb.sequential_latencies(
                    self.client, lambda _, p=path: p, repeats, method=method, body=body
                )
            )

    def check_feed_page(self) -> int:
        """The feed page measured is a full one (the organisation's events are spread through
        the log): how many items it held."""
        page = self.client.json("GET", self.paths()["feed"][1])
        return len(page["items"])


def measure_pair(scale: Target, fresh: Target, rounds: int, repeats: int) -> list[dict[str, Any]]:
    for target in (scale, fresh):  # warm-up: caches filled as on a live server; discarded
        target.round(2)
        target.latencies.clear()
    for _ in range(rounds):
        for target in (scale, fresh):
            target.round(repeats)
    names = {
        "command": ("P13c", "POST publication on a contract of the same length"),
        "current": ("P13g", "GET the contract's current state"),
        "history": ("P13h", f"GET the contract's last history page ({HISTORY_LIMIT})"),
        "feed": (
            "P13f",
            f"GET a feed page ({FEED_LIMIT}) from the log's middle, one municipality's manager",
        ),
        "proof": ("P13i", "GET an inclusion proof at the log's full size"),
    }
    rows = []
    for what, (pid, notes) in names.items():
        big = statistics.median(scale.latencies[what]) * 1000
        small = statistics.median(fresh.latencies[what]) * 1000
        rows.append(
            row(
                pid,
                big,
                "ms",
                small,
                big / small,
                f"<= {RATIO_GOAL:g}",
                big / small <= RATIO_GOAL,
                f"{notes}; median of {len(scale.latencies[what])}, alternating rounds",
                p50_ms=round(big, 3),
                p99_ms=round(hb._pct(sorted(scale.latencies[what]), 99) * 1000, 3),
            )
        )
    return rows


def two_servers(
    url: str,
    data_dir: Path,
    secret: str,
    scratch: Path,
    contract_ids: list[str],
    seconds: float,
    use_wrk: bool,
) -> list[dict[str, Any]]:
    """Commands on the same contracts from one server with two workers, then from two server
    processes (one worker each, their own ports) at once; each run checked for lost updates."""
    headers = {
        "Authorization": "Bearer "
        + hb.token(secret, sub="m-01", org=commissioner(1), roles=["contract_manager"])
    }
    paths = [f"/api/v1/contracts/{cid}/publications" for cid in contract_ids]
    service = contract_service(settings_for(url, data_dir))

    def stored_since(position: int) -> int:
        """Events stored after `position` of the notification log (its ids have gaps)."""
        count = 0
        while batch := service.recorder.select_notifications(start=position + 1, limit=1000):
            count += len(batch)
            position = batch[-1].id
        return count

    def settled() -> int:
        """The log's last position once the requests still in flight have landed."""
        position = -1
        while (latest := service.recorder.max_notification_id() or 0) != position:
            position = latest
            time.sleep(1.0)
        return position

    def run(ports: list[int]) -> tuple[float, int, int, list[hb.Load]]:
        before = settled()
        loads: list[hb.Load] = []
        lock = threading.Lock()

        def drive(port: int) -> None:
            result = hb.load(
                port,
                headers,
                "POST",
                paths,
                PUBLICATION,
                connections=16 // len(ports),
                seconds=seconds,
                max_requests=int(seconds * 5000),
                scratch=scratch,
                use_wrk=use_wrk,
            )
            with lock:
                loads.append(result)

        threads = [threading.Thread(target=drive, args=(port,)) for port in ports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 120)
        answered = sum(x.requests - x.non_2xx - x.errors for x in loads)
        settled()
        stored = stored_since(before)
        rate = answered / max(x.seconds for x in loads)
        return rate, answered, stored, loads

    try:
        with hb.dialoog_server(
            url, workers=2, secret=secret, data_dir=data_dir, log=scratch / "server-one.log"
        ) as one:
            run([one.port])  # warm-up, discarded
            single = run([one.port])
        with (
            hb.dialoog_server(
                url, workers=1, secret=secret, data_dir=data_dir, log=scratch / "server-a.log"
            ) as a,
            hb.dialoog_server(
                url, workers=1, secret=secret, data_dir=data_dir, log=scratch / "server-b.log"
            ) as b,
        ):
            run([a.port, b.port])
            double = run([a.port, b.port])
    finally:
        service.close()
    rows = []
    for pid, (rate, answered, stored, loads), what in (
        ("S1", single, "one server, 2 workers"),
        ("S2", double, "two servers on their own ports, 1 worker each, at once"),
    ):
        errors = sum(x.errors for x in loads)
        # Requests in flight when the load generator stops are stored but not counted as
        # answered: at most one per connection. Fewer stored than answered is a lost update.
        lost = max(0, answered - stored)
        rows.append(
            row(
                pid,
                rate,
                "commands/s",
                None,
                None,
                None,
                None,
                f"{what}: {len(contract_ids)} contracts of one municipality, 16 connections, "
                f"{loads[0].tool}; {answered} answered 2xx, {stored} stored (the rest were "
                f"in flight at the stop)" + (f", {errors} socket errors" if errors else ""),
                p50_ms=round(statistics.median(x.p50_ms for x in loads), 3),
                p99_ms=round(max(x.p99_ms for x in loads), 3),
                lost_updates=lost,
            )
        )
        if lost or stored > answered + 16 + errors:
            raise RuntimeError(f"{what}: {answered} commands answered but {stored} stored")
    return rows


def row(
    pid: str,
    figure: float,
    unit: str,
    peer: float | None,
    ratio: float | None,
    goal: str | None,
    passed: bool | None,
    notes: str,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": pid,
        "figure": round(figure, 3),
        "unit": unit,
        "peer": None if peer is None else round(peer, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        "goal": goal,
        "pass": passed,
        "notes": notes,
        **extra,
    }


# The run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="dialoog-scale-"))
    secret = secrets.token_hex(32)
    per_contract = args.events // args.contracts
    use_wrk = hb.wrk_available()
    rows: list[dict[str, Any]] = []
    facts: dict[str, Any] = {}
    with PgCluster() as cluster:
        scale_url = sb.create_database(cluster.url, "scale")
        fresh_url = sb.create_database(cluster.url, "fresh")
        log(f"seeding the fresh store: {args.organisations} contracts × {per_contract} events")
        fresh_ids, _ = seed(
            fresh_url, scratch, args.organisations, per_contract, args.organisations, args.processes
        )
        log(
            f"seeding the scale store: {args.contracts} contracts × {per_contract} events "
            f"({args.processes} processes)"
        )
        scale_ids, scale_seconds = seed(
            scale_url, scratch, args.contracts, per_contract, args.organisations, args.processes
        )
        (scale_events, scale_bytes), (fresh_events, fresh_bytes) = (
            store_size(scale_url),
            store_size(fresh_url),
        )
        log(f"seeded {scale_events:,} events in {scale_seconds:.0f} s")
        facts.update(
            scale_events=scale_events,
            scale_contracts=len(scale_ids),
            scale_database_mb=round(scale_bytes / 2**20, 1),
            fresh_events=fresh_events,
            fresh_contracts=len(fresh_ids),
            fresh_database_mb=round(fresh_bytes / 2**20, 1),
            events_per_contract=per_contract,
            organisations=args.organisations,
            seeding_processes=args.processes,
        )
        rows.append(
            row(
                "Ss",
                scale_events / scale_seconds,
                "events/s",
                None,
                None,
                None,
                None,
                f"seeding the scale store: {scale_events:,} events, {len(scale_ids)} "
                f"contracts, {args.processes} processes, {scale_seconds:.0f} s",
            )
        )

        log("rebuilding the scale store's read models")
        service: ContractService = contract_service(settings_for(scale_url, scratch))
        try:
            started = time.perf_counter()
            rebuilt = service.rebuild_read_models()
            seconds = time.perf_counter() - started
        finally:
            service.close()
        rows.append(
            row(
                "P13r",
                seconds,
                "s",
                None,
                None,
                f"<= {REBUILD_GOAL_SECONDS:g} s",
                seconds <= REBUILD_GOAL_SECONDS,
                f"full read-model rebuild of the scale store: {rebuilt:,} notifications, "
                f"{rebuilt / seconds:,.0f} per second",
            )
        )
        fresh_service = contract_service(settings_for(fresh_url, scratch))
        try:
            fresh_service.rebuild_read_models()
        finally:
            fresh_service.close()

        # The measured contract: organisation 01's first, the same length in both stores.
        measured = {
            name: next(ids[i] for i in sorted(ids) if i % args.organisations == 1)
            for name, ids in (("scale", scale_ids), ("fresh", fresh_ids))
        }
        log("measuring both stores over HTTP, alternating")
        with (
            hb.dialoog_server(
                scale_url,
                workers=2,
                secret=secret,
                data_dir=scratch,
                log=scratch / "server-scale.log",
            ) as on_scale,
            hb.dialoog_server(
                fresh_url,
                workers=2,
                secret=secret,
                data_dir=scratch,
                log=scratch / "server-fresh.log",
            ) as on_fresh,
        ):
            scale = Target("scale", scale_url, on_scale, measured["scale"], secret)
            fresh = Target("fresh", fresh_url, on_fresh, measured["fresh"], secret)
            facts["feed_page_items"] = {t.name: t.check_feed_page() for t in (scale, fresh)}
            rows += measure_pair(scale, fresh, args.rounds, args.repeats)

        log("two server processes on one cluster")
        mine = [scale_ids[i] for i in sorted(scale_ids) if i % args.organisations == 1][:64]
        rows += two_servers(scale_url, scratch, secret, scratch, mine, args.load_seconds, use_wrk)
    return {"facts": facts, "rows": rows}


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| id | figure | unit | fresh store | ratio | goal | pass | p50 ms | p99 ms | notes |",
        "|---|---:|---|---:|---:|---|---|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['id']} | {fmt(r['figure'])} | {r['unit']} | {fmt(r['peer'])} | "
            f"{fmt(r['ratio'])} | {r['goal'] or ''} | "
            f"{'' if r['goal'] is None else fmt(r['pass'])} | {fmt(r.get('p50_ms'))} | "
            f"{fmt(r.get('p99_ms'))} | {r['notes']} |"
        )
    return "\n".join(lines)


def write_doc(result: dict[str, Any]) -> None:
    facts = result["facts"]
    block = "\n".join(
        [
            TABLE_START,
            f"Latest run: {result['date']}, {result['cores']} cores, PostgreSQL (default fsync and "
            f"synchronous_commit). Scale store: {facts['scale_events']:,} events over "
            f"{facts['scale_contracts']:,} contracts of {facts['organisations']} municipalities "
            f"({facts['scale_database_mb']:,} MB); fresh store: {facts['fresh_events']:,} events "
            f"over {facts['fresh_contracts']} contracts ({facts['fresh_database_mb']:,} MB).",
            "",
            table(result["rows"]),
            TABLE_END,
        ]
    )
    text = DOC.read_text() if DOC.exists() else "# Scaling\n\n"
    if TABLE_START in text:
        before, rest = text.split(TABLE_START, 1)
        after = rest.split(TABLE_END, 1)[1] if TABLE_END in rest else ""
        DOC.write_text(before + block + after)
    else:
        DOC.write_text(text.rstrip("\n") + "\n\n" + block + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--contracts", type=int, default=2_000)
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4, help="seeding processes")
    parser.add_argument("--rounds", type=int, default=5, help="alternating measuring rounds")
    parser.add_argument("--repeats", type=int, default=20, help="requests per figure per round")
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/SCALING.md")
    args = parser.parse_args()
    if args.contracts < args.organisations or args.events < args.contracts * 20:
        parser.error("at least one contract per organisation and 20 events per contract")
    started = time.perf_counter()
    result = run(args)
    result.update(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cores=multiprocessing.cpu_count(),
        seconds=round(time.perf_counter() - started, 1),
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if not args.no_doc:
        write_doc(result)
    print(table(result["rows"]))
    print(f"\n{len(result['rows'])} rows in {result['seconds']} s -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
