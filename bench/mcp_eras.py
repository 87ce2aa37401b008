"""Daemon CPU per `ask` in the two MCP protocol eras, with the official SDK client over HTTP:
handshake-era sessions (2025-06-18) and stateless 2026-07-28 requests, which the SDK checks
against the tool's input schema on every call (Mcp-Param-* headers). Same daemon, same fake
upstream, one run, the two eras' clients taking turns in blocks (the order flipping each round):
the ratio reported is the median of the rounds' ratios, with their range. CPU is read from
/proc for the daemon only, so client cost is not counted.

    .venv/bin/python bench/mcp_eras.py [--rounds 10] [--calls 200] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
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
from bench.report import in_turn, paired_ratios, report  # noqa: E402
from synapsed import protocol as p  # noqa: E402

KEY = "sk-bench-0123456789abcdefghijkl"


async def paired_rounds(pid: int, url: str, token: str, rounds: int, calls: int) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Daemon CPU per call of each era, in alternating blocks of `calls` (order flipped each
    round) over two official clients open side by side: a machine that drifts moves both."""
    per_call: dict[str, list[float]] = {"legacy": [], "auto": []}
    versions: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for mode in per_call:
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            clients[mode] = await stack.enter_async_context(
                Client(streamable_http_client(url, http_client=http), mode=mode,  # type: ignore[arg-type]
                       client_info=types.Implementation(name=f"bench-{mode}", version="1")))
            versions[mode] = str(clients[mode].protocol_version)
            for _ in range(50):  # warm-up
                await clients[mode].call_tool("ask", {"prompt": "ping", "connection": "bench"})
        for index in range(rounds):
            for mode in in_turn(list(clients), index):
                before = cpu_seconds(pid)
                for _ in range(calls):
                    result = await clients[mode].call_tool("ask", {"prompt": "ping", "connection": "bench"})
                    if result.is_error:
                        raise SystemExit(f"{mode} call failed: {result}")
                per_call[mode].append((cpu_seconds(pid) - before) / calls)
    return per_call, versions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200, help="calls per era per round")
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
        per_call, versions = asyncio.run(paired_rounds(daemon.pid, status.mcp.url, token, args.rounds, args.calls))
    finally:
        daemon.terminate()
        daemon.wait(15)
        fake.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    legacy, modern = statistics.median(per_call["legacy"]), statistics.median(per_call["auto"])
    ratio = paired_ratios(per_call["auto"], per_call["legacy"])
    rows = [
        (f"daemon CPU per `ask`, handshake era ({versions['legacy']}; median of blocks)", "baseline",
         f"{legacy * 1000:.2f} ms", "-"),
        (f"daemon CPU per `ask`, stateless era ({versions['auto']}; median of blocks)", "-", f"{modern * 1000:.2f} ms", "-"),
        ("stateless / handshake CPU per call (median of rounds; range)", "≤ 1.2×",
         ratio.text(unit="×"), "met" if ratio.median <= 1.2 else "missed"),
    ]
    report("MCP protocol eras", rows, args.markdown,
           f"{args.rounds} rounds × {args.calls} calls per era, alternating; official SDK client over HTTP")


if __name__ == "__main__":
    main()
