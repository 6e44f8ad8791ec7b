#!/usr/bin/env python3
"""The peers comparison: the same workloads on weave, Go, may, tokio and std.

Builds the harnesses (benches/peers/rust, benches/peers/go), installs what
is missing from Debian's packages (golang-go, wrk), runs every workload as
a separate process per runtime, interleaved (each round runs one workload
on every runtime in turn, in an order that rotates), N rounds, and prints
one table: per row the median and range of each runtime, and weave's
ratio to the best peer (Go, may, tokio), to the best stackful peer (Go,
may) and to std.

    benches/peers/run.py              # 5 rounds, full sizes
    benches/peers/run.py --quick      # 2 rounds, smaller sizes, 2-s wrk runs
    benches/peers/run.py --json       # one JSON object instead of the table
    benches/peers/run.py --only yield,mutex --rounds 3
    benches/peers/run.py --only http --http-migratable   # weave's handlers migratable

A ratio above 1 means weave is behind on that row (for rates, the ratio is
best / weave, so the same reading holds).
"""

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUST = os.path.join(HERE, "rust")
RUST_BIN = os.path.join(RUST, "target", "release")
GO_DIR = os.path.join(HERE, "go")
GO_BIN = os.path.join(GO_DIR, "peers-go")

RUNTIMES = ["weave", "go", "may", "tokio-ct", "tokio-mt", "std"]
STACKFUL = ["go", "may"]
PEERS = ["go", "may", "tokio-ct", "tokio-mt"]

# (workload, workers, wrk connections or None): one process per runtime.
JOBS = [
    ("spawn_join", 1, None),
    ("spawn_batch", 1, None),
    ("yield", 1, None),
    ("pingpong_rendezvous", 1, None),
    ("pingpong_rendezvous", 2, None),
    ("pingpong_bounded1", 1, None),
    ("pingpong_bounded1", 2, None),
    ("os_pingpong", 2, None),
    ("mutex", 1, None),
    ("mutex", 2, None),
    ("idle_memory", 2, None),
    ("idle_long", 2, None),
    ("wake_busy", 2, None),
    ("sleepers", 2, None),
    ("http", 2, 100),
    ("http", 2, 1000),
]

