"""usage/queries.py: filters, summaries, paged history, export, clear."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import msgspec
import pytest

from synapsed.errors import SynapseError
from synapsed.usage import queries
from synapsed.usage.ledger import Ledger
from tests.unit.usage.conftest import KEY, _row  # noqa: F401


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
        first = msgspec.to_builtins(queries.history(conn, queries.Filters(connection="gpt", since="2d"), "-time", 10, 0))
        second = msgspec.to_builtins(queries.history(conn, queries.Filters(connection="gpt", since="2d"), "-time", 10, 10))
        errors = msgspec.to_builtins(queries.history(conn, queries.Filters(status="error"), "-time", 10, 0))
        by_client = msgspec.to_builtins(queries.history(conn, queries.Filters(client="mcp:cursor"), "-time", 10, 0))
        kind = msgspec.to_builtins(queries.history(conn, queries.Filters(error_kind="budget_exceeded"), "time", 10, 0))
    assert first["total"] == 30 and len(first["rows"]) == 10 and first["next_offset"] == 10
    assert first["rows"][0]["time"] > first["rows"][-1]["time"] > second["rows"][0]["time"]
    assert [r["connection"] for r in errors["rows"]] == ["claude"]
    assert by_client["total"] == 1 and kind["rows"][0]["status"] == "refused"


async def test_summary_groups_and_counts_unknown_costs(ledger: Ledger) -> None:
    await _seed(ledger)
    await ledger.record(_row("gpt", model_requested="mystery", model_reported=None, cost_usd=None, cost_source="UNKNOWN"))
    with ledger.reader() as conn:
        by_conn = {r["key"]: r for r in msgspec.to_builtins(queries.summary(conn, queries.Filters(), "connection"))}
        by_day = msgspec.to_builtins(queries.summary(conn, queries.Filters(), "day"))
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




@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
async def test_csv_cells_that_would_run_as_formulas_are_written_as_text(ledger: Ledger, tmp_path: Path, hostile: str) -> None:
    await ledger.record(_row("gpt", model_reported=hostile))
    with ledger.reader() as conn:
        queries.export(conn, queries.Filters(), "csv", tmp_path / "u.csv")
        queries.export(conn, queries.Filters(), "jsonl", tmp_path / "u.jsonl")
    with (tmp_path / "u.csv").open(newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["model_reported"] == "'" + hostile
    # JSON lines carry the value as it was: nothing there runs as a formula.
    assert json.loads((tmp_path / "u.jsonl").read_text())["model_reported"] == hostile


def test_csv_cell_leaves_ordinary_text_and_numbers_alone() -> None:
    assert queries.csv_cell("gpt-4o-mini") == "gpt-4o-mini"
    assert queries.csv_cell(-0.5) == -0.5
    assert queries.csv_cell(None) is None


async def test_export_replaces_a_symlink_instead_of_writing_through_it(ledger: Ledger, tmp_path: Path) -> None:
    await _seed(ledger)
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    target.chmod(0o644)
    link = tmp_path / "u.csv"
    link.symlink_to(target)
    with ledger.reader() as conn:
        queries.export(conn, queries.Filters(), "csv", link)
    assert target.read_text() == "keep me\n" and (target.stat().st_mode & 0o777) == 0o644
    assert not link.is_symlink() and link.read_text().startswith("id,")
    assert (link.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
