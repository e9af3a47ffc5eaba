#!/usr/bin/env python3
"""Switchboard's SIPp load harness.

Starts the release binary on loopback with its demo data, then drives it
with SIPp at rising rates, each held for --duration seconds:

  calls     INVITE -> 200 -> ACK -> 1 s -> BYE -> 200 to the echo DID 1000
            (uac_load.xml); a step passes when under 0.1 % of its calls
            fail and SIPp reached at least 95 % of the asked rate.
  register  REGISTER -> 401 -> REGISTER with MD5 digest -> 200 for the demo
            phone 1001 (register_load.xml); same pass rule.

The result of each is the highest passing rate. For every step it prints
what SIPp achieved, the failures, the server's CPU (share of one core) and
resident memory, and SIPp's own CPU: when SIPp is at a full core it, not
the server, is the limit, and the figure is a floor.

  python3 benches/load/run.py            # both, default rates
  python3 benches/load/run.py calls --rates 500,1000,2000 --duration 20

Traffic goes only to 127.0.0.1.
"""

import argparse
import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SIP_PORT = 15260
SIPP_PORT = 15270
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

DEFAULT_RATES = {
    "calls": [500, 1000, 1500, 2000, 2500, 3000, 4000, 5000],
    "register": [1000, 2500, 5000, 7500, 10000, 12500, 15000, 20000],
}
MAX_FAILED_SHARE = 0.001
MIN_ACHIEVED_SHARE = 0.95


def build():
    subprocess.run(
        ["cargo", "build", "--release", "-p", "control-api", "--bin", "switchboard"],
        cwd=ROOT,
        check=True,
    )
    return ROOT / "target" / "release" / "switchboard"


class Server:
    def __init__(self, binary, data_dir, log_path, extra=()):
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [
                str(binary),
                "--sip-listen", f"127.0.0.1:{SIP_PORT}",
                "--rtp-ports", "20000-60000",
                "--data-dir", str(data_dir),
                "--log-level", "warn",
                *extra,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        credentials = Path(data_dir) / "demo-credentials.json"
        deadline = time.monotonic() + 30
        while not credentials.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"switchboard did not start; see {log_path}")
            time.sleep(0.1)
        time.sleep(0.5)
        self.credentials = json.loads(credentials.read_text())

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of stat(5); index 0 here is field 3.
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mib(self):
        pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        return pages * PAGE_SIZE / (1 << 20)

    def peak_rss_mib(self):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = "killed"
        self.log.close()
        return code


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read_stats(path):
    """SIPp's -trace_stat rows (semicolon separated, one per -fd period)."""
    with open(path, newline="") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter=";") if row.get("ElapsedTime(C)")]
    return rows


def achieved_rate(rows, total):
    """Calls created per second while calls were being created: the mean of
    SIPp's per-period rate over the periods that ended before the last call
    was created (the first row is the zero row at start)."""
    rates = [float(row["CallRate(P)"]) for row in rows[1:] if int(row["TotalCallCreated"]) < total]
    if rates:
        return sum(rates) / len(rates)
    return float(rows[-1]["CallRate(C)"])


