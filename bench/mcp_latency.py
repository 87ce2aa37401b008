"""MCP benchmarks against a real synapsed and a fake upstream in its own process, on loopback.

1. Added latency of `ask` through HTTP MCP (the fast path, and a second daemon with
   `[mcp] fast_path = false` for the SDK path) and through the stdio bridge vs a direct POST to
   the same fake upstream (interleaved rounds; p50 and p99 differences). Raw HTTP clients, so
   no client-side SDK cost is billed to the daemon; the official SDK client is measured too.
   Beside them, in the same rounds, a bare aiohttp forwarder (bench/forwarder_server.py): the
   floor of any aiohttp-based hop on this machine, so a slower or faster machine shows as such.
2. 32 concurrent HTTP MCP sessions against an upstream answering in 50 ms vs 32 concurrent
   direct clients of the same upstream, in the same run: each side's throughput vs ideal
   (sequential calls per session: ideal = sessions / 50 ms), their ratio, and the errors. The
   pair is repeated --pairs times, interleaved, and the median ratio reported with its range:
   one pair moves by several points between runs on a shared 2-core machine.

On a machine with 2+ cores the daemons (and the forwarder) run on the last CPU and everything
else (clients, fake upstreams) on the others, so the daemon's figures do not include its load
generator.

    .venv/bin/python bench/mcp_latency.py [--rounds 1000] [--pairs 9] [--markdown BENCHMARKS.md]
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
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bench_env, cpu_seconds, pin, rss_mb, start_daemon, start_fake, start_forwarder  # noqa: E402
from bench.report import paired_ratios, pct, report  # noqa: E402
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
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"direct POST failed: {response.status}")


def latency(port: int, forwarder_port: int, mcp_port: int, sdk_port: int, token: str, sdk_token: str, home: Path,
            env: dict[str, str], rounds: int) -> dict[str, list[float]]:
    direct = http.client.HTTPConnection("127.0.0.1", port)
    forwarded = http.client.HTTPConnection("127.0.0.1", forwarder_port)
    via_http = McpHttp(mcp_port, token)
    via_sdk = McpHttp(sdk_port, sdk_token)
    via_stdio = McpStdio(home, env)
    samples: dict[str, list[float]] = {"direct": [], "forwarder": [], "http": [], "sdk": [], "stdio": []}
    calls = {"direct": lambda i: direct_post(direct), "forwarder": lambda i: direct_post(forwarded),
             "http": via_http.ask, "sdk": via_sdk.ask, "stdio": via_stdio.ask}
    for i in range(rounds + 100):
        for name, call in calls.items():
            t0 = time.perf_counter()
            reply = call(i)
            elapsed = time.perf_counter() - t0
            if name not in ("direct", "forwarder") and reply["result"].get("isError"):
                raise SystemExit(f"{name} call failed: {reply}")
            if i >= 100:  # the first hundred warm pools and caches
                samples[name].append(elapsed)
    via_stdio.close()
    return samples


async def sdk_client_latency(url: str, token: str, rounds: int) -> list[float]:
    """Wall time per `ask` from the official SDK client over HTTP (its own cost included)."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    samples: list[float] = []
    async with Client(streamable_http_client(url, http_client=http), mode="legacy",  # type: ignore[arg-type]
                      client_info=types.Implementation(name="bench-sdk", version="1")) as client:
        for i in range(rounds + 50):
            t0 = time.perf_counter()
            result = await client.call_tool("ask", {"prompt": "ping", "connection": "bench"})
            if i >= 50:
                samples.append(time.perf_counter() - t0)
            if result.is_error:
                raise SystemExit(f"SDK client call failed: {result}")
    return samples


