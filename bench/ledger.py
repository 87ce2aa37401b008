"""Ledger benchmarks: request latency with the ledger on vs off, and queries over 1,000,000 rows.

1. In-process Gateway.complete against a fake upstream in its own process, with a Meter that
   writes the ledger vs one that does not, interleaved (the ratio is what matters).
2. A temp ledger filled with 1,000,000 synthetic rows over 90 days; timings of the history and
   summary queries synapsectl issues.

    .venv/bin/python bench/ledger.py [--rows 1000000] [--calls 2000] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import start_fake  # noqa: E402
from bench.report import pct, report  # noqa: E402
from synapsed.config import ConfigStore, ConnectionConfig  # noqa: E402
from synapsed.gateway import Gateway  # noqa: E402
from synapsed.protocol import ChatRequest, Message  # noqa: E402
from synapsed.usage import queries  # noqa: E402
from synapsed.usage.ledger import COLUMNS, Ledger, UsageRow, connect  # noqa: E402
from synapsed.usage.meter import Meter  # noqa: E402


async def latency(tmp: Path, port: int, calls: int) -> tuple[list[float], list[float]]:
    os.environ["BENCH_KEY"] = "sk-bench-0123456789abcdefghijkl"
    store = ConfigStore(tmp / "config.toml")
    store.load()
    conn = ConnectionConfig(provider="openai", model="gpt-4o-mini", base_url=f"http://127.0.0.1:{port}/v1", credential="env:BENCH_KEY")
    await store.mutate(lambda c: msgspec.structs.replace(c, connections={"bench": conn}))
    ledger = Ledger(tmp / "usage.sqlite3")
    ledger.open()
    on = Gateway(store, meter=Meter(ledger, store))
    off = Gateway(store, meter=Meter(None, store))
    request = ChatRequest([Message("user", "ping")])
    samples_on: list[float] = []
    samples_off: list[float] = []
    for i in range(calls + 200):
        for gateway, samples in ((on, samples_on), (off, samples_off)):
            t0 = time.perf_counter()
            await gateway.complete("bench", request)
            if i >= 200:
                samples.append(time.perf_counter() - t0)
    await on.close()
    await off.close()
    ledger.close()
    return samples_on, samples_off


def fill(path: Path, rows: int) -> float:
    led = Ledger(path)
    led.open()
    led.close()
    conn = connect(path)
    rng = random.Random(7)
    now = time.time()
    connections = ["gpt", "claude", "gemini", "local", "groq"]
    callers = ["mcp:cursor", "mcp:claude-code", "mcp:vscode", "synapsectl"]
    t0 = time.perf_counter()
    batch = []
    for _ in range(rows):
        status = "ok" if rng.random() > 0.05 else "error"
        batch.append((now - rng.random() * 90 * 86400, rng.choice(connections), "openai", "gpt-4o-mini", "gpt-4o-mini",
                      rng.choice(callers), f"http-{rng.randrange(1000)}", status, None if status == "ok" else "rate_limited",
                      rng.uniform(100, 3000), rng.randrange(10, 4000), rng.randrange(5, 800), rng.random() / 100,
                      "ESTIMATED", "builtin:2025-11-01", None))
        if len(batch) == 50_000:
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", batch)
            conn.execute("COMMIT")
            batch.clear()
    conn.close()
    return time.perf_counter() - t0


async def commit_cost(path: Path, rows: int, together: int = 1) -> float:
    """Seconds per Ledger.record (insert + commit, on the loop) into the filled ledger. With
    `together` > 1, that many long-lived tasks record back to back, as concurrent requests do:
    woken by the same commit, they insert in the same turn of the loop and share the next one."""
    ledger = Ledger(path)
    ledger.open()
    row = UsageRow(time.time(), "gpt", "openai", "gpt-4o-mini", "gpt-4o-mini", "mcp:cursor", "http-1", "ok", None,
                   812.0, 120, 40, 0.0001, "ESTIMATED", "builtin:2025-11-01")
    each = rows // together

    async def requests() -> None:
        for _ in range(each):
            await ledger.record(row, share_commit=together > 1)

    try:
        workers = [asyncio.create_task(requests()) for _ in range(together)]
        commits = ledger.commits
        t0 = time.perf_counter()
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - t0
        if together > 1 and ledger.commits - commits > each * 1.1:
            raise SystemExit("rows did not share commits")
        return elapsed / (each * together)
    finally:
        ledger.close()


def time_query(path: Path, fn, *args) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(5):
        with connect(path, readonly=True) as conn:
            t0 = time.perf_counter()
            fn(conn, *args)
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    from synapsed import logging as slog

    slog.configure("warning", None, human=True)  # the gateway's per-call info lines are not the subject
    tmp = Path(tempfile.mkdtemp(prefix="syn-bench-", dir="/tmp"))
    fake, port = start_fake()
    try:
        on, off = asyncio.run(latency(tmp, port, args.calls))
        big = tmp / "big.sqlite3"
        fill_s = fill(big, args.rows)
        per_commit = asyncio.run(commit_cost(big, 5000))
        per_row_of_8 = asyncio.run(commit_cost(big, 5000, together=8))
        q = {
            "history, newest 50": time_query(big, queries.history, queries.Filters(), "-time", 50, 0),
            "history, one connection + status, newest 50": time_query(big, queries.history, queries.Filters(connection="gpt", status="error"), "-time", 50, 0),
            "history, one client, last 7 days, page at offset 10,000": time_query(big, queries.history, queries.Filters(client="mcp:cursor", since="7d"), "-time", 50, 10_000),
            "summary by connection, last 30 days": time_query(big, queries.summary, queries.Filters(since="30d"), "connection"),
            "summary by day x connection, last 14 days (chart)": time_query(big, queries.summary, queries.Filters(since="14d"), "day_connection"),
        }
    finally:
        fake.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    ratio = statistics.median(on) / statistics.median(off)
    rows = [
        ("request, ledger off (p50 / p99)", "baseline", f"{ms(statistics.median(off))} / {ms(pct(off, 0.99))}", "-"),
        ("request, ledger on (p50 / p99)", "-", f"{ms(statistics.median(on))} / {ms(pct(on, 0.99))}", "-"),
        ("ledger on / off, p50", "not noticeable", f"{ratio:.3f}× (+{ms(statistics.median(on) - statistics.median(off))})", "-"),
        (f"one row's insert + commit (Ledger.record) into {args.rows:,} rows", "(measured)",
         f"{per_commit * 1e6:.1f} µs", "-"),
        ("the same, 8 concurrent requests recording (their rows share commits), per row", "(measured)",
         f"{per_row_of_8 * 1e6:.1f} µs", "-"),
        *[(f"{name} over {args.rows:,} rows", "-", ms(seconds), "-") for name, seconds in q.items()],
    ]
    report("usage ledger", rows, args.markdown, f"filled {args.rows:,} rows in {fill_s:.1f} s")

if __name__ == "__main__":
    main()
