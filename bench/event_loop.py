"""The daemon on uvloop (`[daemon] event_loop = "auto"`, the default) against the same daemon on
asyncio's own loop (`event_loop = "asyncio"`), side by side in one run: daemon CPU per `ask` over
one HTTP MCP session (raw client, fast path) and the call's wall-clock p50.

The two daemons share one fake upstream and take turns in blocks of --block calls, the order
flipping each round; each block gives one CPU-per-call and one p50 per loop, and the report is
the median of the per-round ratios with their range (one block moves by several per cent on a
shared machine; a ratio of two blocks measured back to back moves much less). Start-up cost of
importing uvloop is in bench/mcp_startup.py's figures, which run on the default loop.

    .venv/bin/python bench/event_loop.py [--rounds 20] [--block 300] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bench_env, cpu_seconds, pin, start_daemon, start_fake  # noqa: E402
from bench.mcp_latency import KEY, McpHttp  # noqa: E402
from bench.report import in_turn, paired_ratios, report  # noqa: E402
from synapsed import protocol as p  # noqa: E402

LOOPS = {"uvloop": "", "asyncio": '\n[daemon]\nevent_loop = "asyncio"\n'}


def block(session: McpHttp, pid: int, calls: int) -> tuple[float, float]:
    """Daemon CPU seconds per call and the median wall-clock seconds of `calls` asks."""
    before = cpu_seconds(pid)
    walls = []
    for i in range(calls):
        started = time.perf_counter()
        reply = session.ask(i)
        walls.append(time.perf_counter() - started)
        if reply["result"].get("isError"):
            raise SystemExit(f"call failed: {reply}")
    return (cpu_seconds(pid) - before) / calls, statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block", type=int, default=300)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="syn-bench-", dir="/tmp"))
    fake, fake_port = start_fake(0)
    daemons = {}
    try:
        for name, extra in LOOPS.items():
            home = tmp / name
            home.mkdir(parents=True)
            (home / "config.toml").write_text(f"[mcp]\nport = 0\n{extra}")
            proc, client, _ = start_daemon(home, bench_env(home, BENCH_KEY=KEY))
            status = client.daemon_status()
            assert status.mcp is not None and status.event_loop == name, status.event_loop
            client.connections_create(p.ConnectionSpec(name="bench", provider="openai", model="test-model",
                                                       base_url=f"http://127.0.0.1:{fake_port}/v1",
                                                       credential="env:BENCH_KEY"))
            daemons[name] = (proc, McpHttp(status.mcp.port, Path(status.mcp.token_file).read_text().strip()))
        pinned = pin(*(proc.pid for proc, _ in daemons.values()), fake.pid, daemons=len(daemons))
        for proc, session in daemons.values():
            block(session, proc.pid, 300)  # warm-up
        cpu: dict[str, list[float]] = {name: [] for name in daemons}
        wall: dict[str, list[float]] = {name: [] for name in daemons}
        for index in range(args.rounds):
            for name in in_turn(list(daemons), index):
                proc, session = daemons[name]
                per_call, p50 = block(session, proc.pid, args.block)
                cpu[name].append(per_call)
                wall[name].append(p50)
    finally:
        for proc, _ in daemons.values():
            proc.terminate()
            proc.wait(15)
        fake.terminate()
        shutil.rmtree(tmp, ignore_errors=True)

    med = statistics.median
    cpu_ratio = paired_ratios(cpu["uvloop"], cpu["asyncio"])
    wall_ratio = paired_ratios(wall["uvloop"], wall["asyncio"])
    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    rows = [
        ("daemon CPU per `ask`, asyncio loop (median of blocks)", "baseline", ms(med(cpu["asyncio"])), "-"),
        ("daemon CPU per `ask`, uvloop (median of blocks)", "-", ms(med(cpu["uvloop"])), "-"),
        ("uvloop / asyncio CPU per call (median of rounds; range)", "< 1", cpu_ratio.text(),
         "met" if cpu_ratio.median < 1 else "missed"),
        ("`ask` p50 wall clock, asyncio / uvloop", "-", f"{ms(med(wall['asyncio']))} / {ms(med(wall['uvloop']))}", "-"),
        ("uvloop / asyncio p50 (median of rounds; range)", "(reported)", wall_ratio.text(), "-"),
    ]
    report("event loop", rows, args.markdown,
           f"{args.rounds} rounds × {args.block} calls per loop, raw HTTP client, one session each; {pinned}")


if __name__ == "__main__":
    main()