# (label, job, metric, unit, higher is better)
ROWS = [
    ("spawn 100k live, join; cold (1st round)", ("spawn_join", 1, None), "cold", "ns/thread", False),
    ("spawn 100k live, join; warm (2nd round)", ("spawn_join", 1, None), "warm", "ns/thread", False),
    ("spawn 1,000 then join, x100", ("spawn_batch", 1, None), "ns", "ns/thread", False),
    ("yield, 2 threads", ("yield", 1, None), "ns", "ns/yield", False),
    ("ping-pong rendezvous", ("pingpong_rendezvous", 1, None), "ns", "ns/round trip", False),
    ("ping-pong rendezvous", ("pingpong_rendezvous", 2, None), "ns", "ns/round trip", False),
    ("ping-pong bounded(1)", ("pingpong_bounded1", 1, None), "ns", "ns/round trip", False),
    ("ping-pong bounded(1)", ("pingpong_bounded1", 2, None), "ns", "ns/round trip", False),
    ("OS thread <-> runtime thread ping-pong", ("os_pingpong", 2, None), "ns", "ns/round trip", False),
    ("contended mutex, 1,000 threads", ("mutex", 1, None), "ns", "ns/lock", False),
    ("contended mutex, 1,000 threads", ("mutex", 2, None), "ns", "ns/lock", False),
    ("memory per parked thread", ("idle_memory", 2, None), "bytes", "bytes", False),
    ("memory per thread parked 12 s", ("idle_long", 2, None), "bytes", "bytes", False),
    ("wake with a busy waker, p50", ("wake_busy", 2, None), "p50", "ns", False),
    ("wake with a busy waker, p90", ("wake_busy", 2, None), "p90", "ns", False),
    ("100k threads x 10 sleeps of 1 ms, wall / ideal", ("sleepers", 2, None), "x_ideal", "x", False),
    ("HTTP hello, wrk 100 conns", ("http", 2, 100), "rps", "req/s", True),
    ("HTTP hello, wrk 100 conns, p99", ("http", 2, 100), "p99_ms", "ms", False),
    ("HTTP hello, wrk 1000 conns", ("http", 2, 1000), "rps", "req/s", True),
    ("HTTP hello, wrk 1000 conns, p99", ("http", 2, 1000), "p99_ms", "ms", False),
    ("HTTP hello, wrk 100 conns, server CPU per request", ("http", 2, 100), "cpu_us", "µs", False),
    ("HTTP hello, wrk 100 conns, wrk's CPU per request", ("http", 2, 100), "wrk_cpu_us", "µs", False),
    ("HTTP hello, wrk 1000 conns, server CPU per request", ("http", 2, 1000), "cpu_us", "µs", False),
    ("HTTP hello, wrk 1000 conns, wrk's CPU per request", ("http", 2, 1000), "wrk_cpu_us", "µs", False),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_tools():
    """Installs golang-go and wrk from Debian's packages when absent."""
    missing = [pkg for tool, pkg in (("go", "golang-go"), ("wrk", "wrk")) if not shutil.which(tool)]
    if not missing:
        return
    if not shutil.which("apt-get"):
        sys.exit(f"missing {' '.join(missing)} and no apt-get to install them")
    log(f"installing {' '.join(missing)}")
    cmd = ["apt-get", "install", "-y", *missing]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def build():
    log("building the Rust harnesses (weave, tokio, may, std)")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path",
                    os.path.join(RUST, "Cargo.toml")], check=True)
    log("building the Go harness")
    subprocess.run(["go", "build", "-o", GO_BIN, "."], cwd=GO_DIR, check=True)


def binary(rt):
    return GO_BIN if rt == "go" else os.path.join(RUST_BIN, rt)


def versions():
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    lock = open(os.path.join(RUST, "Cargo.lock")).read()

    def crate(name):
        m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock)
        return m.group(1) if m else "?"

    wrk = re.search(r"wrk (\S+)", out(["wrk", "-v"]))
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
        "rustc": out(["rustc", "--version"]),
        "go": out(["go", "version"]),
        "tokio": crate("tokio"),
        "may": crate("may"),
        "wrk": "wrk " + wrk.group(1) if wrk else "wrk ?",
    }


