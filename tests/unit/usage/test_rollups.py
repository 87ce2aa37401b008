"""The hourly rollups: every summary, grouping and filter equals a plain scan of the raw rows
(across local-day boundaries in several time zones and a DST change), rows from before the
rollups are folded in, `usage clear` and retention keep them consistent, and the history's
filters use indexes."""

from __future__ import annotations

import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapsed.protocol import UsageFilters
from synapsed.usage import queries, rollups
from synapsed.usage.ledger import COLUMNS, MIGRATIONS, Ledger, UsageRow, migrate
from tests.unit.usage.conftest import _row

GROUPS = ("connection", "model", "client", "provider", "status", "day", "day_connection")
# Whole-hour zones (the rollups' days are exact there), one of them across a DST change.
ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney")
# 2026-03-07 .. 2026-03-10 UTC: New York's clocks go forward on 2026-03-08.
T0 = datetime(2026, 3, 7).timestamp()


@pytest.fixture
def zone(request: pytest.FixtureRequest) -> Iterator[str]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


rows_strategy = st.lists(st.builds(
    lambda offset, connection, caller, status, model, reported, tokens, cost, source: _row(
        connection, status, ts=T0 + offset, caller=caller, model_requested=model, model_reported=reported,
        error_kind=None if status == "ok" else "rate_limited", input_tokens=tokens, output_tokens=tokens // 2,
        cost_usd=cost, cost_source=source, reasoning_tokens=tokens // 4),
    st.floats(min_value=0, max_value=3.5 * 86400, allow_nan=False),
    st.sampled_from(["gpt", "claude", "gem"]), st.sampled_from(["synapsectl", "mcp:cursor", "mcp:claude-code"]),
    st.sampled_from(["ok", "ok", "ok", "error", "refused"]), st.sampled_from(["gpt-4o", "claude-x"]),
    st.sampled_from([None, "gpt-4o-2024", "claude-x-1"]), st.integers(0, 5000),
    st.sampled_from([None, 0.0, 0.001, 0.25]), st.sampled_from(["ESTIMATED", "UNKNOWN", "ACTUAL"])),
    min_size=0, max_size=60)

filters_strategy = st.builds(
    UsageFilters,
    since=st.one_of(st.none(), st.floats(0, 3.5 * 86400).map(lambda s: datetime.fromtimestamp(T0 + s).isoformat())),
    until=st.one_of(st.none(), st.floats(0, 3.6 * 86400).map(lambda s: datetime.fromtimestamp(T0 + s).isoformat())),
    connection=st.one_of(st.none(), st.sampled_from(["gpt", "claude", "nope"])),
    client=st.one_of(st.none(), st.sampled_from(["synapsectl", "mcp:cursor"])),
    status=st.one_of(st.none(), st.sampled_from(["ok", "error", "refused"])),
    model=st.one_of(st.none(), st.sampled_from(["gpt-4o", "claude-x-1"])),
)


def _scan(rows: list[UsageRow], filters: UsageFilters, group_by: str) -> dict[str, dict[str, Any]]:
    """The plain answer: every raw row, grouped in Python."""
    since = datetime.fromisoformat(filters.since).timestamp() if filters.since else None
    until = datetime.fromisoformat(filters.until).timestamp() if filters.until else None
    out: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        answered = r.model_reported or r.model_requested
        if (since is not None and r.ts < since) or (until is not None and r.ts >= until):
            continue
        if filters.connection and r.connection != filters.connection or filters.client and r.caller != filters.client:
            continue
        if filters.status and r.status != filters.status:
            continue
        if filters.model and filters.model not in (r.model_requested, answered):
            continue
        day = time.strftime("%Y-%m-%d", time.localtime(r.ts))
        key = {"connection": r.connection, "model": answered, "client": r.caller, "provider": r.provider,
               "status": r.status, "day": day, "day_connection": f"{day} {r.connection}"}[group_by]
        g = out[key]
        g["requests"] += 1
        g[r.status] += 1
        g["input_tokens"] += r.input_tokens or 0
        g["output_tokens"] += r.output_tokens or 0
        g["reasoning_tokens"] += r.reasoning_tokens or 0
        g["cost_usd"] += r.cost_usd or 0
        g["unknown"] += r.status == "ok" and r.cost_source == "UNKNOWN"
    return out


async def _ledger_with(tmp_path: Path, rows: list[UsageRow]) -> Ledger:
    path = tmp_path / f"usage-{time.monotonic_ns()}.sqlite3"
    ledger = Ledger(path)
    ledger.open()
    for row in rows:
        await ledger.record(row)
    return ledger


def _assert_equal(summary: list[Any], expected: dict[str, dict[str, Any]]) -> None:
    got = {r.key: r for r in summary}
    assert set(got) == set(expected)
    for key, want in expected.items():
        row = got[key]
        assert row.requests == want["requests"]
        assert (row.ok, row.errors, row.refused) == (want["ok"], want["error"], want["refused"])
        assert (row.input_tokens, row.output_tokens) == (want["input_tokens"], want["output_tokens"])
        assert row.reasoning_tokens == want["reasoning_tokens"]
        assert row.unknown_cost_requests == want["unknown"]
        assert row.cost_usd == pytest.approx(want["cost_usd"], abs=1e-6)


@pytest.mark.parametrize("zone", ZONES, indirect=True)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, filters=filters_strategy, group_by=st.sampled_from(GROUPS), days=st.booleans(),
       late=st.lists(rows_strategy.map(lambda rows: rows[:1]), max_size=2))
