"""Soak: many concurrent MCP sessions for minutes, with injected upstream failures.

Asserts zero unexpected errors (every isError result must be one of the injected kinds), that
every request made is in the ledger, and that RSS and the open-file count stay flat once warm.
Loopback only, bounded in time; run by `make soak`.

    .venv/bin/python bench/soak.py [--sessions 50] [--duration 180] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bench_env, rss_mb, start_daemon, start_fake  # noqa: E402
from bench.mcp_latency import INIT, INITIALIZED, KEY, parse_reply  # noqa: E402
from bench.report import report  # noqa: E402
from synapsed import protocol as p  # noqa: E402

EXPECTED_KINDS = {"rate_limited", "upstream_error"}


UPSTREAM_POOL_PER_HOST = 64  # synapsed.providers.http.new_session: limit_per_host


def proc_stats(pid: int) -> tuple[float, int, int]:
    """RSS in MB, open sockets, open non-socket files."""
    sockets = files = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            files += 1
    return rss_mb(pid), sockets, files


async def run(port: int, token: str, sessions: int, duration: float, pid: int) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "Authorization": f"Bearer {token}"}
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []
    samples: list[tuple[float, float, int, int]] = []
    stop_at = time.monotonic() + duration

    async def session(http: aiohttp.ClientSession, index: int) -> None:
        url = f"http://127.0.0.1:{port}/mcp"
        init = {**INIT, "params": {**INIT["params"], "clientInfo": {"name": f"soak-{index}", "version": "1"}}}
        async with http.post(url, data=json.dumps(init), headers=headers) as response:
            await response.read()
            own = {**headers, "mcp-session-id": response.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        async with http.post(url, data=json.dumps(INITIALIZED), headers=own) as response:
            await response.read()
        call = 0
        while time.monotonic() < stop_at:
            call += 1
            target = "flaky" if call % 3 == 0 else "steady"
            body = {"jsonrpc": "2.0", "id": call, "method": "tools/call",
                    "params": {"name": "ask", "arguments": {"prompt": f"s{index}-{call}", "connection": target}}}
            try:
                async with http.post(url, data=json.dumps(body), headers=own) as response:
                    raw = await response.read()
                    if response.status != 200:
                        unexpected.append(f"HTTP {response.status}: {raw[:200]!r}")
                        continue
                    reply = parse_reply(response.headers.get("Content-Type", ""), raw)
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                unexpected.append(f"{type(exc).__name__}: {exc}")
                continue
            if "error" in reply:
                unexpected.append(f"JSON-RPC error {reply['error']}")
            elif reply["result"].get("isError"):
                kind = reply["result"]["structuredContent"]["error"]["kind"]
                outcomes[kind] += 1
                if kind not in EXPECTED_KINDS:
                    unexpected.append(f"tool error {kind}")
            else:
                outcomes["ok"] += 1

    async def sampler() -> None:
        start = time.monotonic()
        while time.monotonic() < stop_at:
            rss, sockets, files = proc_stats(pid)
            samples.append((time.monotonic() - start, rss, sockets, files))
            await asyncio.sleep(5)

    connector = aiohttp.TCPConnector(limit=sessions * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        await asyncio.gather(sampler(), *(session(http, i) for i in range(sessions)))
    return {"outcomes": outcomes, "unexpected": unexpected, "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="syn-soak-", dir="/tmp"))
    env = bench_env(tmp / "h", BENCH_KEY=KEY)
    steady, steady_port = start_fake(20)
    flaky, flaky_port = start_fake(20, fail_every=4)
    daemon, client, _ = start_daemon(tmp / "h", env)
    try:
        status = client.daemon_status()
        assert status.mcp is not None
        token = Path(status.mcp.token_file).read_text().strip()
        for name, port in (("steady", steady_port), ("flaky", flaky_port)):
            client.connections_create(p.ConnectionSpec(name=name, provider="openai", model="test-model",
                                           base_url=f"http://127.0.0.1:{port}/v1", credential="env:BENCH_KEY"))
        result = asyncio.run(run(status.mcp.port, token, args.sessions, args.duration, daemon.pid))
        time.sleep(0.5)
        with sqlite3.connect(f"file:{tmp / 'h' / 'state' / 'usage.sqlite3'}?mode=ro", uri=True) as conn:
            ledger_rows = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    finally:
        daemon.terminate()
        daemon.wait(30)
        steady.terminate()
        flaky.terminate()
        shutil.rmtree(tmp, ignore_errors=True)

    outcomes, unexpected, samples = result["outcomes"], result["unexpected"], result["samples"]
    calls = sum(outcomes.values())
    warm = [s for s in samples if s[0] >= args.duration / 3] or samples
    rss_growth = warm[-1][1] - warm[0][1]
    file_growth = warm[-1][3] - warm[0][3]
    # Sockets legitimately grow until the upstream keep-alive pools match the peak concurrency:
    # inbound sessions + one pool per upstream host, each at most min(sessions, pool limit).
    socket_bound = args.sessions + 2 * min(args.sessions, UPSTREAM_POOL_PER_HOST) + 16
    peak_sockets = max(s[2] for s in samples)
    checks = {
        "unexpected errors": (len(unexpected) == 0, str(len(unexpected))),
        "every request in the ledger": (ledger_rows == calls, f"{ledger_rows} rows / {calls} calls"),
        "RSS after warm-up": (rss_growth <= 10, f"{warm[0][1]:.1f} → {warm[-1][1]:.1f} MB ({rss_growth:+.1f})"),
        "open files (non-socket) after warm-up": (abs(file_growth) <= 2, f"{warm[0][3]} → {warm[-1][3]} ({file_growth:+d})"),
        "open sockets within the pool bound": (peak_sockets <= socket_bound,
                                               f"peak {peak_sockets} ≤ {socket_bound} (sessions + 2 upstream pools)"),
    }
    rows = [("calls", f"{calls} in {args.duration:.0f} s by {args.sessions} sessions ({calls / args.duration:.0f}/s)", "-"),
            ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())), "-"),
            *[(name, value, "met" if ok else "FAILED") for name, (ok, value) in checks.items()]]
    for line in unexpected[:10]:
        print("unexpected:", line)
    print("samples (s: RSS MB / sockets / files):", " ".join(f"{t:.0f}:{r:.1f}/{k}/{f}" for t, r, k, f in samples))
    report("soak", rows, args.markdown, headers=("measure", "result", "verdict"))
    sys.exit(0 if all(ok for ok, _ in checks.values()) else 1)


if __name__ == "__main__":
    main()