def run_once(rt, workload, workers, quick, timeout):
    cmd = [binary(rt), workload, str(workers)] + (["--quick"] if quick else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, RUST_BACKTRACE="0"))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        # The first lines say what went wrong (a backtrace may follow).
        return {"error": f"exit {p.returncode}: {p.stderr.strip()[:400]}"}
    return json.loads(lines[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return float(m.group(1)) * scale[m.group(2)] if m else None


def cpu_seconds(pid):
    """User + system CPU time of a process and all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    """User + system CPU time of the children this script has waited for."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_http(rt, workers, conns, seconds, migratable=False):
    port = free_port()
    env = dict(os.environ)
    if migratable and rt == "weave":
        # weave's server then spawns its connection handlers migratable.
        env["WEAVE_PEERS_MIGRATABLE"] = "1"
    server = subprocess.Popen([binary(rt), "http", str(workers), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None:
                    return {"error": f"server exited {server.returncode}"}
                time.sleep(0.05)
        else:
            return {"error": "server did not listen"}
        server_cpu = cpu_seconds(server.pid)
        wrk_cpu = children_cpu_seconds()
        p = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency",
                            f"http://127.0.0.1:{port}/"],
                           capture_output=True, text=True, timeout=seconds + 60)
        wrk_cpu = children_cpu_seconds() - wrk_cpu
        server_cpu = cpu_seconds(server.pid) - server_cpu
        rps = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
        p99 = re.search(r"^\s+99%\s+(\S+)", p.stdout, re.M)
        total = re.search(r"(\d+) requests in", p.stdout)
        errors = re.search(r"Socket errors: (.*)", p.stdout)
        if not rps or not p99 or not total or int(total.group(1)) == 0:
            return {"error": "wrk: " + (p.stdout + p.stderr).strip()[-300:]}
        requests = int(total.group(1))
        return {"runtime": rt, "workload": "http", "workers": workers, "n": conns,
                "metrics": {"rps": float(rps.group(1)), "p99_ms": wrk_ms(p99.group(1)),
                            "cpu_us": server_cpu / requests * 1e6,
                            "wrk_cpu_us": wrk_cpu / requests * 1e6},
                "note": f"wrk -t2 -c{conns} -d{seconds}s" + (f"; socket errors {errors.group(1)}" if errors else "")}
    finally:
        server.kill()
        server.wait()


def fmt(v, unit):
    if v is None:
        return "–"
    if unit in ("ms", "µs"):
        return f"{v:.2f}" if v < 10 else f"{v:.1f}"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}"


def summarize(results, runtimes):
    """Medians, ranges and ratios per row."""
    rows = []
    for label, job, metric, unit, higher in ROWS:
        if job not in results:
            continue
        cells, notes = {}, {}
        for rt in runtimes:
            rs = results[job].get(rt, [])
            vals = [r["metrics"][metric] for r in rs if "metrics" in r]
            skipped = [r["skipped"] for r in rs if "skipped" in r]
            errors = [r["error"] for r in rs if "error" in r]
            if vals:
                cells[rt] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                             "runs": len(vals), "failed": len(errors)}
                note = next((r.get("note") for r in rs if "metrics" in r), "")
                notes[rt] = note
            elif skipped:
                cells[rt] = {"skipped": skipped[0]}
            elif errors:
                cells[rt] = {"error": errors[0]}

        def best(names):
            have = [(cells[n]["median"], n) for n in names if n in cells and "median" in cells[n]]
            if not have:
                return None
            return (max if higher else min)(have)

        def ratio(b):
            w = cells.get("weave", {}).get("median")
            if b is None or not w:
                return None
            return b[0] / w if higher else w / b[0]

        bp, bs, bstd = best(PEERS), best(STACKFUL), best(["std"])
        rows.append({
            "row": label, "workers": job[1], "unit": unit, "higher_is_better": higher,
            "cells": cells, "notes": notes,
            "best_peer": bp and bp[1], "vs_best_peer": ratio(bp),
            "best_stackful": bs and bs[1], "vs_best_stackful": ratio(bs),
            "vs_std": ratio(bstd),
        })
    return rows


