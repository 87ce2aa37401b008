"""Reading the ledger: filters, grouped summaries, paged history, CSV / JSON-lines export, clear."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from synapsed.errors import SynapseError
from synapsed.paths import replace_with
from synapsed.protocol import ExportFormat, GroupBy, SortKey, UsageHistory, UsageRecord, UsageSummaryRow
from synapsed.protocol import UsageFilters as Filters
from synapsed.usage import rollups
from synapsed.usage.ledger import COLUMNS, delete_rows_before

EXPORT_COLUMNS = ["id", "time", *[c for c in COLUMNS if c != "ts"]]
_RELATIVE = re.compile(r"(\d{1,6})([hdw])")  # bounded: 10**30 days overflows a float


def parse_when(value: str, field: str, now: float | None = None) -> float:
    now = now or time.time()
    value = value.strip()
    if match := _RELATIVE.fullmatch(value):
        amount, unit = int(match.group(1)), match.group(2)
        return now - amount * {"h": 3600, "d": 86400, "w": 7 * 86400}[unit]
    if value == "today":
        return datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    try:
        return datetime.fromisoformat(value).timestamp()  # naive values are local time
    except ValueError:
        raise SynapseError("bad_request", f"cannot read {field} {value!r} as a time",
                           hint="use YYYY-MM-DD, an ISO date-time, 'today', or a span like 24h, 7d, 2w", field=field) from None


def _match(filters: Filters, model_expr: str) -> tuple[list[str], list[Any]]:
    """The non-time filters, over raw rows or rollups. --model matches the requested id or the
    one that answered (`usage history` shows the latter)."""
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("connection", filters.connection), ("caller", filters.client), ("status", filters.status),
                          ("error_kind", filters.error_kind)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if filters.model is not None:
        clauses.append(f"(model_requested = ? OR {model_expr} = ?)")
        args += [filters.model, filters.model]
    return clauses, args


def _times(filters: Filters) -> tuple[float | None, float | None]:
    return (parse_when(filters.since, "since") if filters.since else None,
            parse_when(filters.until, "until") if filters.until else None)


def where(filters: Filters) -> tuple[str, list[Any]]:
    """The filters over raw rows (history, export)."""
    since, until = _times(filters)
    clauses, args = _match(filters, "model_reported")
    if filters.status is not None and filters.status != "ok":
        clauses.append(rollups.NOT_OK)  # lets the partial (status, ts) indexes serve it
    if since is not None:
        clauses.append("ts >= ?")
        args.append(since)
    if until is not None:
        clauses.append("ts < ?")
        args.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


_GROUP_SQL = {
    "connection": "connection",
    "model": "model",
    "client": "caller",
    "provider": "provider",
    "status": "status",
    "day": "date(hour * 3600, 'unixepoch', 'localtime')",
    "day_connection": "date(hour * 3600, 'unixepoch', 'localtime') || ' ' || connection",
}
_UNIFIED = ", ".join(rollups.KEY_COLUMNS + rollups.SUM_COLUMNS)


_UNIFIED_DAYS = ", ".join(("day * 24 AS hour", *rollups.KEY_COLUMNS[1:], *rollups.SUM_COLUMNS))


def _sources(filters: Filters, kept_from: float | None, days: int = 0) -> tuple[str, list[Any]]:
    parts = _parts(filters, kept_from, days)
    return " UNION ALL ".join(sql for sql, _ in parts), [a for _, args in parts for a in args]


def _parts(filters: Filters, kept_from: float | None, days: int = 0) -> list[tuple[str, list[Any]]]:
    """The rows a summary reads, as one UNION ALL in the rollups' own columns: the partial hours at
    the edges of [since, until) from raw rows, whole hours from the hourly rollups, and, where
    `days` (rollup_day's day_upto) allows and local days are not asked for, whole UTC days from
    the daily ones."""
    since, until = _times(filters)
    span = rollups.split(since, until, kept_from)
    parts: list[tuple[str, list[Any]]] = []
    if span.whole is not None:
        clauses, match_args = _match(filters, "model")
        where = "".join(f" AND {c}" for c in clauses)
        lo, hi = span.whole
        first_day, end_day = -(-lo // 24), min(hi // 24, days)
        hour_ranges = [(lo, hi)]
        if end_day > first_day:
            parts.append((f"SELECT {_UNIFIED_DAYS} FROM rollup_day WHERE day >= ? AND day < ?{where}",
                          [first_day, end_day, *match_args]))
            hour_ranges = [(lo, first_day * 24), (end_day * 24, hi)]
        for h_lo, h_hi in hour_ranges:
            if h_hi > h_lo:
                parts.append((f"SELECT {_UNIFIED} FROM rollup_hour WHERE hour >= ? AND hour < ?{where}",
                              [h_lo, h_hi, *match_args]))
    for edge_lo, edge_hi in span.edges:
        clauses, match_args = _match(filters, "COALESCE(model_reported, model_requested)")
        parts.append((f"SELECT {', '.join(rollups.row_columns())} FROM requests WHERE ts >= ? AND ts < ?"
                       + "".join(f" AND {c}" for c in clauses), [edge_lo, edge_hi, *match_args]))
    return parts


# What a summary adds up, over rows in the rollups' columns.
_PARTIAL = (
    ("requests", "SUM(requests)"), ("ok", "SUM(CASE WHEN status='ok' THEN requests END)"),
    ("errors", "SUM(CASE WHEN status='error' THEN requests END)"),
    ("refused", "SUM(CASE WHEN status='refused' THEN requests END)"),
    ("input_tokens", "SUM(input_tokens)"), ("output_tokens", "SUM(output_tokens)"), ("cost_usd", "SUM(cost_usd)"),
    ("unknown", "SUM(CASE WHEN status='ok' AND cost_source='UNKNOWN' THEN requests END)"),
    ("actual", "SUM(CASE WHEN cost_source='ACTUAL' THEN requests END)"),
    ("estimated", "SUM(CASE WHEN cost_source='ESTIMATED' THEN requests END)"),
    ("reasoning_tokens", "SUM(reasoning_tokens)"), ("cache_read_tokens", "SUM(cache_read_tokens)"),
    ("cache_write_tokens", "SUM(cache_write_tokens)"),
)
_PARTIAL_NAMES = [name for name, _ in _PARTIAL]
_PARTIAL_SUMS = ", ".join(f"{expr} AS {name}" for name, expr in _PARTIAL)
_PARTIAL_SUMS_ONLY = ", ".join(expr for _, expr in _PARTIAL)


def summary(conn: sqlite3.Connection, filters: Filters, group_by: GroupBy,
            kept_from: float | None = None) -> list[UsageSummaryRow]:
    """Grouped totals from the rollups (raw rows only at the range's partial edges)."""
    key = _GROUP_SQL[group_by]
    if group_by.startswith("day"):
        # Each part summed per hour (and connection) first, in the rollups' own order (no sort), so
        # date() runs once per hour, not once per rollup row: a 90-day chart reads ~2,000 sums.
        inner_key = "hour, connection" if group_by == "day_connection" else "hour"
        parts = _parts(filters, kept_from)
        source = " UNION ALL ".join(f"SELECT {inner_key}, {_PARTIAL_SUMS} FROM ({sql}) GROUP BY {inner_key}"
                                    for sql, _ in parts)
        args = [a for _, part_args in parts for a in part_args]
        sums = ", ".join(f"SUM({name})" for name in _PARTIAL_NAMES)
    else:
        source, args = _sources(filters, kept_from, rollups.day_upto(conn))
        sums = _PARTIAL_SUMS_ONLY
    if not source:
        return []
    rows = conn.execute(f"SELECT {key} AS k, {sums} FROM ({source}) GROUP BY k HAVING SUM(requests) > 0 ORDER BY k",
                        args).fetchall()
    return [
        UsageSummaryRow(key=k, requests=n, ok=ok or 0, errors=err or 0, refused=ref or 0, input_tokens=tin or 0,
                        output_tokens=tout or 0, cost_usd=round(cost or 0.0, 6), unknown_cost_requests=unknown or 0,
                        actual_cost_requests=actual or 0, estimated_cost_requests=estimated or 0,
                        reasoning_tokens=reasoning or 0, cache_read_tokens=read or 0, cache_write_tokens=written or 0)
        for k, n, ok, err, ref, tin, tout, cost, unknown, actual, estimated, reasoning, read, written in rows
    ]


def cache_reads(conn: sqlite3.Connection, filters: Filters, kept_from: float | None = None) -> list[tuple[str, str, str, int]]:
    """(provider, model requested, model, cache-read tokens) over the rollups: what caching saved
    is priced from these (the price table knows what each token would have cost uncached)."""
    source, args = _sources(filters, kept_from, rollups.day_upto(conn))
    if not source:
        return []
    rows = conn.execute(f"SELECT provider, model_requested, model, SUM(cache_read_tokens) FROM ({source}) "
                        "GROUP BY provider, model_requested, model HAVING SUM(cache_read_tokens) > 0", args).fetchall()
    return [(p, requested, model or "", int(n)) for p, requested, model, n in rows]


def undelivered(conn: sqlite3.Connection, filters: Filters) -> tuple[int, float]:
    """How many answers matching `filters` never reached their client, and their cost: raw rows
    (the flag comes after the row, so the rollups do not hold it) over a partial index."""
    clause, args = where(filters)
    clause = (clause + " AND " if clause else " WHERE ") + "undelivered = 1"
    n, cost = conn.execute(f"SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM requests{clause}", args).fetchone()
    return int(n), round(float(cost), 6)


def count(conn: sqlite3.Connection, filters: Filters, kept_from: float | None = None) -> int:
    """How many requests match, from the rollups (what history's total shows without a scan)."""
    source, args = _sources(filters, kept_from, rollups.day_upto(conn))
    if not source:
        return 0
    return int(conn.execute(f"SELECT COALESCE(SUM(requests), 0) FROM ({source})", args).fetchone()[0])


_SORT_SQL = {"time": "ts ASC, id ASC", "-time": "ts DESC, id DESC", "cost": "cost_usd ASC, id ASC",
             "-cost": "cost_usd DESC, id DESC", "latency": "latency_ms ASC, id ASC", "-latency": "latency_ms DESC, id DESC"}


def _row(record: tuple[Any, ...]) -> dict[str, Any]:
    data = dict(zip(["id", *COLUMNS], record, strict=True))
    data["time"] = datetime.fromtimestamp(data.pop("ts")).astimezone().isoformat(timespec="milliseconds")
    return {k: data[k] for k in EXPORT_COLUMNS}


def history(conn: sqlite3.Connection, filters: Filters, sort: SortKey, limit: int, offset: int,
            total_from_rollups: bool = False) -> UsageHistory:
    clause, args = where(filters)
    if total_from_rollups:
        total = count(conn, filters)
    else:
        total = conn.execute(f"SELECT COUNT(*) FROM requests{clause}", args).fetchone()[0]
    records = conn.execute(
        f"SELECT id, {', '.join(COLUMNS)} FROM requests{clause} ORDER BY {_SORT_SQL[sort]} LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ).fetchall()
    next_offset = offset + len(records) if offset + len(records) < total else None
    return UsageHistory(total=total, offset=offset, next_offset=next_offset, rows=[UsageRecord(**_row(r)) for r in records])


def iter_rows(conn: sqlite3.Connection, filters: Filters) -> Iterator[dict[str, Any]]:
    clause, args = where(filters)
    cursor = conn.execute(f"SELECT id, {', '.join(COLUMNS)} FROM requests{clause} ORDER BY ts, id", args)
    for record in cursor:
        yield _row(record)


def export(conn: sqlite3.Connection, filters: Filters, fmt: ExportFormat, path: Path) -> int:
    """Write the rows to a new 0600 file beside `path`, then rename it over `path`: a symlink at
    `path` is replaced, never followed (its target keeps its content and mode), and a failed
    export leaves the old file."""
    return replace_with(path, lambda handle: _write_rows(handle, conn, filters, fmt), newline="")


def _write_rows(handle: TextIO, conn: sqlite3.Connection, filters: Filters, fmt: ExportFormat) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for row in iter_rows(conn, filters):
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
            count += 1
    else:
        for row in iter_rows(conn, filters):
            handle.write(json.dumps(row, separators=(",", ":")) + "\n")
            count += 1
    return count


# What a spreadsheet reads as the start of a formula (OWASP's CSV injection list). A model name
# is the provider's text: "=HYPERLINK(...)" from a hostile upstream must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with ' so it shows as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


CLEAR_BATCH = 20_000


def clear(conn: sqlite3.Connection, before: float | None) -> int:
    """Delete in batches: the daemon's own inserts wait at most one batch for the write lock."""
    cutoff = before if before is not None else float("inf")
    deleted = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        batch = delete_rows_before(conn, cutoff, CLEAR_BATCH)
        if batch < CLEAR_BATCH:
            # The last batch and the rollups in one transaction: what is left and its sums agree.
            rollups.clear(conn, before)
        conn.execute("COMMIT")
        deleted += batch
        if batch < CLEAR_BATCH:
            return deleted
