"""Hourly rollups of the ledger, so that summaries, charts and budgets cost the same at a
million rows as at a thousand.

- `rollup_hour` holds one row per UTC hour × connection × caller × provider × requested model ×
  model that answered × status × error kind × cost source: requests, tokens (reasoning and cache
  too), cost and latency sums. A trigger on `requests` folds each new row into it in the row's
  own transaction, whoever writes the row (the daemon, a test, a script).
- Rows that were in the ledger before the trigger existed (an older synapsed wrote them, a
  restored backup holds them) are folded in at start, in batches on a thread of their own, up to
  `backfill_until`; `folded_upto` is the watermark. Until it reaches the end, summaries are right
  for every row written since and for the rows folded so far, and say that they are catching up.
- A summary over [since, until) reads whole hours from the rollups and the partial hours at its
  two edges from the raw rows (the ts index finds them), so it equals a scan of the raw rows.
- Local days are built from UTC hours (`date(hour*3600, 'unixepoch', 'localtime')`), so a change
  of time zone or DST needs no rebuild. In the few zones whose offset is not a whole hour (India,
  Nepal, Chatham) an hour that straddles local midnight is counted in the day it starts in.
- Retention (`[usage] keep_rows_days`) prunes raw rows only: rollups stay, so totals and
  long-range charts survive. Edges older than the kept rows are read from the rollups whole.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from synapsed.logging import get_logger

log = get_logger("synapsed.usage")

HOUR = 3600
DAY = 86400
# The partial indexes' condition; a query that wants them repeats it word for word (SQLite uses a
# partial index only where the query's WHERE visibly implies the index's).
NOT_OK = "status <> 'ok'"
BACKFILL_BATCH = 50_000
KEY_COLUMNS = ("hour", "connection", "caller", "provider", "model_requested", "model", "status", "error_kind",
               "cost_source")
SUM_COLUMNS = ("requests", "input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
               "cache_write_tokens", "cost_usd", "latency_ms_sum", "latency_count")

# What one raw row contributes, as SELECT expressions over `requests` (or a trigger's NEW.).
def _contribution(r: str) -> tuple[str, ...]:
    return (
        f"CAST({r}ts / {HOUR} AS INTEGER)", f"{r}connection", f"{r}caller", f"{r}provider", f"{r}model_requested",
        f"COALESCE({r}model_reported, {r}model_requested)", f"{r}status", f"COALESCE({r}error_kind, '')",
        f"{r}cost_source",
    )


def _sums(r: str, aggregate: bool) -> tuple[str, ...]:
    def s(expr: str) -> str:
        return f"SUM({expr})" if aggregate else expr

    return (s("1"), s(f"COALESCE({r}input_tokens, 0)"), s(f"COALESCE({r}output_tokens, 0)"),
            s(f"COALESCE({r}reasoning_tokens, 0)"), s(f"COALESCE({r}cache_read_tokens, 0)"),
            s(f"COALESCE({r}cache_write_tokens, 0)"), s(f"COALESCE({r}cost_usd, 0)"),
            s(f"COALESCE({r}latency_ms, 0)"), s(f"({r}latency_ms IS NOT NULL)"))


DAY_KEY_COLUMNS = ("day", *KEY_COLUMNS[1:])


def _table(name: str, keys: tuple[str, ...]) -> str:
    """A rollup table: its time bucket and the dimensions (text) as the key, then the sums."""
    columns = [f"{keys[0]} INTEGER NOT NULL", *(f"{k} TEXT NOT NULL" for k in keys[1:]),
               *(f'{c} {"REAL" if c in ("cost_usd", "latency_ms_sum") else "INTEGER"} NOT NULL DEFAULT 0'
                 for c in SUM_COLUMNS)]
    return f"CREATE TABLE {name} ({', '.join(columns)}, PRIMARY KEY ({', '.join(keys)})) WITHOUT ROWID"


MIGRATION_DAY_TABLE = _table("rollup_day", DAY_KEY_COLUMNS)

_UPSERT_TAIL = (f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET "
                + ", ".join(f"{c} = {c} + excluded.{c}" for c in SUM_COLUMNS))
_INSERT_HEAD = f"INSERT INTO rollup_hour ({', '.join(KEY_COLUMNS + SUM_COLUMNS)}) "

# Migration 5 of the ledger (usage/ledger.py): the table, its state, the trigger.
MIGRATION: tuple[str, ...] = (
    _table("rollup_hour", KEY_COLUMNS),
    # The same sums per UTC day, derived from the hourly rows of days that are over (day_upto is the
    # first day not yet derived): long summaries that need no local days (by connection, by
    # client, totals) read 90 rows where the hours would be 2,160.
    MIGRATION_DAY_TABLE,
    "CREATE TABLE rollup_state (id INTEGER PRIMARY KEY CHECK (id = 1), folded_upto INTEGER NOT NULL, "
    "backfill_until INTEGER NOT NULL, day_upto INTEGER NOT NULL DEFAULT 0)",
    # Rows already here when the trigger arrives are the backfill's; every later one the trigger's.
    "INSERT INTO rollup_state (id, folded_upto, backfill_until) VALUES (1, 0, COALESCE((SELECT MAX(id) FROM requests), 0))",
    # A row dated into a day already derived (a script, a restored backup) sends that day and the
    # ones after it back to be derived again; the daemon's own rows are dated now and never do.
    f"""CREATE TRIGGER requests_rollup_late AFTER INSERT ON requests
        WHEN NEW.ts < (SELECT day_upto FROM rollup_state WHERE id = 1) * {DAY} BEGIN
        DELETE FROM rollup_day WHERE day >= CAST(NEW.ts / {DAY} AS INTEGER);
        UPDATE rollup_state SET day_upto = CAST(NEW.ts / {DAY} AS INTEGER) WHERE id = 1;
    END""",
    f"""CREATE TRIGGER requests_rollup AFTER INSERT ON requests BEGIN
        {_INSERT_HEAD} VALUES ({', '.join(_contribution('NEW.') + _sums('NEW.', aggregate=False))})
        {_UPSERT_TAIL};
    END""",
    # A summary filtered by connection or client over a long range reads only their rollup rows.
    # Updating a rollup's sums (nearly every insert) leaves these untouched.
    "CREATE INDEX rollup_hour_connection ON rollup_hour (connection, hour)",
    "CREATE INDEX rollup_hour_caller ON rollup_hour (caller, hour)",
    # What the history filters on, beyond the (connection, ts) and (caller, ts) indexes of migration 2:
    # errors and refusals. Partial (the 95 % of rows that are ok are not in them), so an insert of an
    # ok row costs nothing more; a filter on ok rows reads the ts or connection index instead.
    f"CREATE INDEX requests_status_ts ON requests (status, ts) WHERE {NOT_OK}",
    f"CREATE INDEX requests_connection_status_ts ON requests (connection, status, ts) WHERE {NOT_OK}",
)


@dataclass(frozen=True)
class Progress:
    folded_upto: int
    backfill_until: int

    @property
    def done(self) -> bool:
        return self.folded_upto >= self.backfill_until


def progress(conn: sqlite3.Connection) -> Progress:
    row = conn.execute("SELECT folded_upto, backfill_until FROM rollup_state WHERE id = 1").fetchone()
    return Progress(*row) if row else Progress(0, 0)


def fold_batch(conn: sqlite3.Connection, batch: int = BACKFILL_BATCH) -> Progress:
    """Fold the next `batch` rows of the backfill (one transaction, watermark included)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        start = progress(conn)
        if start.done:
            conn.execute("COMMIT")
            return start
        upto = min(start.folded_upto + batch, start.backfill_until)
        conn.execute(
            f"{_INSERT_HEAD} SELECT {', '.join(_contribution('') + _sums('', aggregate=True))} FROM requests "
            f"WHERE id > ? AND id <= ? GROUP BY {', '.join(_contribution(''))} {_UPSERT_TAIL}",
            (start.folded_upto, upto),
        )
        conn.execute("UPDATE rollup_state SET folded_upto = ? WHERE id = 1", (upto,))
        conn.execute("COMMIT")
        return Progress(upto, start.backfill_until)
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def backfill(connect: Callable[[], sqlite3.Connection], stop: Callable[[], bool]) -> Progress:
    """Fold every row written before the rollups existed, logging progress; stops early on `stop`."""
    conn = connect()
    try:
        state = progress(conn)
        if state.done:
            return state
        started, first = time.monotonic(), state.folded_upto
        log.info("usage rollups: folding rows written before them", rows=state.backfill_until - first)
        last_log = started
        while not state.done and not stop():
            state = fold_batch(conn)
            if time.monotonic() - last_log >= 5 or state.done:
                last_log = time.monotonic()
                log.info("usage rollups: folding", folded=state.folded_upto - first, of=state.backfill_until - first,
                         elapsed_s=round(last_log - started, 1))
        return state
    finally:
        conn.close()


