"""The ledger, the price table, queries and budgets, in-process against temp files and fakes."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from synapsed.config import Budget, ConfigStore, ConnectionConfig
from synapsed.errors import SynapseError
from synapsed.gateway import Gateway
from synapsed.protocol import ChatRequest, Message
from synapsed.usage import queries
from synapsed.usage.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger, UsageRow
from synapsed.usage.meter import Meter
from synapsed.usage.prices import BUILTIN_VERSION, PriceOverride, PriceTable
from tests.support.fake_upstream import Canned, FakeUpstream

KEY = "sk-test-Us9Qa2Wm7Lr4Tz6Xc1Vb8Nk3"


def _row(connection: str = "gpt", status: str = "ok", ts: float | None = None, **kw: object) -> UsageRow:
    fields: dict[str, object] = dict(
        ts=ts if ts is not None else time.time(), connection=connection, provider="openai", model_requested="gpt-4o-mini",
        model_reported="gpt-4o-mini-2024-07-18", caller="synapsectl", caller_session=None, status=status,
        error_kind=None if status == "ok" else "rate_limited", latency_ms=12.5, input_tokens=10 if status == "ok" else None,
        output_tokens=5 if status == "ok" else None, cost_usd=0.001 if status == "ok" else None,
        cost_source="ESTIMATED" if status == "ok" else "UNKNOWN", price_version=None,
    )
    fields.update(kw)
    return UsageRow(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def ledger(tmp_path: Path):
    led = Ledger(tmp_path / "usage.sqlite3")
    led.open()
    yield led
    led.close()


# ---- ledger ------------------------------------------------------------------------------------

async def test_ledger_is_wal_0600_and_commits_before_returning(ledger: Ledger) -> None:
    assert await ledger.record(_row())
    with ledger.reader() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1
    assert (ledger.path.stat().st_mode & 0o777) == 0o600


async def test_concurrent_records_are_all_committed(ledger: Ledger) -> None:
    results = await asyncio.gather(*(ledger.record(_row(connection=f"c{i % 3}")) for i in range(300)))
    assert all(results) and ledger.rows_written == 300


async def test_write_failure_is_reported_not_raised(ledger: Ledger) -> None:
    with ledger.writer_connection() as conn:
        conn.execute("DROP TABLE requests")
    assert await ledger.record(_row()) is False
    assert ledger.write_errors == 1


def test_migration_from_schema_1_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO requests (ts, connection, provider, model_requested, caller, status, cost_source) "
                 "VALUES (1.0, 'old', 'openai', 'gpt-4o', 'synapsectl', 'ok', 'UNKNOWN')")
    conn.commit()
    conn.close()
    led = Ledger(path)
    led.open()
    led.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        row = check.execute("SELECT connection, caller_session, price_version FROM requests").fetchone()
    assert row == ("old", None, None)


def test_ledger_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this synapsed"):
        Ledger(path).open()


# ---- prices ------------------------------------------------------------------------------------

def test_reported_cost_is_actual() -> None:
    assert PriceTable().cost("openrouter", "x", "x", 10, 5, 0.0123).source == "ACTUAL"


def test_listed_model_is_estimated_with_table_version() -> None:
    cost = PriceTable().cost("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000, None)
    assert cost.source == "ESTIMATED" and cost.usd == pytest.approx(0.75)
    assert cost.price_version == f"builtin:{BUILTIN_VERSION}"


def test_unknown_model_or_missing_tokens_is_unknown_never_guessed() -> None:
    assert PriceTable().cost("openai", "gpt-9-hyper", "gpt-9-hyper", 10, 5, None).source == "UNKNOWN"
    assert PriceTable().cost("openai", "gpt-4o", "gpt-4o", None, 5, None).source == "UNKNOWN"
    assert PriceTable().cost("azure-openai", "gpt-4o", "gpt-4o", 10, 5, None).source == "UNKNOWN"


def test_user_overrides_win_and_wildcards_apply() -> None:
    table = PriceTable({"openai/gpt-4o": PriceOverride(1.0, 2.0), "ollama/*": PriceOverride(0.0, 0.0)})
    assert table.cost("openai", "gpt-4o", "gpt-4o", 1_000_000, 0, None).usd == pytest.approx(1.0)
    local = table.cost("ollama", "llama3.2", "llama3.2", 100, 100, None)
    assert local.source == "ESTIMATED" and local.usd == 0.0 and local.price_version == "config"
    assert table.rows()[0] == {"model": "ollama/*", "input_per_mtok": 0.0, "output_per_mtok": 0.0, "source": "config"}


# ---- queries -----------------------------------------------------------------------------------

async def _seed(ledger: Ledger) -> None:
    now = time.time()
    rows = [_row("gpt", ts=now - 3600 * i) for i in range(30)]
    rows += [_row("claude", provider="anthropic", ts=now - 60, caller="mcp:cursor"), _row("claude", status="error", ts=now - 30)]
    rows += [_row("gpt", status="refused", error_kind="budget_exceeded", ts=now - 10 * 86400)]
    for row in rows:
        await ledger.record(row)


async def test_filters_and_pagination(ledger: Ledger) -> None:
    await _seed(ledger)
    with ledger.reader() as conn:
        first = queries.history(conn, queries.Filters(connection="gpt", since="2d"), "-time", 10, 0)
        second = queries.history(conn, queries.Filters(connection="gpt", since="2d"), "-time", 10, 10)
        errors = queries.history(conn, queries.Filters(status="error"), "-time", 10, 0)
        by_client = queries.history(conn, queries.Filters(client="mcp:cursor"), "-time", 10, 0)
        kind = queries.history(conn, queries.Filters(error_kind="budget_exceeded"), "time", 10, 0)
    assert first["total"] == 30 and len(first["rows"]) == 10 and first["next_offset"] == 10
    assert first["rows"][0]["time"] > first["rows"][-1]["time"] > second["rows"][0]["time"]
    assert [r["connection"] for r in errors["rows"]] == ["claude"]
    assert by_client["total"] == 1 and kind["rows"][0]["status"] == "refused"


async def test_summary_groups_and_counts_unknown_costs(ledger: Ledger) -> None:
    await _seed(ledger)
    await ledger.record(_row("gpt", model_requested="mystery", model_reported=None, cost_usd=None, cost_source="UNKNOWN"))
    with ledger.reader() as conn:
        by_conn = {r["key"]: r for r in queries.summary(conn, queries.Filters(), "connection")}
        by_day = queries.summary(conn, queries.Filters(), "day")
    assert by_conn["gpt"]["ok"] == 31 and by_conn["gpt"]["refused"] == 1
    assert by_conn["gpt"]["unknown_cost_requests"] == 1
    assert by_conn["claude"]["errors"] == 1 and by_conn["claude"]["cost_usd"] == pytest.approx(0.001)
    assert len(by_day) >= 2


async def test_csv_and_jsonl_export_round_trip(ledger: Ledger, tmp_path: Path) -> None:
    await _seed(ledger)
    with ledger.reader() as conn:
        n_csv = queries.export(conn, queries.Filters(), "csv", tmp_path / "u.csv")
        n_jsonl = queries.export(conn, queries.Filters(connection="claude"), "jsonl", tmp_path / "u.jsonl")
    parsed = list(csv.DictReader(io.StringIO((tmp_path / "u.csv").read_text())))
    assert n_csv == len(parsed) == 33
    assert parsed[0].keys() == set(queries.EXPORT_COLUMNS)
    assert {r["connection"] for r in parsed} == {"gpt", "claude"}
    assert [float(r["cost_usd"]) for r in parsed if r["status"] == "ok"][0] == pytest.approx(0.001)
    lines = [json.loads(line) for line in (tmp_path / "u.jsonl").read_text().splitlines()]
    assert n_jsonl == len(lines) == 2 and lines[0]["caller"] == "mcp:cursor"
    assert ((tmp_path / "u.csv").stat().st_mode & 0o777) == 0o600


async def test_clear_with_and_without_before(ledger: Ledger) -> None:
    await _seed(ledger)
    with ledger.writer_connection() as conn:
        assert queries.clear(conn, time.time() - 5 * 86400) == 1
        assert queries.clear(conn, None) == 32


def test_bad_time_is_a_typed_error() -> None:
    with pytest.raises(SynapseError) as caught:
        queries.parse_when("last tuesday", "since")
    assert caught.value.kind == "bad_request" and "24h, 7d" in caught.value.hint


# ---- budgets (through the gateway, against a fake upstream) ------------------------------------

@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()
    yield fake
    fake.stop()


async def _gateway(tmp_path: Path, ledger: Ledger, upstream: FakeUpstream, budget: Budget | None,
                   global_budget: Budget | None = None, model: str = "test-model") -> Gateway:
    store = ConfigStore(tmp_path / "config.toml")
    store.load()
    conn = ConnectionConfig(provider="openai", model=model, base_url=upstream.base_url, credential="env:USAGE_KEY", budget=budget)
    await store.mutate(lambda c: msgspec.structs.replace(c, budget=global_budget, connections={"gpt": conn}))
    meter = Meter(ledger, store)
    await meter.load()
    return Gateway(store, meter=meter)


def _ask(gateway: Gateway):
    return gateway.complete("gpt", ChatRequest([Message("user", "hi")], max_output_tokens=5))


async def test_block_budget_refuses_before_any_upstream_call(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_tokens=30, mode="block"))
    await _ask(gateway)  # 15 tokens
    await _ask(gateway)  # 30 tokens: now used up
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    error = caught.value
    assert error.kind == "budget_exceeded"
    assert "daily 30 tokens budget" in error.message and "resets at" in error.hint
    assert upstream.count("POST", upstream.chat_path) == 2
    with ledger.reader() as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM requests ORDER BY id")]
    assert statuses == ["ok", "ok", "refused"]
    await gateway.close()


async def test_block_budget_under_20_concurrent_requests_admits_only_what_the_limit_allows(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    ok = upstream.family.chat_ok("pong")
    upstream.reply_chat(Canned(200, ok.json, delay=0.2))  # all twenty are in flight together
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_tokens=100, mode="block"))
    await _ask(gateway)  # learn the per-request use: 15 tokens; 85 left
    outcomes = await asyncio.gather(*(_ask(gateway) for _ in range(20)), return_exceptions=True)
    admitted = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, SynapseError) and o.kind == "budget_exceeded"]
    assert len(admitted) + len(refused) == 20
    assert len(admitted) == 6  # 85 tokens left admits requests while under the limit: 6 x 15
    assert gateway.meter.spent("gpt", "daily").tokens == 15 * 7
    await gateway.close()


async def test_monitor_budget_never_blocks_and_warns(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_tokens=10, mode="monitor"))
    results = [r for _, r in [await _ask(gateway) for _ in range(4)]]
    assert all(r.text == "pong" for r in results)
    assert results[0].budget_warnings is None
    assert "monitoring only" in (results[-1].budget_warnings or [""])[0]
    assert gateway.meter.budget_view("gpt", gateway.connection("gpt"))["limits"][0]["over"] is True
    await gateway.close()


async def test_unknown_cost_counts_against_token_limits_only(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_usd=0.000001, daily_tokens=1000, mode="block"))
    for _ in range(3):
        _, result = await _ask(gateway)
        assert result.cost_source == "UNKNOWN"
    assert gateway.meter.spent("gpt", "daily").usd == 0.0
    await gateway.close()


async def test_estimated_cost_counts_against_usd_limits(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_usd=0.000004, mode="block"), model="gpt-4o-mini")
    _, first = await _ask(gateway)
    assert first.cost_source == "ESTIMATED" and first.cost_usd == pytest.approx((12 * 0.15 + 3 * 0.60) / 1e6)
    await _ask(gateway)
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert caught.value.kind == "budget_exceeded" and "$" in caught.value.message
    await gateway.close()


async def test_global_budget_spans_connections(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, None, global_budget=Budget(daily_tokens=15))
    await _ask(gateway)
    with pytest.raises(SynapseError) as caught:
        await _ask(gateway)
    assert "all connections" in caught.value.message
    await gateway.close()


async def test_spend_survives_restart(tmp_path, ledger, upstream, monkeypatch) -> None:
    monkeypatch.setenv("USAGE_KEY", KEY)
    gateway = await _gateway(tmp_path, ledger, upstream, Budget(daily_tokens=30))
    await _ask(gateway)
    await _ask(gateway)
    await gateway.close()
    fresh = Meter(ledger, gateway.config_store)
    await fresh.load()
    assert fresh.spent("gpt", "daily").tokens == 30