async def direct_concurrency(port: int, sessions: int, calls_each: int) -> tuple[float, int]:
    """The same load straight at the upstream: what this machine allows at this concurrency."""
    body = json.dumps({"model": "test-model", "messages": [{"role": "user", "content": "ping"}], "stream": False})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    errors = 0

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        await start.wait()
        for _ in range(calls_each):
            async with http.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers=headers) as r:
                await r.read()
                errors += int(r.status != 200)

    start = asyncio.Event()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=sessions * 2)) as http:
        tasks = [asyncio.create_task(client(http)) for _ in range(sessions)]
        await asyncio.sleep(0.2)
        t0 = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        return time.perf_counter() - t0, errors


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
    parser.add_argument("--sdk-rounds", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--calls-each", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=9, help="interleaved direct/MCP concurrency pairs")
    parser.add_argument("--rss-calls", type=int, default=10_000)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="syn-bench-", dir="/tmp"))
    env = bench_env(tmp / "h", BENCH_KEY=KEY)
    sdk_env = bench_env(tmp / "sdk", BENCH_KEY=KEY)
    fast, fast_port = start_fake(0)
    slow, slow_port = start_fake(50)
    (tmp / "sdk").mkdir(parents=True)
    (tmp / "sdk" / "config.toml").write_text("[mcp]\nport = 0\nfast_path = false\n")
    forwarder, forwarder_port = start_forwarder(fast_port)
    daemon, client, _ = start_daemon(tmp / "h", env)
    sdk_daemon, sdk_client, _ = start_daemon(tmp / "sdk", sdk_env)
    pinned = pin(daemon.pid, sdk_daemon.pid, forwarder.pid, fast.pid, slow.pid, daemons=3)
    try:
        tokens = []
        for ctl, port in ((client, fast_port), (sdk_client, fast_port)):
            status = ctl.daemon_status()
            assert status.mcp is not None
            tokens.append(Path(status.mcp.token_file).read_text().strip())
            ctl.connections_create(p.ConnectionSpec(name="bench", provider="openai", model="test-model",
                                                    base_url=f"http://127.0.0.1:{port}/v1", credential="env:BENCH_KEY"))
        mcp = client.daemon_status().mcp
        sdk_mcp = sdk_client.daemon_status().mcp
        assert mcp is not None and sdk_mcp is not None
        samples = latency(fast_port, forwarder_port, mcp.port, sdk_mcp.port, tokens[0], tokens[1], tmp / "h", env,
                          args.rounds)
        sdk_client_samples = asyncio.run(sdk_client_latency(mcp.url, tokens[0], args.sdk_rounds))
        direct_again = http.client.HTTPConnection("127.0.0.1", fast_port)
        direct_for_sdk = []
        for _ in range(args.sdk_rounds):
            t0 = time.perf_counter()
            direct_post(direct_again)
            direct_for_sdk.append(time.perf_counter() - t0)
        rss_start, rss_end = rss_over_calls(daemon.pid, mcp.port, tokens[0], args.rss_calls)
        client.connections_update("bench", p.ConnectionPatch(base_url=f"http://127.0.0.1:{slow_port}/v1"))
        direct_runs: list[float] = []
        mcp_runs: list[float] = []
        direct_errors = errors = 0
        cpu = 0.0
        for _ in range(args.pairs):
            elapsed, failed = asyncio.run(direct_concurrency(slow_port, args.sessions, args.calls_each))
            direct_runs.append(elapsed)
            direct_errors += failed
            cpu_before = cpu_seconds(daemon.pid)
            elapsed, failed = asyncio.run(concurrency(mcp.port, tokens[0], args.sessions, args.calls_each))
            cpu += cpu_seconds(daemon.pid) - cpu_before
            mcp_runs.append(elapsed)
            errors += failed
        cpu_per_call = cpu / (args.pairs * args.sessions * args.calls_each)
    finally:
        for proc in (daemon, sdk_daemon):
            proc.terminate()
            proc.wait(15)
        forwarder.terminate()
        fast.terminate()
        slow.terminate()
        shutil.rmtree(tmp, ignore_errors=True)

    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    med = statistics.median
    d50, d99 = med(samples["direct"]), pct(samples["direct"], 0.99)
    f50, f99 = med(samples["forwarder"]) - d50, pct(samples["forwarder"], 0.99) - d99
    h50, h99 = med(samples["http"]) - d50, pct(samples["http"], 0.99) - d99
    k50, k99 = med(samples["sdk"]) - d50, pct(samples["sdk"], 0.99) - d99
    s50 = med(samples["stdio"]) - d50
    c50 = med(sdk_client_samples) - med(direct_for_sdk)
    ideal = args.calls_each * 0.050
    ratio = paired_ratios(direct_runs, mcp_runs)
    efficiency, direct_efficiency = ideal / med(mcp_runs), ideal / med(direct_runs)
    pairs = f"median of {args.pairs} interleaved pairs" if args.pairs > 1 else "one pair"
    rows = [
        ("direct POST to the fake upstream (p50 / p99)", "baseline", f"{ms(d50)} / {ms(d99)}", "-"),
        ("added latency, bare aiohttp forwarder (the floor here), p50 / p99", "(machine)", f"{ms(f50)} / {ms(f99)}", "-"),
        ("`ask` via HTTP MCP, fast path (p50 / p99)", "-", f"{ms(med(samples['http']))} / {ms(pct(samples['http'], 0.99))}", "-"),
        ("`ask` via HTTP MCP, SDK path (p50 / p99)", "-", f"{ms(med(samples['sdk']))} / {ms(pct(samples['sdk'], 0.99))}", "-"),
        ("`ask` via stdio bridge (p50 / p99)", "-", f"{ms(med(samples['stdio']))} / {ms(pct(samples['stdio'], 0.99))}", "-"),
        ("added latency, HTTP MCP (raw client), p50", "≤ 1 ms", ms(h50), "met" if h50 <= 0.001 else "missed"),
        ("added latency, HTTP MCP (raw client), p99", "≤ 3 ms", ms(h99), "met" if h99 <= 0.003 else "missed"),
        ("added latency, HTTP MCP over the bare forwarder's, p50", "(reported)",
         f"{ms(h50 - f50)} ({h50 / f50:.2f}× the floor)", "-"),
        ("added latency, SDK path (`fast_path = false`), p50 / p99", "(reference)", f"{ms(k50)} / {ms(k99)}", "-"),
        ("added latency, stdio bridge, p50", "≤ HTTP", ms(s50), "met" if s50 <= h50 else "missed"),
        ("added latency, official SDK client over HTTP (its own cost included), p50", "(reported)", ms(c50), "-"),
        (f"{args.sessions} direct clients × {args.calls_each} calls, 50 ms upstream: throughput vs ideal ({pairs})",
         "baseline", f"{direct_efficiency * 100:.1f} % ({direct_errors} errors)", "-"),
        (f"{args.sessions} MCP sessions × {args.calls_each} calls, same upstream: throughput vs ideal ({pairs})",
         "-", f"{efficiency * 100:.1f} % ({args.sessions * args.calls_each / med(mcp_runs):.0f} calls/s)", "-"),
        (f"{args.sessions} MCP sessions vs direct at the same concurrency ({pairs}; range)", "≥ 95 %",
         ratio.text(scale=100, unit=" %", digits=1), "met" if ratio.median >= 0.95 else "missed"),
        ("errors under concurrency", "0", str(errors), "met" if errors == 0 else "missed"),
        ("daemon CPU per call under concurrency", "(diagnostic)",
         f"{cpu_per_call * 1000:.2f} ms → one core saturates at {1 / cpu_per_call:.0f} calls/s", "-"),
        (f"RSS growth over {args.rss_calls:,} MCP calls", "≤ 10 MB", f"{rss_end - rss_start:+.1f} MB ({rss_start:.1f} → {rss_end:.1f})",
         "met" if rss_end - rss_start <= 10 else "missed"),
    ]
    report("MCP", rows, args.markdown, f"rounds: {args.rounds}; {pinned}")


if __name__ == "__main__":
    main()
