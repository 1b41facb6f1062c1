"""Profile one benchmark with py-spy and print where the time goes.

    .venv/bin/python bench/profile.py p1 [--seconds 15] [--workers 2]

p1: POST commands under 16 connections (PostgreSQL), sampling every server worker;
p2: GET current state under 16 connections; p5: the read-model rebuild; p6: chain verification
(p5/p6 sample this process). Prints the functions with the largest share of samples, inclusive
(anywhere on the stack) and self (on top), and keeps the raw collapsed stacks in the temp dir.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT)]

import http_bench as hb
import store_bench as sb

from infrastructure.settings import Settings
from infrastructure.stores import contract_service
from tests.support.pgcluster import PgCluster

PY_SPY = ROOT / ".venv" / "bin" / "py-spy"


def record(pid: int, seconds: float, out: Path, idle: bool) -> subprocess.Popen[bytes]:
    """py-spy on `pid`; with `idle`, waiting threads (locks, I/O) are sampled too."""
    command = [
        str(PY_SPY), "record", "--pid", str(pid), "--duration", str(int(seconds)),
        "--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking",
        "--threads", *(["--idle"] if idle else []),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(files: list[Path], top: int = 35) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for file in files:
        if not file.exists():
            continue
        for line in file.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            frames = [f for f in stack.split(";") if not f.startswith("thread (")]
            # An idle thread (waiting for work or the network) says nothing about cost.
            if not frames or _idle(frames[-1]):
                continue
            total += count
            for name in {_short(f) for f in frames}:
                inclusive[name] += count
            own[_short(frames[-1])] += count
    lines = [f"{total} busy samples"]
    lines.append("inclusive:")
    lines += [f"  {100 * c / total:5.1f}%  {n}" for n, c in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {100 * c / total:5.1f}%  {n}" for n, c in own.most_common(top // 2)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _ = where.rpartition(":")
    for marker in ("site-packages/", "python3.11/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _idle(frame: str) -> bool:
    return any(
        word in frame
        for word in ("wait (threading", "_worker (concurrent", "select (selectors", "poll (")
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=["p1", "p2", "p5", "p6"])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--idle", action="store_true", help="sample waiting threads too")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="dialoog-profile-"))
    secret = "profile-" + os.urandom(16).hex()  # 40 bytes: the server wants at least 32
    with PgCluster() as cluster:
        service = contract_service(Settings(database_url=cluster.url, data_dir=scratch))
        try:
            fleet = sb.seed_fleet(service, 64, "PROF")
            outputs: list[Path] = []
            if args.target in ("p5", "p6"):
                big = sb.seed_big_contract(service, args.events)
                out = scratch / f"{args.target}.txt"
                spy = record(os.getpid(), args.seconds, out, args.idle)
                time.sleep(1)
                deadline = time.monotonic() + args.seconds - 2
                runs = 0
                while time.monotonic() < deadline:
                    if args.target == "p5":
                        service.rebuild_read_models()
                    else:
                        service.verify(sb.AUDITOR, big)
                    runs += 1
                spy.wait()
                outputs.append(out)
                print(f"{runs} runs", file=sys.stderr)
            else:
                headers = {
                    "Authorization": "Bearer "
                    + hb.token(secret, sub="p", org=sb.COMMISSIONER, roles=["contract_manager"])
                }
                with hb.dialoog_server(
                    cluster.url,
                    workers=args.workers,
                    secret=secret,
                    data_dir=scratch,
                    log=scratch / "server.log",
                ) as server:
                    if args.target == "p1":
                        method, body = "POST", {"audience": "a", "channel": "c", "summary": "s"}
                        paths = [f"/api/v1/contracts/{c}/publications" for c in fleet]
                    else:
                        method, body = "GET", None
                        paths = [f"/api/v1/contracts/{c}" for c in fleet]
                    result: list[hb.Load] = []
                    driver = threading.Thread(
                        target=lambda: result.append(
                            hb.load(server.port, headers, method, paths, body, connections=16,
                                    seconds=args.seconds + 2, max_requests=10**6,
                                    scratch=scratch, use_wrk=hb.wrk_available())
                        )
                    )  # fmt: skip
                    driver.start()
                    time.sleep(1)
                    spies = []
                    for pid in server.serving_pids():
                        out = scratch / f"{args.target}-{pid}.txt"
                        outputs.append(out)
                        spies.append(record(pid, args.seconds - 1, out, args.idle))
                    for spy in spies:
                        spy.wait()
                    driver.join()
                    load = result[0]
                    print(
                        f"{load.per_second:.1f}/s p50 {load.p50_ms:.1f} ms "
                        f"p99 {load.p99_ms:.1f} ms ({load.non_2xx} non-2xx)",
                        file=sys.stderr,
                    )
            print(summarise(outputs))
            print(f"raw stacks: {' '.join(map(str, outputs))}", file=sys.stderr)
        finally:
            service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