async def test_every_summary_equals_a_scan_of_the_raw_rows(tmp_path: Path, zone: str, rows: list[UsageRow],
                                                           filters: UsageFilters, group_by: str, days: bool,
                                                           late: list[list[UsageRow]]) -> None:
    ledger = await _ledger_with(tmp_path, rows)
    if days:  # the finished UTC days summed into rollup_day, then rows dated into them arrive late
        with ledger.writer_connection() as conn:
            rollups.derive_days(conn, now=T0 + 10 * 86400)
        for extra in late:
            for row in extra:
                await ledger.record(row)
                rows = [*rows, row]
    try:
        with ledger.reader() as conn:
            summary = queries.summary(conn, filters, group_by)  # type: ignore[arg-type]
            total = queries.count(conn, filters)
    finally:
        ledger.close()
    expected = _scan(rows, filters, group_by)
    _assert_equal(summary, expected)
    assert total == sum(g["requests"] for g in expected.values())


def _old_ledger(path: Path, rows: list[UsageRow]) -> None:
    """A ledger as synapsed before the rollups left it: schema 4, rows, no trigger."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:4])
    names = COLUMNS[:COLUMNS.index("undelivered")]  # schema 4 had no later columns
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO requests ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                     [tuple(getattr(r, c) for c in names) for r in rows])
    conn.execute("COMMIT")
    conn.close()


async def test_rows_from_before_the_rollups_are_folded_in_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollups, "BACKFILL_BATCH", 7)
    old = [_row("gpt", ts=T0 + i * 600, input_tokens=i) for i in range(50)]
    path = tmp_path / "usage.sqlite3"
    _old_ledger(path, old)
    ledger = Ledger(path)
    ledger.open()
    new = _row("claude", ts=T0 + 10, input_tokens=1000)
    await ledger.record(new)  # written while the backfill runs: counted once, by the trigger
    assert ledger._catcher_up is not None
    ledger._catcher_up.join(30)
    assert ledger.catching_up() is None
    with ledger.reader() as conn:
        summary = queries.summary(conn, UsageFilters(), "connection")
    ledger.close()
    _assert_equal(summary, _scan([*old, new], UsageFilters(), "connection"))


async def test_summaries_say_they_are_catching_up_while_folding(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    _old_ledger(path, [_row(ts=T0 + i) for i in range(10)])
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn)
    state = rollups.fold_batch(conn, batch=4)
    conn.close()
    assert (state.folded_upto, state.backfill_until) == (4, 10)


async def test_usage_clear_before_a_time_keeps_rollups_equal_to_the_rows(tmp_path: Path) -> None:
    rows = [_row("gpt", ts=T0 + i * 700) for i in range(40)]
    ledger = await _ledger_with(tmp_path, rows)
    cutoff = T0 + 13_333  # inside an hour
    with ledger.writer_connection() as conn:
        queries.clear(conn, cutoff)
    with ledger.reader() as conn:
        summary = queries.summary(conn, UsageFilters(), "day_connection")
    ledger.close()
    _assert_equal(summary, _scan([r for r in rows if r.ts >= cutoff], UsageFilters(), "day_connection"))


async def test_a_row_dated_into_a_derived_day_sends_that_day_back_to_be_derived(tmp_path: Path) -> None:
    ledger = await _ledger_with(tmp_path, [_row(ts=T0 + i * 3000) for i in range(100)])
    assert ledger._catcher_up is not None
    ledger._catcher_up.join(30)  # its start-up round derives up to the real today; let it finish first
    now = time.time()
    with ledger.writer_connection() as conn:
        assert rollups.derive_days(conn, now=now) >= int(now // 86400)
    late = _row("claude", ts=T0 + 86400 + 5)
    await ledger.record(late)
    with ledger.reader() as conn:
        assert rollups.day_upto(conn) == int(late.ts // 86400)
        summary = queries.summary(conn, UsageFilters(), "connection")
    ledger.close()
    assert {r.key: r.requests for r in summary} == {"gpt": 100, "claude": 1}


async def test_usage_clear_of_everything_empties_the_rollups(tmp_path: Path) -> None:
    ledger = await _ledger_with(tmp_path, [_row(ts=T0 + i) for i in range(5)])
    with ledger.writer_connection() as conn:
        queries.clear(conn, None)
    with ledger.reader() as conn:
        assert queries.summary(conn, UsageFilters(), "connection") == []
        assert conn.execute("SELECT COUNT(*) FROM rollup_hour").fetchone()[0] == 0
    ledger.close()


async def test_retention_prunes_raw_rows_and_keeps_the_totals(tmp_path: Path) -> None:
    now = time.time()
    rows = [_row("gpt", ts=now - 40 * 86400 + i) for i in range(5)] + [_row("gpt", ts=now - 60)]
    path = tmp_path / "usage.sqlite3"
    ledger = Ledger(path, keep_rows_days=lambda: 30)
    ledger.open()
    for row in rows:
        await ledger.record(row)
    with ledger.writer_connection() as conn:
        assert ledger.prune(conn, now) == 5
    with ledger.reader() as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1
        summary = queries.summary(conn, UsageFilters(since="90d"), "connection", ledger.kept_from(now))
    ledger.close()
    assert summary[0].requests == 6


def test_keep_rows_days_is_validated_with_line_and_field() -> None:
    from synapsed.config import parse
    from synapsed.errors import SynapseError

    with pytest.raises(SynapseError) as caught:
        parse("[usage]\nkeep_rows_days = -1\n")
    assert caught.value.detail["field"] == "usage.keep_rows_days" and caught.value.detail["line"] == 2


@pytest.mark.parametrize(("filters", "index"), [
    (UsageFilters(connection="gpt"), "requests_connection"),
    (UsageFilters(connection="gpt", status="error"), "requests_connection_status_ts"),
    (UsageFilters(client="mcp:cursor"), "requests_caller_ts"),
    (UsageFilters(status="error"), "requests_status_ts"),
    (UsageFilters(since="7d"), "requests_ts"),
])
async def test_history_filters_use_an_index_never_a_scan(tmp_path: Path, filters: UsageFilters, index: str) -> None:
    ledger = await _ledger_with(tmp_path, [_row()])
    clause, args = queries.where(filters)
    with ledger.reader() as conn:
        plan = " ".join(str(r) for r in conn.execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM requests{clause} ORDER BY ts DESC, id DESC LIMIT 50", args))
    ledger.close()
    assert index in plan and "SCAN requests" not in plan.replace(f"SCAN requests USING INDEX {index}", "")
