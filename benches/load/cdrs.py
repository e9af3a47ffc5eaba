#!/usr/bin/env python3
"""Switchboard's CDR benchmarks, against the release binary on loopback.

  writes  SIPp runs calls (uac_load.xml: INVITE, 200, ACK, 1 s, BYE to the
          echo DID) at --rate for --duration seconds while /metrics is read
          every 0.5 s: CDRs written per second over the run, and the
          writer's largest backlog (0 means it kept up with the calls).
  query   --rows call records (a year of them, over 3 accounts, 4 DIDs and
          both directions) are written straight into the database, then
          --requests GET /api/v1/cdrs with filters (an account and a day, a
          DID and a week, a direction and a month, in turn, each at a random
          place in the year) are timed one after another: p50, p99, max.

  python3 benches/load/cdrs.py --binary target/release/switchboard
  scripts/postgres.sh python3 benches/load/cdrs.py --backend postgres ...

With --backend postgres it stores in a new database on the server that
SWITCHBOARD_TEST_POSTGRES names (scripts/postgres.sh starts one).
Traffic goes only to 127.0.0.1.
"""

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402  (the load harness: Server, run_step)

YEAR_START = 1767225600  # 2026-01-01T00:00:00Z


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(http, path, token):
    request = urllib.request.Request(f"http://{http}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.read()


def metric(text, name):
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def start(binary, work, http, database_url):
    extra = ["--http-listen", http]
    if database_url:
        extra += ["--database-url", database_url]
    server = run.Server(binary, work / "data", work / "server.log", extra)
    token = (work / "data" / "admin-token").read_text().strip()
    return server, token


def writes(binary, work, http, database_url, rate, duration):
    server, token = start(binary, work, http, database_url)
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            text = get(http, "/metrics", token)
            samples.append((time.monotonic(), metric(text, "switchboard_cdrs_written_total"),
                            metric(text, "switchboard_cdr_backlog")))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    step = run.run_step("calls", rate, duration, server, work)
    time.sleep(3)  # the last calls' records
    done.set()
    sampler.join()
    server.stop()
    # Written per second from the first record to the last.
    moving = [s for s in samples if s[1] > 0]
    first = next((s for s in moving), None)
    last = max(moving, key=lambda s: s[1]) if moving else None
    per_second = (last[1] - first[1]) / (last[0] - first[0]) if first and last and last[0] > first[0] else 0.0
    return {
        "calls_per_second": step["achieved"],
        "failed": step["failed"],
        "cdrs_written": int(last[1]) if last else 0,
        "cdrs_per_second": per_second,
        "max_backlog": int(max((s[2] for s in samples), default=0)),
        "server_cpu": step["server_cpu"],
    }


INSERT = """
INSERT INTO cdrs (call_id, direction, account_id, start_time, answer_time, end_time,
  hangup_time, caller_id, number_dialed, did, route, connection_seconds, ivr_seconds,
  wait_seconds, talk_seconds, hold_seconds, transfer_seconds, wrap_seconds, hung_up_by,
  sip_status)
SELECT 'bench-' || n,
  CASE WHEN n % 10 = 0 THEN 'outbound' ELSE 'inbound' END,
  1 + n % 3, {start}, {start}, {end}, {end}, '1555' || (n % 10000),
  CASE n % 4 WHEN 0 THEN '1000' WHEN 1 THEN '2000' WHEN 2 THEN '3000' ELSE '4000' END,
  CASE n % 4 WHEN 0 THEN '1000' WHEN 1 THEN '2000' WHEN 2 THEN '3000' ELSE '4000' END,
  'echo', 60.0, 0, 0, 60.0, 0, 0, 0, 'caller', 200
FROM {series}
"""


def fill(work, database_url, rows):
    step = 31_536_000 / rows  # a year, evenly
    if database_url:
        sql = INSERT.format(
            start=f"to_char(to_timestamp({YEAR_START} + n * {step}) AT TIME ZONE 'UTC', "
                  "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
            end=f"to_char(to_timestamp({YEAR_START} + n * {step} + 60) AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
            series=f"generate_series(1, {rows}) AS n",
        )
        subprocess.run(["psql", database_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql,
                        "-c", "ANALYZE cdrs"], check=True)
    else:
        sql = INSERT.format(
            start=f"strftime('%Y-%m-%dT%H:%M:%fZ', {YEAR_START} + n * {step}, 'unixepoch')",
            end=f"strftime('%Y-%m-%dT%H:%M:%fZ', {YEAR_START} + n * {step} + 60, 'unixepoch')",
            series=f"(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) "
                   "SELECT n FROM g)",
        )
        database = sqlite3.connect(work / "data" / "switchboard.db", timeout=30)
        database.execute(sql)
        database.commit()
        database.execute("ANALYZE")
        database.close()


def day(offset_days):
    return time.strftime("%Y-%m-%d", time.gmtime(YEAR_START + offset_days * 86400))


def query(binary, work, http, database_url, rows, requests):
    server, _ = start(binary, work, http, database_url)  # makes the schema
    server.stop()
    fill(work, database_url, rows)
    server, token = start(binary, work, http, database_url)
    shapes = [
        lambda d: f"/api/v1/cdrs?account_id=2&from={day(d)}&to={day(d + 1)}",
        lambda d: f"/api/v1/cdrs?did=3000&from={day(d)}&to={day(d + 7)}&limit=100",
        lambda d: f"/api/v1/cdrs?direction=outbound&from={day(d)}&to={day(d + 30)}&offset=200",
    ]
    chooser = random.Random(20261122)
    for _ in range(20):  # warm the caches
        get(http, shapes[0](chooser.randrange(300)), token)
    latencies = []
    items = 0
    for index in range(requests):
        path = shapes[index % len(shapes)](chooser.randrange(330))
        started = time.perf_counter()
        body = get(http, path, token)
        latencies.append((time.perf_counter() - started) * 1000)
        items += len(json.loads(body)["items"])
    total = json.loads(get(http, "/api/v1/cdrs?limit=1", token))["total"]
    server.stop()
    latencies.sort()

    def percentile(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))]

    return {
        "rows": total,
        "requests": requests,
        "items_per_request": items / requests,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "max_ms": latencies[-1],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=["writes", "query", "both"], default="both")
    parser.add_argument("--binary", type=Path)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=int, default=2000, help="calls per second (writes)")
    parser.add_argument("--duration", type=int, default=15, help="seconds of calls (writes)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="records (query)")
    parser.add_argument("--requests", type=int, default=1000, help="requests timed (query)")
    args = parser.parse_args()
    binary = args.binary or run.build()
    results = {}
    for what in (["writes", "query"] if args.what == "both" else [args.what]):
        work = Path(tempfile.mkdtemp(prefix=f"switchboard-cdrs-{what}-"))
        (work / "data").mkdir()
        database_url = None
        if args.backend == "postgres":
            server = os.environ.get("SWITCHBOARD_TEST_POSTGRES")
            if not server:
                raise SystemExit("--backend postgres needs SWITCHBOARD_TEST_POSTGRES (scripts/postgres.sh)")
            name = f"bench_{what}_{os.getpid()}"
            subprocess.run(["psql", f"{server}/postgres", "-q", "-c", f"CREATE DATABASE {name}"], check=True)
            database_url = f"{server}/{name}"
        http = f"127.0.0.1:{free_port()}"
        if what == "writes":
            if shutil.which("sipp") is None:
                raise SystemExit("sipp not found: apt-get install -y sip-tester")
            results[what] = writes(binary, work, http, database_url, args.rate, args.duration)
        else:
            results[what] = query(binary, work, http, database_url, args.rows, args.requests)
        print(f"{args.backend} {what}: {json.dumps(results[what])}  (work dir {work})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
