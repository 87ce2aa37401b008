"""The usage ledger through a real daemon: rows per request, the CLI views, and kill -9 safety."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest

from synapsectl.client import RpcError
from synapsed import protocol as p
from tests.support.daemon import DaemonProcess
from tests.support.fake_upstream import Canned, FakeUpstream, openai_error

KEY = "sk-proj-Usage7Qx2LmN8pVw4ZtY6bHc1DfG"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai", model="gpt-4o-mini").start()
    yield fake
    fake.stop()


@pytest.fixture
def wired(daemon_proc: DaemonProcess, upstream: FakeUpstream) -> DaemonProcess:
    daemon_proc.env["USAGE_KEY"] = KEY
    daemon = daemon_proc.start()
    added = daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "gpt-4o-mini",
                       "--base-url", upstream.base_url, "--credential", "env:USAGE_KEY")
    assert added.returncode == 0, added.stderr
    return daemon


def _rows(daemon: DaemonProcess) -> list[dict]:
    with sqlite3.connect(f"file:{daemon.paths.ledger_file}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM requests ORDER BY id")]


def test_every_request_gets_a_row_with_status_kind_and_cost_source(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    assert wired.ctl("test", "gpt", "one").returncode == 0
    upstream.reply_chat(openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded"))
    assert wired.ctl("test", "gpt", "two").returncode == 1
    upstream.reply_chat(openai_error(500, "boom", "server_error"))
    assert wired.ctl("test", "gpt", "three").returncode == 1
    wired.ctl("connections", "disable", "gpt")
    assert wired.ctl("test", "gpt", "four").returncode == 1
    rows = _rows(wired)
    assert [(r["status"], r["error_kind"]) for r in rows] == [
        ("ok", None), ("error", "rate_limited"), ("error", "upstream_error"), ("refused", "connection_disabled")]
    ok = rows[0]
    assert ok["caller"] == "synapsectl" and ok["model_reported"] == "served-model"
    assert ok["input_tokens"] == 12 and ok["output_tokens"] == 3
    assert ok["cost_source"] == "ESTIMATED" and ok["price_version"].startswith("builtin:")
    assert ok["cost_usd"] == pytest.approx((12 * 0.15 + 3 * 0.60) / 1e6)
    assert KEY[8:20] not in wired.paths.ledger_file.read_bytes().decode("latin-1")


def test_budget_refusal_is_recorded_and_explained(wired: DaemonProcess) -> None:
    text = wired.paths.config_file.read_text()
    wired.paths.config_file.write_text(text + "\n[connections.gpt.budget]\ndaily_tokens = 20\nmode = \"block\"\n")
    assert wired.ctl("reload").returncode == 0
    assert wired.ctl("test", "gpt", "a").returncode == 0
    assert wired.ctl("test", "gpt", "b").returncode == 0
    refused = wired.ctl("test", "gpt", "c", "--json")
    error = json.loads(refused.stdout)["error"]
    assert error["kind"] == "budget_exceeded" and "resets at" in error["hint"] and error["limit"] == 20
    assert _rows(wired)[-1]["status"] == "refused"
    status = wired.ctl("status").stdout
    assert "block: daily 30/20 tok OVER" in status


def test_summary_history_export_chart_prices_and_clear(wired: DaemonProcess, upstream: FakeUpstream, short_tmp) -> None:
    for i in range(5):
        assert wired.ctl("test", "gpt", f"q{i}").returncode == 0
    upstream.reply_chat(openai_error(429, "slow down", "requests", "rate_limit_exceeded"))
    wired.ctl("test", "gpt", "fails")

    summary = wired.ctl("usage")
    assert summary.returncode == 0, summary.stderr
    gpt_line = next(line for line in summary.stdout.splitlines() if line.startswith("gpt "))
    assert "<$0.0001" in gpt_line and "75" in gpt_line  # 5 x 15 tokens at a tiny price: never "$0.0000"

    page = json.loads(wired.ctl("usage", "history", "--limit", "2", "--json").stdout)
    assert page["total"] == 6 and len(page["rows"]) == 2 and page["next_offset"] == 2
    failed = json.loads(wired.ctl("usage", "history", "--status", "error", "--json").stdout)
    assert failed["total"] == 1 and failed["rows"][0]["error_kind"] == "rate_limited"
    assert "1-2 of 6; next page: --offset 2" in wired.ctl("usage", "history", "--limit", "2").stdout

    out = short_tmp / "usage.csv"
    exported = wired.ctl("usage", "export", "--format", "csv", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    parsed = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(parsed) == 6 and {r["status"] for r in parsed} == {"ok", "error"}
    jsonl = wired.ctl("usage", "export", "--format", "jsonl", "--status", "ok")
    assert len([json.loads(line) for line in jsonl.stdout.splitlines()]) == 5

    chart = wired.ctl("usage", "chart", "--days", "3", "--metric", "tokens")
    assert chart.returncode == 0 and "legend: █ gpt" in chart.stdout and "│" in chart.stdout

    prices = wired.ctl("usage", "prices")
    assert "openai/gpt-4o-mini" in prices.stdout and "builtin:" in prices.stdout

    assert wired.ctl("usage", "clear").returncode == 2  # no terminal to confirm on, no --yes
    kept = wired.ctl("usage", "clear", "--before", "2000-01-01", "--yes", "--json")
    assert json.loads(kept.stdout)["deleted"] == 0
    cleared = wired.ctl("usage", "clear", "--yes", "--json")
    assert json.loads(cleared.stdout)["deleted"] == 6
    assert _rows(wired) == []


def test_kill9_during_a_burst_of_200_keeps_every_acknowledged_row(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    ok = upstream.family.chat_ok("pong")
    upstream.reply_chat(Canned(200, ok.json, delay=0.005))
    acknowledged = 0
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        nonlocal acknowledged
        for _ in range(25):
            if stop.is_set():
                return
            try:
                wired.client.chat_complete(p.ChatParams(name="gpt", prompt="burst"))
            except (RpcError, OSError, Exception):  # the daemon vanished mid-request
                return
            with lock:
                acknowledged += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]  # 8 x 25 = 200 requests
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while acknowledged < 100 and time.monotonic() < deadline:
        time.sleep(0.005)
    wired.kill9()
    stop.set()
    for thread in threads:
        thread.join(15)
    rows = [r for r in _rows(wired) if r["status"] == "ok"]
    assert acknowledged >= 100
    # Every acknowledged request has its row; at most the 8 in flight have a row without a reply.
    assert acknowledged <= len(rows) <= acknowledged + len(threads)
    wired.start()
    assert json.loads(wired.ctl("usage", "history", "--limit", "1", "--json").stdout)["total"] == len(_rows(wired))


def test_rows_an_older_synapsed_left_are_folded_in_at_start_and_the_totals_match(daemon_proc: DaemonProcess) -> None:
    """A ledger filled while the daemon was stopped, as synapsed before the rollups left it."""
    import sqlite3
    import time as _time

    from synapsed.usage.ledger import COLUMNS, MIGRATIONS, migrate

    daemon_proc.paths.state_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(daemon_proc.paths.ledger_file, isolation_level=None)
    migrate(conn, MIGRATIONS[:4])
    now = _time.time()
    rows = [(now - i * 97.0, ["gpt", "claude"][i % 2], "openai", "m", None, "mcp:cursor", None, "ok", None, 10.0,
             100 + i, 7, 0.001, "ESTIMATED", None, None, None, None, None) for i in range(3000)]
    old = COLUMNS[:COLUMNS.index("undelivered")]  # schema 4 had no later columns
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO requests ({', '.join(old)}) VALUES ({', '.join('?' * len(old))})", rows)
    conn.execute("COMMIT")
    conn.close()
    daemon_proc.start()
    deadline = _time.monotonic() + 30
    while True:
        result = daemon_proc.ctl("usage", "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        if "catching_up" not in data["30d"] or _time.monotonic() > deadline:
            break
        _time.sleep(0.2)
    assert data["30d"]["totals"]["requests"] == 3000
    assert data["30d"]["totals"]["input_tokens"] == sum(100 + i for i in range(3000))
    by_connection = {r["key"]: r["requests"] for r in data["30d"]["rows"]}
    assert by_connection == {"gpt": 1500, "claude": 1500}
    assert "usage rollups: folding" in daemon_proc.stderr()


async def test_the_console_shows_the_same_figures_as_the_cli_over_a_large_ledger(daemon_proc: DaemonProcess) -> None:
    import random
    import re
    import sqlite3
    import time as _time

    from synapsed.usage.ledger import COLUMNS, MIGRATIONS, migrate
    from tests.e2e.mcp_support import start_with_mcp
    from tests.support.console import http_session, origin, sign_in

    daemon_proc.paths.state_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(daemon_proc.paths.ledger_file, isolation_level=None)
    migrate(conn, MIGRATIONS)
    rng, now = random.Random(3), _time.time()
    rows = []
    for _ in range(40_000):
        status = rng.choice(["ok"] * 18 + ["error", "refused"])
        rows.append((now - rng.random() * 60 * 86400, rng.choice(["gpt", "claude", "gem"]), "openai", "m", None,
                     rng.choice(["mcp:cursor", "synapsectl"]), None, status, None if status == "ok" else "rate_limited",
                     10.0, rng.randrange(1, 500), rng.randrange(1, 90), round(rng.random() / 100, 6), "ESTIMATED", None,
                     None, None, None, None, None, None, None))
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    conn.execute("COMMIT")
    conn.close()
    daemon = start_with_mcp(daemon_proc)
    cli = json.loads(daemon.ctl("usage", "--json").stdout)["30d"]
    async with http_session() as session:
        await sign_in(session, daemon)
        async with session.get(origin(daemon) + "/console/usage?since=30d") as page:
            html = await page.text()
    shown = {m.group(1): [int(m.group(i).replace(",", "")) for i in range(2, 6)]
             for m in re.finditer(r'<tr><th scope="row">(gpt|claude|gem)</th><td>([\d,]+)</td><td>([\d,]+)</td>'
                                  r'<td>([\d,]+)</td><td>([\d,]+)</td>', html)}
    expected = {r["key"]: [r["requests"], r["errors"], r["refused"], r["input_tokens"] + r["output_tokens"]]
                for r in cli["rows"]}
    assert shown == expected and sum(v[0] for v in expected.values()) > 15_000


def test_history_filters_by_the_model_it_shows_or_the_one_asked_for(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    assert wired.ctl("test", "gpt", "hi").returncode == 0
    shown = json.loads(wired.ctl("usage", "history", "--json").stdout)["rows"][0]
    for model in {shown["model_reported"], shown["model_requested"]}:
        page = json.loads(wired.ctl("usage", "history", "--model", model, "--json").stdout)
        assert page["total"] >= 1, model
