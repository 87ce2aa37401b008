"""Added latency of one `chat.complete` through the daemon vs a direct POST to the same fake upstream.

Both paths use a keep-alive HTTP/1.1 connection from this process and are interleaved round by
round, so machine noise hits both alike. Reported: medians and p99 of each path and their
difference (the daemon's added cost: RPC decode, key lookup, provider call, encode).

    .venv/bin/python bench/chat_latency.py [--rounds 2000] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bench_env, start_daemon  # noqa: E402
from bench.report import pct, report  # noqa: E402
from synapsed import protocol as p  # noqa: E402
from tests.support.fake_upstream import FakeUpstream  # noqa: E402

KEY = "sk-bench-0123456789abcdefghijkl"


def unix_connection(path: Path) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(str(path))
    return conn


def timed(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    conn.request("POST", path, body=body, headers=headers)
    data = conn.getresponse().read()
    return time.perf_counter() - t0, data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()

    upstream = FakeUpstream("openai").start()
    tmp = Path(tempfile.mkdtemp(prefix="syn-bench-", dir="/tmp"))
    home = tmp / "h"
    env = bench_env(home, BENCH_KEY=KEY)
    proc, client, _ = start_daemon(home, env, wait_mcp=False)
    try:
        client.connections_create(p.ConnectionSpec(name="bench", provider="openai", model="test-model",
                                       base_url=upstream.base_url, credential="env:BENCH_KEY"))

        direct = http.client.HTTPConnection("127.0.0.1", upstream.port)
        direct_body = json.dumps({"model": "test-model", "messages": [{"role": "user", "content": "ping"}],
                                  "stream": False}).encode()
        direct_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        daemon = unix_connection(home / "run" / "synapsed.sock")
        rpc_body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat.complete",
                               "params": {"name": "bench", "prompt": "ping"}}).encode()
        rpc_headers = {"Content-Type": "application/json"}

        for _ in range(200):  # warm-up: pools, caches, JIT-free but allocator-warm
            timed(direct, "/v1/chat/completions", direct_body, direct_headers)
            timed(daemon, p.RPC_PATH, rpc_body, rpc_headers)
        upstream.requests.clear()
        direct_s: list[float] = []
        daemon_s: list[float] = []
        for _ in range(args.rounds):
            elapsed, _ = timed(direct, "/v1/chat/completions", direct_body, direct_headers)
            direct_s.append(elapsed)
            elapsed, data = timed(daemon, p.RPC_PATH, rpc_body, rpc_headers)
            daemon_s.append(elapsed)
        assert b'"text":"pong"' in data, data[:200]
        via_daemon = sum(1 for r in upstream.requests if r.headers.get("User-Agent", "").startswith("mcp-synapse/"))
    finally:
        proc.terminate()
        proc.wait(15)
        upstream.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    added50 = statistics.median(daemon_s) - statistics.median(direct_s)
    added99 = pct(daemon_s, 0.99) - pct(direct_s, 0.99)
    rows = [
        ("direct POST to the fake upstream (p50 / p99)", "baseline", f"{ms(statistics.median(direct_s))} / {ms(pct(direct_s, 0.99))}", "-"),
        ("`chat.complete` through synapsed (p50 / p99)", "-", f"{ms(statistics.median(daemon_s))} / {ms(pct(daemon_s, 0.99))}", "-"),
        ("added latency p50", "≤ 1 ms", ms(added50), "met" if added50 <= 0.001 else "missed"),
        ("added latency p99", "≤ 3 ms", ms(added99), "met" if added99 <= 0.003 else "missed"),
        ("upstream requests per daemon call", "exactly 1", f"{via_daemon / args.rounds:.3f}",
         "met" if via_daemon == args.rounds else "missed"),
    ]
    report("chat.complete latency", rows, args.markdown, f"rounds: {args.rounds}")

if __name__ == "__main__":
    main()
