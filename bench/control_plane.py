"""Control-plane benchmark: daemon.status latency, `synapsectl status` process time, time-to-ready, idle RSS.

Runs a real synapsed subprocess on a temp home. Figures are medians/p99 of one run on this
machine, compared side by side with a baseline measured in the same run (an empty Python
process for the CLI; a raw HTTP round trip on the same socket for the RPC path).

    .venv/bin/python bench/control_plane.py [--calls 2000] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bench_env, compile_bytecode, rss_mb, start_daemon  # noqa: E402
from bench.report import pct, report  # noqa: E402
from synapsectl.client import Client  # noqa: E402
from synapsed import protocol as p  # noqa: E402


def time_status_calls(client: Client, calls: int) -> list[float]:
    body = b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}'
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        client.post(body)
        samples.append(time.perf_counter() - t0)
    return samples


def time_keepalive_calls(socket_path: Path, calls: int, method_body: bytes) -> list[float]:
    import http.client
    import socket

    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(str(socket_path))
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        conn.request("POST", p.RPC_PATH, body=method_body, headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        samples.append(time.perf_counter() - t0)
    conn.close()
    return samples


def time_process(argv: list[str], env: dict[str, str], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=REPO)
        samples.append(time.perf_counter() - t0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    compiled = compile_bytecode()  # time-to-ready and `synapsectl status` start processes

    tmp = Path(tempfile.mkdtemp(prefix="syn-bench-", dir="/tmp"))
    home = tmp / "h"
    env = bench_env(home)
    results: list[tuple[str, str, str, str]] = []
    try:
        ready_times = []
        for _ in range(5):
            proc, _, ready = start_daemon(home, env, wait_mcp=False)
            ready_times.append(ready)
            proc.terminate()
            proc.wait(15)
        proc, client, _ = start_daemon(home, env)
        for i in range(10):
            client.connections_create(p.ConnectionSpec(name=f"c{i}", provider="openai", model="gpt-4o-mini", credential=f"env:K{i}"))
        time.sleep(0.5)
        idle_rss = rss_mb(proc.pid)

        time_status_calls(client, 200)  # warm-up
        per_call = time_status_calls(client, args.calls)
        keepalive = time_keepalive_calls(home / "run" / "synapsed.sock", args.calls,
                                         b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}')
        rss_after = rss_mb(proc.pid)
        ctl = time_process([sys.executable, "-m", "synapsectl", "status"], env, args.rounds)
        bare = time_process([sys.executable, "-c", "pass"], env, args.rounds)
        proc.terminate()
        proc.wait(15)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    results = [
        ("daemon.status, keep-alive connection (p50 / p99)", "p50 ≤ 0.5 ms",
         f"{ms(statistics.median(keepalive))} / {ms(pct(keepalive, 0.99))}",
         "met" if statistics.median(keepalive) <= 0.0005 else "missed"),
        ("daemon.status, new connection per call as synapsectl does (p50 / p99)", "(informative)",
         f"{ms(statistics.median(per_call))} / {ms(pct(per_call, 0.99))}", "-"),
        ("`synapsectl status` process (median / p99)", "≤ 150 ms",
         f"{ms(statistics.median(ctl))} / {ms(pct(ctl, 0.99))} (bare `python -c pass`: {ms(statistics.median(bare))})",
         "met" if statistics.median(ctl) <= 0.150 else "missed"),
        ("daemon time-to-ready (median of 5)", "≤ 0.5 s", f"{statistics.median(ready_times):.3f} s",
         "met" if statistics.median(ready_times) <= 0.5 else "missed"),
        ("idle RSS with 10 connections", "≤ 60 MB", f"{idle_rss:.1f} MB", "met" if idle_rss <= 60 else "missed"),
        (f"RSS growth over {2 * args.calls + 200} control-plane calls", "(informative)", f"{rss_after - idle_rss:+.1f} MB", "-"),
    ]
    report("control-plane", results, args.markdown, compiled)

if __name__ == "__main__":
    main()
