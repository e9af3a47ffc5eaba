#!/usr/bin/env python3
"""Switchboard's SIPp load harness.

Starts the release binary on loopback with its demo data, then drives it
with SIPp at rising rates, each held for --duration seconds:

  calls     INVITE -> 200 -> ACK -> 1 s -> BYE -> 200 to the echo DID 1000
            (uac_load.xml); a step passes when under 0.1 % of its calls
            fail and SIPp reached at least 95 % of the asked rate.
  register  REGISTER -> 401 -> REGISTER with MD5 digest -> 200 for the demo
            phone 1001 (register_load.xml); same pass rule.
  ivr       INVITE -> 200 -> ACK to DID 8100, answered by a flow (answer, a
            greeting with a one-digit gather, hang up on the key); SIPp
            presses 1 (RFC 4733) 200 ms after the ACK and answers the flow's
            BYE (ivr_load.xml); same pass rule. Also prints the server's
            RSS per call in progress at the top rate.

A rate counts as sustained by the rule load testers use: held --duration
seconds (30 by default), --runs times (2 by default), each run under
0.1 % failed, SIPp at 95 % of the rate or more, the 99th percentile of
INVITE (REGISTER) -> final response under 500 ms, and retransmissions
under 5 % of the calls (no retransmission storm).

The result of each is the highest passing rate. For every step it prints
what SIPp achieved, the failures, the server's CPU (share of one core) and
resident memory, and SIPp's own CPU: when SIPp is at a full core it, not
the server, is the limit, and the figure is a floor.

  python3 benches/load/run.py            # calls and register, default rates
  python3 benches/load/run.py ivr --rates 500,1000,1500
  python3 benches/load/run.py calls --rates 500,1000,2000 --duration 20

Traffic goes only to 127.0.0.1.
"""

import argparse
import csv
import json
import urllib.request
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
HTTP_PORT = 15280
IVR_DID = "8100"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

DEFAULT_RATES = {
    "calls": [500, 1000, 1500, 2000, 2500, 3000, 4000, 5000],
    "register": [1000, 2500, 5000, 7500, 10000, 12500, 15000, 20000],
    "ivr": [250, 500, 1000, 1500, 2000, 2500, 3000],
}

