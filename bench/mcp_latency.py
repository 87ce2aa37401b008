"""MCP benchmarks against a real synapsed and a fake upstream in its own process, on loopback.

1. Added latency of `ask` through HTTP MCP and through the stdio bridge vs a direct POST to
   the same fake upstream (interleaved rounds; p50 and p99 differences).
2. 32 concurrent HTTP MCP sessions against an upstream answering in 50 ms: throughput vs ideal
   (each session calls sequentially, so ideal = sessions / 50 ms), and the error count.

Clients are raw HTTP (handshake-era session, JSON-RPC over POST) so client-side SDK cost is not
billed to the daemon.

    .venv/bin/python bench/mcp_latency.py [--rounds 1000] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bench_env, cpu_seconds, rss_mb, start_daemon, start_fake  # noqa: E402
from bench.report import pct, report  # noqa: E402
from synapsed import protocol as p  # noqa: E402

KEY = "sk-bench-0123456789abcdefghijkl"
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def ask_body(i: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": "ask", "arguments": {"prompt": "ping", "connection": "bench"}}}).encode()


def parse_reply(content_type: str, body: bytes) -> dict[str, Any]:
    if "text/event-stream" in content_type:
        for line in body.decode().splitlines():
            if line.startswith("data:") and line[5:].strip():
                return json.loads(line[5:])
        raise ValueError("no data in SSE reply")
    return json.loads(body)


class McpHttp:
    """One handshake-era MCP session over a keep-alive connection."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                        "Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{port}"}
        self.conn.request("POST", "/mcp", body=json.dumps(INIT).encode(), headers=self.headers)
        response = self.conn.getresponse()
        response.read()
        self.headers["mcp-session-id"] = response.getheader("mcp-session-id") or ""
        self.headers["mcp-protocol-version"] = "2025-06-18"
        self.conn.request("POST", "/mcp", body=json.dumps(INITIALIZED).encode(), headers=self.headers)
        self.conn.getresponse().read()

    def ask(self, i: int) -> dict[str, Any]:
        self.conn.request("POST", "/mcp", body=ask_body(i), headers=self.headers)
        response = self.conn.getresponse()
        return parse_reply(response.getheader("Content-Type") or "", response.read())


class McpStdio:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "synapsectl", "--home", str(home), "mcp", "stdio"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=REPO)
        self.call(INIT)
        self.send(INITIALIZED)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        assert self.proc.stdout is not None
        return json.loads(self.proc.stdout.readline())

    def ask(self, i: int) -> dict[str, Any]:
        return self.call(json.loads(ask_body(i)))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def rss_over_calls(pid: int, mcp_port: int, token: str, calls: int) -> tuple[float, float]:
    """RSS before and after `calls` more ask calls over one HTTP MCP session (after warm-up)."""
    session = McpHttp(mcp_port, token)
    for i in range(500):
        session.ask(i)
    before = rss_mb(pid)
    for i in range(calls):
        session.ask(i)
    return before, rss_mb(pid)