def run_step(kind, rate, duration, server, work_dir):
    total = rate * duration
    stat = work_dir / f"{kind}-{rate}.csv"
    scenario = HERE / ("uac_load.xml" if kind == "calls" else "register_load.xml")
    command = [
        "sipp", "-sf", str(scenario),
        "-i", "127.0.0.1", "-p", str(SIPP_PORT),
        "-r", str(rate), "-m", str(total),
        "-l", str(max(rate * 4, 100)),
        "-trace_stat", "-stf", str(stat), "-fd", "1",
        "-trace_err", "-error_file", str(work_dir / f"{kind}-{rate}-errors.log"),
        "-nostdin", "-timeout", f"{duration + 60}s",
        "-max_recv_loops", "10000", "-max_sched_loops", "10000",
        "-buff_size", str(8 << 20),
    ]
    if kind == "calls":
        command += ["-s", "1000", "-mi", "127.0.0.1"]
    else:
        command += ["-s", "1001", "-au", "1001", "-ap", server.credentials["1001"]]
    command.append(f"127.0.0.1:{SIP_PORT}")

    cpu_before = server.cpu_seconds()
    sipp_before = children_cpu_seconds()
    started = time.monotonic()
    process = subprocess.run(command, cwd=work_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - started
    server_cpu = (server.cpu_seconds() - cpu_before) / wall
    sipp_cpu = (children_cpu_seconds() - sipp_before) / wall

    rows = read_stats(stat) if stat.exists() else []
    if not rows:
        raise SystemExit(f"SIPp wrote no statistics (exit {process.returncode}): {process.stderr.strip()}")
    last = rows[-1]
    created = int(last["TotalCallCreated"])
    ok = int(last["SuccessfulCall(C)"])
    failed = int(last["FailedCall(C)"]) + max(total - created, 0)
    achieved = achieved_rate(rows, total)
    passed = failed / total < MAX_FAILED_SHARE and achieved >= MIN_ACHIEVED_SHARE * rate
    return {
        "rate": rate,
        "achieved": achieved,
        "total": total,
        "ok": ok,
        "failed": failed,
        "server_cpu": server_cpu,
        "sipp_cpu": sipp_cpu,
        "rss_mib": server.rss_mib(),
        "passed": passed,
    }


def report(kind, step):
    unit = "calls/s" if kind == "calls" else "registrations/s"
    print(
        f"{kind:>8} {step['rate']:>6} {unit}: achieved {step['achieved']:8.0f}, "
        f"{step['ok']}/{step['total']} ok, {step['failed']} failed "
        f"({100 * step['failed'] / step['total']:.3f} %), "
        f"server CPU {100 * step['server_cpu']:.0f} % of a core, RSS {step['rss_mib']:.0f} MiB, "
        f"SIPp CPU {100 * step['sipp_cpu']:.0f} % -> {'pass' if step['passed'] else 'FAIL'}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", nargs="?", choices=["calls", "register", "all"], default="all")
    parser.add_argument("--binary", type=Path, help="switchboard binary (default: build the release one)")
    parser.add_argument("--rates", help="comma-separated rates to step through")
    parser.add_argument("--duration", type=int, default=15, help="seconds each rate is held (default 15)")
    parser.add_argument("--keep-going", action="store_true", help="try every rate even after one fails")
    args = parser.parse_args()

    if shutil.which("sipp") is None:
        raise SystemExit("sipp not found: apt-get install -y sip-tester")
    binary = args.binary or build()
    kinds = ["calls", "register"] if args.kind == "all" else [args.kind]
    work_dir = Path(tempfile.mkdtemp(prefix="switchboard-load-"))
    print(f"work directory {work_dir} (SIPp statistics and the server log)")
    results = {}
    for kind in kinds:
        data_dir = work_dir / f"data-{kind}"
        server = Server(binary, data_dir, work_dir / f"switchboard-{kind}.log")
        rates = [int(r) for r in args.rates.split(",")] if args.rates else DEFAULT_RATES[kind]
        best = None
        try:
            for rate in rates:
                step = run_step(kind, rate, args.duration, server, work_dir)
                report(kind, step)
                if step["passed"]:
                    best = step
                elif not args.keep_going:
                    break
            peak = server.peak_rss_mib()
        finally:
            code = server.stop()
        print(f"{kind:>8}: server peak RSS {peak:.0f} MiB, exit status after SIGTERM {code}")
        results[kind] = best
    print()
    for kind, best in results.items():
        unit = "calls/s" if kind == "calls" else "registrations/s"
        if best is None:
            print(f"{kind}: no rate passed")
        else:
            print(
                f"{kind}: highest passing rate {best['rate']} {unit} "
                f"(achieved {best['achieved']:.0f}, server CPU {100 * best['server_cpu']:.0f} % of a core)"
            )
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