# The IVR load's flow: answer, the greeting (2.5 s) with a one-digit
# gather that a key stops, then hang up when the key was 1; a call whose
# key was not heard waits 20 s (and fails in SIPp).
IVR_FLOW = {"verbs": [
    {"verb": "answer"},
    {"verb": "gather", "prompt": [{"verb": "play", "prompt": "en/greeting"}],
     "num_digits": 1, "timeout_seconds": 3},
    {"verb": "if", "variable": "digits", "equals": "1",
     "then": [{"verb": "hangup"}],
     "else": [{"verb": "pause", "seconds": 20}]},
    {"verb": "hangup"},
]}
MAX_FAILED_SHARE = 0.001
MIN_ACHIEVED_SHARE = 0.95
MAX_P99_MS = 500.0
MAX_RETRANSMISSION_SHARE = 0.05


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
                "--http-listen", f"127.0.0.1:{HTTP_PORT}",
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
        self.token = (Path(data_dir) / "admin-token").read_text().strip()

    def api(self, method, path, body):
        request = urllib.request.Request(
            f"http://127.0.0.1:{HTTP_PORT}{path}",
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    def provision_ivr(self):
        flow = self.api("POST", "/api/v1/flows", {"name": "IVR load", "document": IVR_FLOW})
        self.api("POST", "/api/v1/dids", {
            "number": IVR_DID, "account_id": 1,
            "answered_by": {"type": "flow", "flow_id": flow["id"]},
        })

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

    def calls_in_progress(self):
        request = urllib.request.Request(
            f"http://127.0.0.1:{HTTP_PORT}/metrics",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                for line in answer.read().decode().splitlines():
                    if line.startswith("switchboard_calls_active "):
                        return int(float(line.split()[1]))
        except OSError:
            pass
        return -1

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
    scenario = HERE / {"calls": "uac_load.xml", "register": "register_load.xml", "ivr": "ivr_load.xml"}[kind]
    command = [
        "sipp", "-sf", str(scenario),
        "-i", "127.0.0.1", "-p", str(SIPP_PORT),
        "-r", str(rate), "-m", str(total),
        "-l", str(max(rate * 4, 100)),
        "-trace_stat", "-stf", str(stat), "-fd", "1",
        "-trace_rtt", "-rtt_freq", "1",
        "-trace_err", "-error_file", str(work_dir / f"{kind}-{rate}-errors.log"),
        "-nostdin", "-timeout", f"{duration + 60}s",
        "-max_recv_loops", "10000", "-max_sched_loops", "10000",
        "-buff_size", str(8 << 20),
    ]
    if kind == "calls":
        command += ["-s", "1000", "-mi", "127.0.0.1"]
    elif kind == "ivr":
        command += ["-s", IVR_DID, "-mi", "127.0.0.1", "-mp", str(SIPP_PORT + 2)]
    else:
        command += ["-s", "1001", "-au", "1001", "-ap", server.credentials["1001"]]
    command.append(f"127.0.0.1:{SIP_PORT}")

    cpu_before = server.cpu_seconds()
    sipp_before = children_cpu_seconds()
    started = time.monotonic()
    rtt_before = set(work_dir.glob("*_rtt.csv"))
    process = subprocess.Popen(command, cwd=work_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # Halfway through: the calls in progress and the server's memory then.
    time.sleep(duration / 2)
    in_progress = server.calls_in_progress()
    rss_halfway = server.rss_mib()
    _, stderr = process.communicate()
    process.stderr_text = stderr
    wall = time.monotonic() - started
    server_cpu = (server.cpu_seconds() - cpu_before) / wall
    sipp_cpu = (children_cpu_seconds() - sipp_before) / wall

    rows = read_stats(stat) if stat.exists() else []
    if not rows:
        raise SystemExit(f"SIPp wrote no statistics (exit {process.returncode}): {process.stderr_text.strip()}")
    last = rows[-1]
    created = int(last["TotalCallCreated"])
    ok = int(last["SuccessfulCall(C)"])
    failed = int(last["FailedCall(C)"]) + max(total - created, 0)
    achieved = achieved_rate(rows, total)
    retransmissions = int(last.get("Retransmissions(C)", 0) or 0)
    rtt_files = set(work_dir.glob("*_rtt.csv")) - rtt_before
    p99 = response_p99(rtt_files)
    passed = (
        failed / total < MAX_FAILED_SHARE
        and achieved >= MIN_ACHIEVED_SHARE * rate
        and p99 is not None and p99 < MAX_P99_MS
        and retransmissions < MAX_RETRANSMISSION_SHARE * total
    )
    return {
        "rate": rate,
        "achieved": achieved,
        "total": total,
        "ok": ok,
        "failed": failed,
        "server_cpu": server_cpu,
        "sipp_cpu": sipp_cpu,
        "rss_mib": server.rss_mib(),
        "in_progress": in_progress,
        "rss_halfway": rss_halfway,
        "p99_ms": p99,
        "retransmissions": retransmissions,
        "passed": passed,
    }


def response_p99(paths):
    """The 99th percentile, in ms, of the response times SIPp traced
    (`-trace_rtt`: INVITE or REGISTER to its final response), or None."""
    times = []
    for path in paths:
        with open(path, newline="") as file:
            for row in csv.reader(file, delimiter=";"):
                if len(row) >= 2:
                    try:
                        times.append(float(row[1]))
                    except ValueError:
                        continue
    if not times:
        return None
    times.sort()
    return times[min(len(times) - 1, int(len(times) * 0.99))]


def report(kind, step):
    unit = "registrations/s" if kind == "register" else "calls/s"
    print(
        f"{kind:>8} {step['rate']:>6} {unit}: achieved {step['achieved']:8.0f}, "
        f"{step['ok']}/{step['total']} ok, {step['failed']} failed "
        f"({100 * step['failed'] / step['total']:.3f} %), "
        f"server CPU {100 * step['server_cpu']:.0f} % of a core, RSS {step['rss_mib']:.0f} MiB, "
        f"SIPp CPU {100 * step['sipp_cpu']:.0f} %, p99 {step['p99_ms'] if step['p99_ms'] is None else round(step['p99_ms'], 1)} ms, "
        f"{step['retransmissions']} retransmissions, halfway {step['in_progress']} calls up "
        f"at RSS {step['rss_halfway']:.0f} MiB -> {'pass' if step['passed'] else 'FAIL'}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", nargs="?", choices=["calls", "register", "ivr", "all"], default="all")
    parser.add_argument("--binary", type=Path, help="switchboard binary (default: build the release one)")
    parser.add_argument("--rates", help="comma-separated rates to step through")
    parser.add_argument("--duration", type=int, default=30, help="seconds each rate is held (default 30)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each rate, all of which must pass (default 2)")
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
        if kind == "ivr":
            server.provision_ivr()
            idle_rss = server.rss_mib()
        rates = [int(r) for r in args.rates.split(",")] if args.rates else DEFAULT_RATES[kind]
        best = None
        try:
            for rate in rates:
                steps = []
                for _ in range(args.runs):
                    step = run_step(kind, rate, args.duration, server, work_dir)
                    report(kind, step)
                    steps.append(step)
                    if not step["passed"]:
                        break
                if all(step["passed"] for step in steps):
                    best = steps[-1]
                elif not args.keep_going:
                    break
            peak = server.peak_rss_mib()
        finally:
            code = server.stop()
        print(f"{kind:>8}: server peak RSS {peak:.0f} MiB, exit status after SIGTERM {code}")
        if kind == "ivr" and best is not None and best["in_progress"] > 0:
            per_call = (best["rss_halfway"] - idle_rss) * 1024 / best["in_progress"]
            print(f"{kind:>8}: {per_call:.0f} KiB of RSS per call in progress "
                  f"({best['in_progress']} calls, {idle_rss:.0f} MiB idle)")
        results[kind] = best
    print()
    for kind, best in results.items():
        unit = "registrations/s" if kind == "register" else "calls/s"
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
