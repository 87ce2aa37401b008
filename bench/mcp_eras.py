"""Daemon CPU per `ask` in the two MCP protocol eras, with the official SDK client over HTTP:
handshake-era sessions (2025-06-18) and stateless 2026-07-28 requests, which the SDK checks
against the tool's input schema on every call (Mcp-Param-* headers). Same daemon, same fake
upstream, one run; CPU is read from /proc for the daemon only, so client cost is not counted.

    .venv/bin/python bench/mcp_eras.py [--calls 400] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx2  # noqa: E402
import mcp_types as types  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from bench.harness import bench_env, cpu_seconds, start_daemon, start_fake  # noqa: E402
from bench.report import report  # noqa: E402
from synapsed import protocol as p  # noqa: E402

KEY = "sk-bench-0123456789abcdefghijkl"


async def cpu_per_call(pid: int, url: str, token: str, mode: str, calls: int) -> tuple[float, str]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with Client(streamable_http_client(url, http_client=http), mode=mode,  # type: ignore[arg-type]
                      client_info=types.Implementation(name=f"bench-{mode}", version="1")) as client:
        for _ in range(50):  # warm-up
            await client.call_tool("ask", {"prompt": "ping", "connection": "bench"})
        before = cpu_seconds(pid)
        for _ in range(calls):
            result = await client.call_tool("ask", {"prompt": "ping", "connection": "bench"})
            if result.is_error:
                raise SystemExit(f"{mode} call failed: {result}")
        return (cpu_seconds(pid) - before) / calls, str(client.protocol_version)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="syn-bench-", dir="/tmp"))
    env = bench_env(tmp / "h", BENCH_KEY=KEY)
    fake, fake_port = start_fake(0)
    daemon, client, _ = start_daemon(tmp / "h", env)
    try:
        status = client.daemon_status()
        assert status.mcp is not None
        token = Path(status.mcp.token_file).read_text().strip()
        client.connections_create(p.ConnectionSpec(name="bench", provider="openai", model="test-model",
                                                   base_url=f"http://127.0.0.1:{fake_port}/v1",
                                                   credential="env:BENCH_KEY"))
        legacy, legacy_version = asyncio.run(cpu_per_call(daemon.pid, status.mcp.url, token, "legacy", args.calls))
        modern, modern_version = asyncio.run(cpu_per_call(daemon.pid, status.mcp.url, token, "auto", args.calls))
    finally:
        daemon.terminate()
        daemon.wait(15)
        fake.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = modern / legacy
    rows = [
        (f"daemon CPU per `ask`, handshake era ({legacy_version})", "baseline", f"{legacy * 1000:.2f} ms", "-"),
        (f"daemon CPU per `ask`, stateless era ({modern_version})", "-", f"{modern * 1000:.2f} ms", "-"),
        ("stateless / handshake CPU per call", "≤ 1.2×", f"{ratio:.2f}×", "met" if ratio <= 1.2 else "missed"),
    ]
    report("MCP protocol eras", rows, args.markdown, f"calls: {args.calls} per era, official SDK client over HTTP")


if __name__ == "__main__":
    main()
