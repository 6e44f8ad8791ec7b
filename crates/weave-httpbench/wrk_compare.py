#!/usr/bin/env python3
"""weave's http_hello against its tokio twin under wrk, one server at a time.

Each measurement starts a fresh server (so that the first burst of wrk's
connections, where placement is decided, is part of every run), runs
`wrk -t2 -cN -dS --latency`, and stops the server. The servers alternate
within each round. Per measurement it records:

- requests/s, p50 and p99 from wrk;
- the server's CPU time (its threads' run time from /proc) over the wrk run,
  divided by the requests wrk counted: the server's own cost, which moves
  little when other jobs load the machine;
- the share of the busiest worker thread's CPU time in all workers' (1.0:
  one thread did everything; 0.5 on 2 perfectly balanced threads): LWPs
  `weave-lwp-*`, tokio's `tokio-rt-worker`;
- the load: /proc/loadavg's 1-minute figure before the run, and the highest
  count of runnable threads (`procs_running`) sampled twice a second.

Usage (release builds first):

    cargo build --release -p weave --example http_hello
    cargo build --release -p weave-httpbench --bin http_hello_tokio
    python3 crates/weave-httpbench/wrk_compare.py --rounds 3 --conns 100,1000

Prints one line per measurement, then medians and ranges per server and
connection count, and weave/tokio ratios; `--json FILE` keeps every figure.
"""

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import tempfile
import threading
import time

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid):
    """(process CPU seconds, {thread name#tid: CPU seconds}), from each
    thread's schedstat (ns; utime + stime in ticks of 10 ms are too coarse
    for one LWP's share). Threads that exited are not counted: the servers'
    threads live as long as they do."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                threads[f"{name}#{tid}"] = int(f.read().split()[0]) / 1e9
        except OSError:
            pass
    return sum(threads.values()), threads


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def procs_running():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("procs_running"):
                return int(line.split()[1])
    return 0


def wrk_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return float(m.group(1)) * scale[m.group(2)] if m else None


def is_worker(server, name):
    return name.startswith("tokio-rt-worker") if server == "tokio" else name.startswith("weave-lwp-")


def measure(server, cmd, conns, seconds):
    port = free_port()
    argv = cmd + [f"127.0.0.1:{port}"]
    # Not a pipe: a server logging resets after wrk stops must never block
    # on a full one.
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    return {"error": f"{server} did not listen: {log.read()[:300]}"}
                time.sleep(0.05)
        time.sleep(0.3)
        load = loadavg()
        before, tbefore = proc_cpu(proc.pid)
        peak = [0]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.5):
                peak[0] = max(peak[0], procs_running())
        sampler = threading.Thread(target=sample)
        sampler.start()
        p = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency",
                            f"http://127.0.0.1:{port}/"],
                           capture_output=True, text=True, timeout=seconds + 60)
        after, tafter = proc_cpu(proc.pid)
        stop.set()
        sampler.join()
        reqs = re.search(r"(\d+) requests in", p.stdout)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
        p50 = re.search(r"^\s+50%\s+(\S+)", p.stdout, re.M)
        p99 = re.search(r"^\s+99%\s+(\S+)", p.stdout, re.M)
        errors = re.search(r"Socket errors: (.*)", p.stdout)
        if not (reqs and rps and p99 and p50):
            return {"error": "wrk: " + (p.stdout + p.stderr).strip()[-300:]}
        workers = [tafter[n] - tbefore.get(n, 0.0) for n in tafter
                   if is_worker(server, n.split("#")[0])]
        cpu = after - before
        return {
            "server": server, "conns": conns, "rps": float(rps.group(1)),
            "requests": int(reqs.group(1)),
            "p50_ms": wrk_ms(p50.group(1)), "p99_ms": wrk_ms(p99.group(1)),
            "cpu_s": cpu, "cpu_per_req_us": cpu / int(reqs.group(1)) * 1e6,
            "busiest_share": max(workers) / sum(workers) if workers and sum(workers) > 0 else None,
            "load1": load, "peak_running": peak[0],
            "socket_errors": errors.group(1) if errors else "",
        }
    finally:
        proc.kill()
        proc.wait()
        log.close()


def fmt_range(xs, f="{:.0f}"):
    if not xs:
        return "-"
    return f"{f.format(statistics.median(xs))} ({f.format(min(xs))}-{f.format(max(xs))})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", default="100,1000")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--servers", default="weave,tokio")
    ap.add_argument("--weave", default="target/release/examples/http_hello")
    ap.add_argument("--tokio", default="target/release/http_hello_tokio")
    ap.add_argument("--workers", type=int, default=2, help="tokio's worker threads")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                    help="another build of weave's example to run beside the others (A/B runs)")
    ap.add_argument("--json", help="write every measurement to this file")
    a = ap.parse_args()
    # 1000 connections need the fds, in the servers this starts and in wrk.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 10000), hard), hard))
    cmds = {"weave": [a.weave], "tokio": [a.tokio, "--workers", str(a.workers)]}
    servers = a.servers.split(",")
    for v in a.variant:
        name, path = v.split("=", 1)
        cmds[name] = [path]
        servers.append(name)
    results = []
    for r in range(a.rounds):
        for conns in [int(c) for c in a.conns.split(",")]:
            # Alternate which server goes first from round to round.
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for s in order:
                m = measure(s, cmds[s], conns, a.seconds)
                results.append(m)
                if "error" in m:
                    print(m["error"], flush=True)
                    continue
                print(f"round {r} {s:5} c={conns:<5} {m['rps']:>9.0f} req/s  p50 {m['p50_ms']:.2f} ms  "
                      f"p99 {m['p99_ms']:.2f} ms  {m['cpu_per_req_us']:.2f} us CPU/req  "
                      f"busiest {m['busiest_share'] or 0:.2f}  load {m['load1']:.1f}  "
                      f"peak running {m['peak_running']}  {m['socket_errors']}", flush=True)
    ok = [m for m in results if "error" not in m]
    print()
    print("| connections | server | runs | requests/s | p99 ms | CPU per request µs | busiest worker share | load (1 min) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    med = {}
    for conns in sorted({m["conns"] for m in ok}):
        for s in servers:
            ms = [m for m in ok if m["conns"] == conns and m["server"] == s]
            if not ms:
                continue
            med[(conns, s)] = {k: statistics.median([m[k] for m in ms])
                               for k in ("rps", "p99_ms", "cpu_per_req_us")}
            print(f"| {conns} | {s} | {len(ms)} | {fmt_range([m['rps'] for m in ms])} | "
                  f"{fmt_range([m['p99_ms'] for m in ms], '{:.2f}')} | "
                  f"{fmt_range([m['cpu_per_req_us'] for m in ms], '{:.2f}')} | "
                  f"{fmt_range([m['busiest_share'] for m in ms if m['busiest_share']], '{:.2f}')} | "
                  f"{fmt_range([m['load1'] for m in ms], '{:.1f}')} |")
    for conns in sorted({c for c, _ in med}):
        w, t = med.get((conns, "weave")), med.get((conns, "tokio"))
        if w and t:
            print(f"c={conns}: weave/tokio requests/s {w['rps'] / t['rps']:.2f}, "
                  f"p99 {w['p99_ms'] / t['p99_ms']:.2f}, CPU per request {w['cpu_per_req_us'] / t['cpu_per_req_us']:.2f}")
        for s in servers:
            v = med.get((conns, s))
            if t and v and s not in ("weave", "tokio"):
                print(f"c={conns}: {s}/tokio requests/s {v['rps'] / t['rps']:.2f}, "
                      f"p99 {v['p99_ms'] / t['p99_ms']:.2f}, CPU per request {v['cpu_per_req_us'] / t['cpu_per_req_us']:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