def direct_post(conn: http.client.HTTPConnection) -> None:
    body = json.dumps({"model": "test-model", "messages": [{"role": "user", "content": "ping"}], "stream": False}).encode()
    conn.request("POST", "/v1/chat/completions", body=body,
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    conn.getresponse().read()


def latency(port: int, mcp_port: int, token: str, home: Path, env: dict[str, str], rounds: int) -> dict[str, list[float]]:
    direct = http.client.HTTPConnection("127.0.0.1", port)
    via_http = McpHttp(mcp_port, token)
    via_stdio = McpStdio(home, env)
    samples: dict[str, list[float]] = {"direct": [], "http": [], "stdio": []}
    calls = {"direct": lambda i: direct_post(direct), "http": via_http.ask, "stdio": via_stdio.ask}
    for i in range(rounds + 100):
        for name, call in calls.items():
            t0 = time.perf_counter()
            reply = call(i)
            elapsed = time.perf_counter() - t0
            if name != "direct" and reply["result"].get("isError"):
                raise SystemExit(f"{name} call failed: {reply}")
            if i >= 100:  # the first hundred warm pools and caches
                samples[name].append(elapsed)
    via_stdio.close()
    return samples


async def concurrency(mcp_port: int, token: str, sessions: int, calls_each: int) -> tuple[float, int]:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Authorization": f"Bearer {token}"}
    errors = 0

    async def session(http: aiohttp.ClientSession, index: int) -> None:
        nonlocal errors
        async with http.post(f"http://127.0.0.1:{mcp_port}/mcp", data=json.dumps(INIT), headers=headers) as response:
            await response.read()
            sid = response.headers["mcp-session-id"]
        own = {**headers, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"}
        async with http.post(f"http://127.0.0.1:{mcp_port}/mcp", data=json.dumps(INITIALIZED), headers=own) as response:
            await response.read()
        await start.wait()
        for i in range(calls_each):
            async with http.post(f"http://127.0.0.1:{mcp_port}/mcp", data=ask_body(i), headers=own) as response:
                reply = parse_reply(response.headers.get("Content-Type", ""), await response.read())
            if "error" in reply or reply["result"].get("isError"):
                errors += 1

    start = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=sessions * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = [asyncio.create_task(session(http, i)) for i in range(sessions)]
        await asyncio.sleep(1.0)  # all sessions initialised
        t0 = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--calls-each", type=int, default=40)
    parser.add_argument("--rss-calls", type=int, default=10_000)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="syn-bench-", dir="/tmp"))
    env = bench_env(tmp / "h", BENCH_KEY=KEY)
    fast, fast_port = start_fake(0)
    slow, slow_port = start_fake(50)
    daemon, client, _ = start_daemon(tmp / "h", env)
    try:
        status = client.daemon_status()
        assert status.mcp is not None
        token = Path(status.mcp.token_file).read_text().strip()
        client.connections_create(p.ConnectionSpec(name="bench", provider="openai", model="test-model",
                                       base_url=f"http://127.0.0.1:{fast_port}/v1", credential="env:BENCH_KEY"))
        samples = latency(fast_port, status.mcp.port, token, tmp / "h", env, args.rounds)
        rss_start, rss_end = rss_over_calls(daemon.pid, status.mcp.port, token, args.rss_calls)
        client.connections_update("bench", p.ConnectionPatch(base_url=f"http://127.0.0.1:{slow_port}/v1"))
        cpu_before = cpu_seconds(daemon.pid)
        elapsed, errors = asyncio.run(concurrency(status.mcp.port, token, args.sessions, args.calls_each))
        cpu_per_call = (cpu_seconds(daemon.pid) - cpu_before) / (args.sessions * args.calls_each)
    finally:
        daemon.terminate()
        daemon.wait(15)
        fast.terminate()
        slow.terminate()
        shutil.rmtree(tmp, ignore_errors=True)

    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    d50, d99 = statistics.median(samples["direct"]), pct(samples["direct"], 0.99)
    h50, h99 = statistics.median(samples["http"]) - d50, pct(samples["http"], 0.99) - d99
    s50 = statistics.median(samples["stdio"]) - statistics.median(samples["http"])
    ideal = args.calls_each * 0.050
    efficiency = ideal / elapsed
    rows = [
        ("direct POST to the fake upstream (p50 / p99)", "baseline", f"{ms(d50)} / {ms(d99)}", "-"),
        ("`ask` via HTTP MCP (p50 / p99)", "-", f"{ms(statistics.median(samples['http']))} / {ms(pct(samples['http'], 0.99))}", "-"),
        ("`ask` via stdio bridge (p50 / p99)", "-", f"{ms(statistics.median(samples['stdio']))} / {ms(pct(samples['stdio'], 0.99))}", "-"),
        ("added latency, HTTP MCP, p50", "≤ 1 ms", ms(h50), "met" if h50 <= 0.001 else "missed"),
        ("added latency, HTTP MCP, p99", "≤ 3 ms", ms(h99), "met" if h99 <= 0.003 else "missed"),
        ("stdio bridge over HTTP MCP, p50", "≤ 1 ms more", ms(s50), "met" if s50 <= 0.001 else "missed"),
        (f"{args.sessions} concurrent sessions × {args.calls_each} calls, 50 ms upstream: throughput vs ideal",
         "≥ 95 %", f"{efficiency * 100:.1f} % ({args.sessions * args.calls_each / elapsed:.0f} calls/s; ideal {args.sessions / 0.05:.0f})",
         "met" if efficiency >= 0.95 else "missed"),
        ("errors under concurrency", "0", str(errors), "met" if errors == 0 else "missed"),
        ("daemon CPU per call under concurrency", "(diagnostic)",
         f"{cpu_per_call * 1000:.2f} ms → one core saturates at {1 / cpu_per_call:.0f} calls/s", "-"),
        (f"RSS growth over {args.rss_calls:,} MCP calls", "≤ 10 MB", f"{rss_end - rss_start:+.1f} MB ({rss_start:.1f} → {rss_end:.1f})",
         "met" if rss_end - rss_start <= 10 else "missed"),
    ]
    report("MCP", rows, args.markdown, f"rounds: {args.rounds}")

if __name__ == "__main__":
    main()
