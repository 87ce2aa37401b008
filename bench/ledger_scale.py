"""Usage at scale: the same surfaces over a ledger of 1,000,000 and of 10,000,000 rows, and what
the rollups cost to keep.

For each size, a ledger is filled with synthetic rows at the same daily rate (1M over 90 days,
10M over 900: a heavy agent user's three months and two and a half years), through the trigger
that keeps the rollups. Then, in one run:

- `usage.summary` for 30 days, in process (what the daemon runs for `synapsectl usage`);
- a filtered history page (connection + status; one client over 7 days, deep page);
- a real daemon on that ledger: the console usage page for 30 and 90 days and the connections
  page, over HTTP with a signed-in session;
- one row + its rollup, insert and commit (Ledger.record), with the trigger and without it;
- folding 1,000,000 rows an older synapsed wrote (schema 4, no rollups) at start;
- `synapsectl status` as a process, against `python -c pass`.

    .venv/bin/python bench/ledger_scale.py [--sizes 1000000 10000000] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import bench_env, compile_bytecode, start_daemon  # noqa: E402
from bench.report import report  # noqa: E402
from synapsed.usage import queries, rollups  # noqa: E402
from synapsed.usage.ledger import COLUMNS, MIGRATIONS, Ledger, UsageRow, connect, migrate  # noqa: E402

CONNECTIONS = ["gpt", "claude", "gemini", "local", "groq"]
CALLERS = ["mcp:cursor", "mcp:claude-code", "mcp:vscode", "synapsectl"]
ROWS_PER_DAY = 1_000_000 / 90
BATCH = 50_000


def _rows(count: int, seed: int = 7):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    now = time.time()
    span = count / ROWS_PER_DAY * 86400
    for _ in range(count):
        status = "ok" if rng.random() > 0.05 else "error"
        yield (now - rng.random() * span, rng.choice(CONNECTIONS), "openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18",
               rng.choice(CALLERS), f"http-{rng.randrange(1000)}", status, None if status == "ok" else "rate_limited",
               rng.uniform(100, 3000), rng.randrange(10, 4000), rng.randrange(5, 800), rng.random() / 100,
               "ESTIMATED", "builtin:2026-12-06", None, None, None, None)


def fill(path: Path, count: int, schema: int | None = None) -> float:
    """`count` rows; with `schema` < 5 the file is left as an older synapsed would (no rollups)."""
    conn = connect(path)
    migrate(conn, MIGRATIONS[:schema] if schema else MIGRATIONS)
    columns = COLUMNS if schema is None or schema >= 4 else COLUMNS[:-3]
    insert = f"INSERT INTO requests ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    t0 = time.perf_counter()
    batch: list[tuple[object, ...]] = []
    for row in _rows(count):
        batch.append(row[: len(columns)])
        if len(batch) == BATCH:
            conn.execute("BEGIN")
            conn.executemany(insert, batch)
            conn.execute("COMMIT")
            batch.clear()
    if batch:
        conn.execute("BEGIN")
        conn.executemany(insert, batch)
        conn.execute("COMMIT")
    if schema is None:
        # As a running daemon leaves it: the finished days summed (its checkpoint thread does this
        # every few minutes), so the figures are those of the steady state, not of a first start.
        rollups.derive_days(conn)
    conn.close()
    return time.perf_counter() - t0


def median_ms(fn, rounds: int = 7) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def in_process(path: Path) -> dict[str, float]:
    def q(fn, *args):  # type: ignore[no-untyped-def]
        def run() -> None:
            with connect(path, readonly=True) as conn:
                fn(conn, *args)
        return median_ms(run)

    return {
        "usage.summary, 30 days, by connection": q(queries.summary, queries.Filters(since="30d"), "connection"),
        "history page, connection + status": q(queries.history, queries.Filters(connection="gpt", status="error"),
                                               "-time", 50, 0, True),
        "history page, one client over 7 days, offset 2,000": q(queries.history, queries.Filters(client="mcp:cursor",
                                                                                                   since="7d"),
                                                                "-time", 50, 2_000, True),
    }


def console_pages(path: Path, tmp: Path) -> dict[str, float]:
    from tests.support.console import http_session, sign_in

    home = tmp / "home"
    (home / "state").mkdir(parents=True, exist_ok=True)
    shutil.copy(path, home / "state" / "usage.sqlite3")
    proc, client, _ = start_daemon(home, bench_env(home))
    try:
        status = client.daemon_status()
        assert status.mcp is not None
        base = status.mcp.url.removesuffix("/mcp")

        class Daemon:  # the little of tests.support.daemon.DaemonProcess that sign_in uses
            def __init__(self) -> None:
                self.client = client

        async def run() -> dict[str, float]:
            async with http_session() as session:
                await sign_in(session, Daemon())  # type: ignore[arg-type]
                out: dict[str, float] = {}
                for name, page in (("console usage page, 30 days", "/console/usage?since=30d"),
                                   ("console usage page, 90 days", "/console/usage?since=90d"),
                                   ("console connections page", "/console/connections")):
                    samples = []
                    for _ in range(7):
                        t0 = time.perf_counter()
                        async with session.get(base + page) as reply:
                            assert reply.status == 200, await reply.text()
                            await reply.read()
                        samples.append(time.perf_counter() - t0)
                    out[name] = statistics.median(samples) * 1000
                return out

        return asyncio.run(run())
    finally:
        proc.terminate()
        proc.wait(30)


async def record_cost(path: Path, rows: int = 5000) -> float:
    ledger = Ledger(path)
    ledger.open()
    row = UsageRow(time.time(), "gpt", "openai", "gpt-4o-mini", "gpt-4o-mini", "mcp:cursor", "http-1", "ok", None,
                   812.0, 120, 40, 0.0001, "ESTIMATED", "builtin:2026-12-06")
    try:
        t0 = time.perf_counter()
        for _ in range(rows):
            await ledger.record(row)
        return (time.perf_counter() - t0) / rows
    finally:
        ledger.close()


def insert_costs(tmp: Path) -> tuple[float, float]:
    """(this schema, the schema before the rollups) per Ledger.record into a 1,000,000-row ledger,
    alternated in rounds on two copies of one file: the second without the trigger and the
    partial indexes migration 5 added."""
    base = tmp / "insert.sqlite3"
    fill(base, 1_000_000)
    without = tmp / "insert-no-trigger.sqlite3"
    shutil.copy(base, without)
    conn = sqlite3.connect(without)
    for statement in ("DROP TRIGGER requests_rollup", "DROP INDEX requests_status_ts",
                      "DROP INDEX requests_connection_status_ts"):
        conn.execute(statement)
    conn.commit()
    conn.close()
    on: list[float] = []
    off: list[float] = []
    for _ in range(5):
        on.append(asyncio.run(record_cost(base)))
        off.append(asyncio.run(record_cost(without)))
    return statistics.median(on), statistics.median(off)


def fold_foreign(tmp: Path, count: int = 1_000_000) -> float:
    path = tmp / "old.sqlite3"
    fill(path, count, schema=4)
    t0 = time.perf_counter()
    ledger = Ledger(path)
    ledger.open()
    assert ledger._backfiller is not None
    ledger._backfiller.join()
    elapsed = time.perf_counter() - t0
    assert ledger.catching_up() is None
    ledger.close()
    return elapsed


def cli_start() -> tuple[float, float]:
    def run(args: list[str]) -> float:
        samples = []
        for _ in range(15):
            t0 = time.perf_counter()
            subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
                           env=bench_env(Path(tempfile.mkdtemp(prefix="syn-cli-", dir="/tmp"))))
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)

    return run([sys.executable, "-m", "synapsectl", "status"]), run([sys.executable, "-c", "pass"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    note = compile_bytecode()
    tmp = Path(tempfile.mkdtemp(prefix="syn-scale-", dir="/tmp"))
    results: dict[int, dict[str, float]] = {}
    fills: list[str] = []
    try:
        for size in args.sizes:
            path = tmp / f"ledger-{size}.sqlite3"
            seconds = fill(path, size)
            fills.append(f"{size:,} rows filled in {seconds:.0f} s")
            results[size] = {**in_process(path), **console_pages(path, tmp / f"d{size}")}
            path.unlink()
        with_trigger, without = insert_costs(tmp)
        folded = fold_foreign(tmp)
        status_s, python_s = cli_start()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    targets = {"usage.summary, 30 days, by connection": 50, "history page, connection + status": 50,
               "history page, one client over 7 days, offset 2,000": 50, "console usage page, 30 days": 150,
               "console usage page, 90 days": 150, "console connections page": 100}
    small, large = min(results), max(results)
    rows: list[tuple[str, str, str, str]] = []
    for name, target in targets.items():
        cells = " / ".join(f"{results[s][name]:.1f} ms" for s in sorted(results))
        worst = max(results[s][name] for s in results)
        growth = results[large][name] / results[small][name] if large != small else 1.0
        rows.append((f"{name} ({' / '.join(f'{s:,}' for s in sorted(results))} rows)", f"≤ {target} ms, grows ≤ 1.5×",
                     f"{cells}; growth {growth:.2f}×", "met" if worst <= target and growth <= 1.5 else "MISSED"))
    ratio = with_trigger / without
    rows.append(("one row + its rollup, insert and commit (into 1,000,000 rows)", "≤ 1.3× the schema before rollups",
                 f"{with_trigger * 1e6:.1f} µs; before the rollups {without * 1e6:.1f} µs ({ratio:.2f}×)",
                 "met" if ratio <= 1.3 else "MISSED"))
    rows.append(("folding 1,000,000 rows an older synapsed wrote, at start", "≤ 30 s", f"{folded:.1f} s",
                 "met" if folded <= 30 else "MISSED"))
    rows.append(("`synapsectl status` process vs `python -c pass`", "≤ 2×",
                 f"{status_s * 1000:.0f} ms vs {python_s * 1000:.0f} ms ({status_s / python_s:.2f}×)",
                 "met" if status_s <= 2 * python_s else "MISSED"))
    report("usage at scale", rows, args.markdown, f"{note}; " + "; ".join(fills))


if __name__ == "__main__":
    main()