def table(rows, runtimes, meta):
    out = [f"{meta['date']}; {meta['cpus']} CPUs, Linux {meta['kernel']}; {meta['rustc']}; "
           f"{meta['go']}; tokio {meta['tokio']}; may {meta['may']}; {meta['wrk']}; "
           f"{meta['rounds']} rounds, median (min-max); load average "
           f"{meta['load_before'][0]:.1f} before, {meta['load_after'][0]:.1f} after"
           + ("; weave's HTTP handlers migratable" if meta.get("http_migratable") else ""),
           "",
           "| workload | workers | unit | " + " | ".join(runtimes)
           + " | weave / best peer | weave / best stackful | weave / std |",
           "|---|---:|---|" + "---:|" * (len(runtimes) + 3)]
    for r in rows:
        cells = []
        for rt in runtimes:
            c = r["cells"].get(rt)
            if c is None:
                cells.append("")
            elif "median" in c:
                u = r["unit"]
                rng = f" ({fmt(c['min'], u)}-{fmt(c['max'], u)})" if c["runs"] > 1 else ""
                failed = f" [{c['failed']} failed]" if c.get("failed") else ""
                cells.append(fmt(c["median"], u) + rng + failed)
            elif "skipped" in c:
                cells.append("n/a")
            else:
                cells.append("timed out" if "timed out" in c["error"] else "failed")

        def rat(v, who=None):
            if v is None:
                return ""
            return f"{v:.2f}" + (f" ({who})" if who else "")

        out.append(f"| {r['row']} | {r['workers']} | {r['unit']} | " + " | ".join(cells)
                   + f" | {rat(r['vs_best_peer'], r['best_peer'])}"
                   + f" | {rat(r['vs_best_stackful'], r['best_stackful'])} | {rat(r['vs_std'])} |")
    out.append("")
    out.append("Ratios: weave's median over the best median (for req/s the best over weave's): "
               "above 1, weave is behind. n/a: the runtime has no such primitive "
               "(tokio and may have no rendezvous channel) or no such mode.")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds, smaller sizes, 2-s wrk runs")
    ap.add_argument("--rounds", type=int, help="processes per runtime and workload (default 5; 2 quick)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--only", help="comma-separated workloads (spawn_join,...,http)")
    ap.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated runtimes")
    ap.add_argument("--http-seconds", type=int, help="wrk duration (default 5; 2 quick)")
    ap.add_argument("--http-migratable", action="store_true",
                    help="weave's HTTP server spawns its connection handlers migratable")
    ap.add_argument("--no-build", action="store_true", help="use the binaries as built")
    ap.add_argument("--table-from", metavar="FILE", help="print the table of a saved --json output")
    a = ap.parse_args()
    if a.table_from:
        saved = json.load(open(a.table_from))
        results = {}
        for r in saved["raw"]:
            job = (r["workload"], r["workers"], r["connections"])
            results.setdefault(job, {})[r["runtime"]] = r["runs"]
        runtimes = [rt for rt in RUNTIMES if any(rt in v for v in results.values())]
        print(table(summarize(results, runtimes), runtimes, saved["meta"]))
        return
    rounds = a.rounds or (2 if a.quick else 5)
    secs = a.http_seconds or (2 if a.quick else 5)
    runtimes = a.runtimes.split(",")
    jobs = [j for j in JOBS if not a.only or j[0] in a.only.split(",")]

    ensure_tools()
    if not a.no_build:
        build()
    # 1000 connections need the fds, for wrk and the servers it starts.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    # Other work on the machine moves every figure: record how much there was.
    load_before = os.getloadavg()
    results = {}
    for rnd in range(rounds):
        for j, job in enumerate(jobs):
            workload, workers, conns = job
            order = [rt for rt in runtimes if not (rt == "tokio-ct" and workers != 1)]
            k = (rnd + j) % len(order)
            for rt in order[k:] + order[:k]:
                if conns:
                    r = run_http(rt, workers, conns, secs, a.http_migratable)
                else:
                    r = run_once(rt, workload, workers, a.quick, 60 if a.quick else 180)
                results.setdefault(job, {}).setdefault(rt, []).append(r)
                brief = r.get("metrics") or r.get("skipped") or r.get("error")
                log(f"[{rnd + 1}/{rounds}] {workload} w{workers}{f' c{conns}' if conns else ''} {rt}: {brief}")

    meta = versions()
    meta["load_before"] = load_before
    meta["load_after"] = os.getloadavg()
    meta.update(rounds=rounds, quick=a.quick, http_seconds=secs, http_migratable=a.http_migratable)
    rows = summarize(results, runtimes)
    if a.json:
        raw = [{"workload": w, "workers": k, "connections": c, "runtime": rt, "runs": rs}
               for (w, k, c), per_rt in results.items() for rt, rs in per_rt.items()]
        print(json.dumps({"meta": meta, "rows": rows, "raw": raw}, indent=1))
    else:
        print(table(rows, runtimes, meta))


if __name__ == "__main__":
    main()