def derive_days(conn: sqlite3.Connection, now: float | None = None) -> int:
    """Sum the hourly rollups of every UTC day that is over into rollup_day (one transaction);
    returns the new day_upto. Waits while older rows are still being folded in."""
    today = int((now or time.time()) // DAY)
    conn.execute("BEGIN IMMEDIATE")
    try:
        state = progress(conn)
        upto = conn.execute("SELECT day_upto FROM rollup_state WHERE id = 1").fetchone()[0]
        if not state.done or upto >= today:
            conn.execute("COMMIT")
            return int(upto)
        keys = ", ".join(KEY_COLUMNS[1:])
        conn.execute(
            f"INSERT INTO rollup_day ({', '.join(DAY_KEY_COLUMNS + SUM_COLUMNS)}) "
            f"SELECT hour / 24, {keys}, {', '.join(f'SUM({c})' for c in SUM_COLUMNS)} FROM rollup_hour "
            f"WHERE hour >= ? AND hour < ? GROUP BY hour / 24, {keys} "
            f"ON CONFLICT ({', '.join(DAY_KEY_COLUMNS)}) DO UPDATE SET "
            + ", ".join(f"{c} = {c} + excluded.{c}" for c in SUM_COLUMNS),
            (upto * 24, today * 24),
        )
        conn.execute("UPDATE rollup_state SET day_upto = ? WHERE id = 1", (today,))
        conn.execute("COMMIT")
        return today
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def day_upto(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT day_upto FROM rollup_state WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def clear(conn: sqlite3.Connection, before: float | None) -> None:
    """Keep the rollups equal to the rows after `usage clear` deleted rows before `before` (all,
    when None): whole hours go, the hour `before` falls in is rebuilt from the rows left in it."""
    # The days are derived again from the hours that are left.
    conn.execute("DELETE FROM rollup_day")
    conn.execute("UPDATE rollup_state SET day_upto = 0 WHERE id = 1")
    if before is None:
        conn.execute("DELETE FROM rollup_hour")
        conn.execute("UPDATE rollup_state SET folded_upto = backfill_until WHERE id = 1")
        return
    edge = int(before // HOUR)
    conn.execute("DELETE FROM rollup_hour WHERE hour <= ?", (edge,))
    conn.execute(
        f"{_INSERT_HEAD} SELECT {', '.join(_contribution('') + _sums('', aggregate=True))} FROM requests "
        f"WHERE ts >= ? AND ts < ? GROUP BY {', '.join(_contribution(''))} {_UPSERT_TAIL}",
        (edge * HOUR, (edge + 1) * HOUR),
    )


# ---- reading ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """A summary's time range split into raw edges and whole rollup hours."""

    whole: tuple[int, int] | None  # [first hour, last hour) from rollups
    edges: tuple[tuple[float, float], ...]  # [from, to) ts ranges from raw rows


def split(since: float | None, until: float | None, kept_from: float | None = None) -> Span:
    """Whole hours inside [since, until) from the rollups; the partial hours at the edges from
    raw rows, unless those were pruned (older than `kept_from`): then the edge hour is whole."""
    lo_hour = None if since is None else int(-(-since // HOUR))  # ceil
    hi_hour = None if until is None else int(until // HOUR)
    edges: list[tuple[float, float]] = []
    if since is not None and lo_hour is not None and since < lo_hour * HOUR:
        if kept_from is not None and since < kept_from:
            lo_hour -= 1  # the raw rows are gone: count the whole hour
        else:
            edges.append((since, min(lo_hour * HOUR, until if until is not None else lo_hour * HOUR)))
    if until is not None and hi_hour is not None and until > hi_hour * HOUR and (lo_hour is None or hi_hour >= lo_hour):
        edges.append((hi_hour * HOUR, until))
    if lo_hour is not None and hi_hour is not None and hi_hour < lo_hour:
        # since and until inside one hour: that piece is all edge
        return Span(None, ((since, until),) if since is not None and until is not None else tuple(edges))
    return Span((lo_hour if lo_hour is not None else -(2**62), hi_hour if hi_hour is not None else 2**62), tuple(edges))


def row_columns() -> tuple[str, ...]:
    """Raw rows in the rollups' columns: what one request contributes."""
    names = KEY_COLUMNS + SUM_COLUMNS
    return tuple(f"{expr} AS {name}" for expr, name in zip(_contribution("") + _sums("", aggregate=False), names,
                                                           strict=True))
