"""The usage ledger: one SQLite (WAL) row per provider request.

A request's row is committed before its reply leaves the daemon, so `kill -9` loses only the
rows of requests still in flight. Writes run on the event loop: in WAL mode with
synchronous=NORMAL a commit is a page-cache write, where handing rows to a writer thread cost
~250 µs per request (two thread wake-ups and a GIL hand-off under load). The commit, about
four fifths of a row's cost (bench/ledger.py), is shared while other requests are in flight:
rows inserted in the same turn of the loop (replies that arrived together) go into one
transaction, committed in the next turn, before any of their requests is answered. A lone
request commits at once: waiting a turn for company would cost it more than the commit.
What can take milliseconds, the WAL checkpoint, runs on a background thread instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path

from synapsed.logging import get_logger
from synapsed.usage import rollups

log = get_logger("synapsed.usage")

# Each step moves the schema from version N to N+1; PRAGMA user_version records where a file is.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the first ledger
        """CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            connection TEXT NOT NULL,
            provider TEXT NOT NULL,
            model_requested TEXT NOT NULL,
            model_reported TEXT,
            caller TEXT NOT NULL,
            status TEXT NOT NULL,
            error_kind TEXT,
            latency_ms REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cost_usd REAL,
            cost_source TEXT NOT NULL
        )""",
        "CREATE INDEX requests_ts ON requests (ts)",
    ),
    (  # 2: which session called, which price table estimated, and per-connection time lookups
        "ALTER TABLE requests ADD COLUMN caller_session TEXT",
        "ALTER TABLE requests ADD COLUMN price_version TEXT",
        "CREATE INDEX requests_connection_ts ON requests (connection, ts)",
        "CREATE INDEX requests_caller_ts ON requests (caller, ts)",
    ),
    (  # 3: the conversation thread a request continued (its id only: the ledger holds no text)
        "ALTER TABLE requests ADD COLUMN thread_id TEXT",
    ),
    (  # 4: of the tokens, those spent reasoning and those read from / written to the prompt cache
        "ALTER TABLE requests ADD COLUMN reasoning_tokens INTEGER",
        "ALTER TABLE requests ADD COLUMN cache_read_tokens INTEGER",
        "ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER",
    ),
    rollups.MIGRATION,  # 5: hourly rollups kept by a trigger, and the indexes history filters on
    (  # 6: an answer the provider gave (and billed) that never reached the client
        "ALTER TABLE requests ADD COLUMN undelivered INTEGER",
        "CREATE INDEX requests_undelivered_ts ON requests (ts) WHERE undelivered = 1",
    ),
    (  # 7: how many workspace files went with the request, and their bytes (never names or content)
        "ALTER TABLE requests ADD COLUMN files INTEGER",
        "ALTER TABLE requests ADD COLUMN file_bytes INTEGER",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class UsageRow:
    ts: float
    connection: str
    provider: str
    model_requested: str
    model_reported: str | None
    caller: str
    caller_session: str | None
    status: str  # ok | error | refused
    error_kind: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    cost_source: str  # ACTUAL | ESTIMATED | UNKNOWN
    price_version: str | None
    thread_id: str | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    undelivered: int | None = None  # 1: answered and billed, but the client never got it
    files: int | None = None
    file_bytes: int | None = None


COLUMNS = [f.name for f in fields(UsageRow)]
# dataclasses.astuple deep-copies every field: a large share of the whole commit.
_values = attrgetter(*COLUMNS)
_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def migrate(conn: sqlite3.Connection, migrations: tuple[tuple[str, ...], ...] = MIGRATIONS,
            what: str = "usage ledger") -> int:
    """Bring the file to len(migrations), each step one transaction; returns the version it
    started at. A file newer than this synapsed is refused (RuntimeError), never downgraded."""
    start = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > len(migrations):
        raise RuntimeError(f"{what} schema {start} is newer than this synapsed ({len(migrations)})")
    for version in range(start, len(migrations)):
        conn.execute("BEGIN")
        for statement in migrations[version]:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version + 1}")
        conn.execute("COMMIT")
    return int(start)


def delete_rows_before(conn: sqlite3.Connection, cutoff: float, batch: int) -> int:
    """Delete up to `batch` rows older than `cutoff` in the open transaction: the daemon's own
    inserts wait at most one batch for the write lock (usage clear, retention)."""
    return int(conn.execute("DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE ts < ? LIMIT ?)",
                            (cutoff, batch)).rowcount)


class Ledger:
    CHECKPOINT_EVERY_S = 5.0
    PRUNE_EVERY_S = 3600.0
    DAYS_EVERY_S = 300.0
    PRUNE_BATCH = 20_000

    def __init__(self, path: Path, max_pages: int | None = None, keep_rows_days: Callable[[], int] = lambda: 0) -> None:
        self.path = path
        # [usage] keep_rows_days, read at each prune (a reload applies it).
        self.keep_rows_days = keep_rows_days
        self._last_prune = 0.0
        self._last_days = 0.0
        self.pruned_rows = 0
        # Rows from before the rollups, being folded in at start: (folded, pending) until done.
        self.backfill: rollups.Progress | None = None
        self._catcher_up: threading.Thread | None = None
        # A size cap in pages (PRAGMA max_page_count); tests use it to make the "disk" full.
        self.max_pages = max_pages
        self._conn: sqlite3.Connection | None = None
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        # Requests whose rows sit in the open transaction, each told by the commit how it went.
        self._waiting: list[asyncio.Future[bool]] = []
        self.write_errors = 0
        self.rows_written = 0
        self.commits = 0

    def open(self) -> None:
        conn = connect(self.path)
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives a process crash (kill -9), not a power cut.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints happen off the loop, below
        conn.execute("PRAGMA busy_timeout = 2000")
        started = migrate(conn)
        if started and started < SCHEMA_VERSION:
            log.info("usage ledger migrated", from_version=started, to_version=SCHEMA_VERSION)
        if self.max_pages is not None:
            conn.execute(f"PRAGMA max_page_count = {int(self.max_pages)}")
        self.path.chmod(0o600)
        self._conn = conn
        state = rollups.progress(conn)
        self.backfill = None if state.done else state
        # Rows from before the rollups are folded in, and days that ended while the daemon was
        # stopped are summed, at once rather than in five minutes, off the start-up path (the
        # checkpoint thread's own round of deriving waits its interval, not done twice).
        self._last_days = time.monotonic()
        self._catcher_up = threading.Thread(target=self._catch_up, name="ledger-rollups", daemon=True)
        self._catcher_up.start()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="ledger-checkpoint", daemon=True)
        self._checkpointer.start()

    def _catch_up(self) -> None:
        if self.backfill is not None:
            try:
                self.backfill = rollups.backfill(lambda: connect(self.path), self._stop.is_set)
            except sqlite3.Error as exc:
                log.error("usage rollups: folding stopped; summaries stay short of the older rows until the next "
                          "start", error=str(exc))
                return
            if not self.backfill.done:
                return
            self.backfill = None
        self._derive_days()

    def _derive_days(self) -> None:
        conn = connect(self.path)
        try:
            rollups.derive_days(conn)
        except sqlite3.Error as exc:
            log.warning("usage rollups: deriving days failed; summaries read hours meanwhile", error=str(exc))
        finally:
            conn.close()

    def catching_up(self) -> tuple[int, int] | None:
        """(rows folded, rows to fold) while rows from before the rollups are folded in."""
        state = self.backfill
        return None if state is None or state.done else (state.folded_upto, state.backfill_until)

    def kept_from(self, now: float | None = None) -> float | None:
        """The oldest time raw rows are kept for (None: all are)."""
        days = self.keep_rows_days()
        return None if days <= 0 else (now or time.time()) - days * 86400

    def prune(self, conn: sqlite3.Connection, now: float | None = None) -> int:
        """Delete raw rows older than keep_rows_days, in batches; rollups are kept."""
        cutoff = self.kept_from(now)
        if cutoff is None:
            return 0
        deleted = 0
        while not self._stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            count = delete_rows_before(conn, cutoff, self.PRUNE_BATCH)
            conn.execute("COMMIT")
            deleted += count
            if count < self.PRUNE_BATCH:
                break
        if deleted:
            self.pruned_rows += deleted
            log.info("usage rows pruned (rollups kept)", rows=deleted, keep_rows_days=self.keep_rows_days())
        return deleted

    def close(self) -> None:
        self._stop.set()
        if self._catcher_up is not None:
            self._catcher_up.join(30)
            self._catcher_up = None
        if self._checkpointer is not None:
            self._checkpointer.join(10)
            self._checkpointer = None
        if self._conn is not None:
            if self._waiting:
                self._commit()
            self._conn.close()
            self._conn = None

    async def record(self, row: UsageRow, share_commit: bool = False, receipt: list[int] | None = None) -> bool:
        """Insert the row and return once it is committed; False (and logged) if the write
        failed. Never raises. With `share_commit` (other requests are in flight) the commit
        waits for the rest of this turn of the loop; a cancelled caller's row is still committed.
        The row's id goes into `receipt`, for mark_undelivered."""
        conn = self._conn
        if conn is None:
            return False
        if not share_commit and not conn.in_transaction:
            return self._insert_alone(conn, row, receipt)
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN")
            rowid = conn.execute(_INSERT, _values(row)).lastrowid
            if receipt is not None and rowid is not None:
                receipt.append(rowid)
        except sqlite3.Error as exc:
            if conn.in_transaction:  # only this statement was undone
                self._write_failed(exc, rows=1)
            else:  # SQLite rolled the whole transaction back: the rows waiting in it too
                self._write_failed(exc, rows=1 + len(self._waiting))
                self._settle(False)
            return False
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._commit)
        self._waiting.append(done)
        return await done

    def _insert_alone(self, conn: sqlite3.Connection, row: UsageRow, receipt: list[int] | None) -> bool:
        try:
            rowid = conn.execute(_INSERT, _values(row)).lastrowid  # autocommit: its own transaction
        except sqlite3.Error as exc:
            self._write_failed(exc, rows=1)
            return False
        if receipt is not None and rowid is not None:
            receipt.append(rowid)
        self.commits += 1
        self.rows_written += 1
        return True

    def mark_undelivered(self, rows: list[int]) -> int:
        """The answers recorded as `rows` never reached their client (the write failed, or the
        session was gone): flag them, so usage can show money spent on answers nobody got."""
        conn = self._conn
        if conn is None or not rows:
            return 0
        marks = ",".join("?" for _ in rows)
        try:  # rows still waiting for a shared commit: this joins that transaction
            return conn.execute(f"UPDATE requests SET undelivered = 1 WHERE id IN ({marks})", rows).rowcount
        except sqlite3.Error as exc:
            log.error("usage ledger: could not mark an answer undelivered", error=str(exc), rows=len(rows))
            return 0

    def _commit(self) -> None:
        conn = self._conn
        if not self._waiting or conn is None:
            return
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            self._write_failed(exc, rows=len(self._waiting))
            self._settle(False)
            return
        self.commits += 1
        self.rows_written += len(self._waiting)
        self._settle(True)

    def _settle(self, committed: bool) -> None:
        waiting, self._waiting = self._waiting, []
        for done in waiting:
            if not done.done():
                done.set_result(committed)

    def _write_failed(self, exc: sqlite3.Error, rows: int) -> None:
        self.write_errors += rows
        log.error("usage ledger write failed; the request was answered but not recorded", error=str(exc), rows=rows)

    def _now_and_then(self, conn: sqlite3.Connection, clock: str, every_s: float,
                      task: Callable[[sqlite3.Connection], object], failed: str) -> None:
        """Run `task` on the maintenance connection at most every `every_s`; a failure is logged
        (its transaction rolled back) and tried again next time."""
        if time.monotonic() - getattr(self, clock) < every_s:
            return
        setattr(self, clock, time.monotonic())
        try:
            task(conn)
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            log.warning(failed, error=str(exc))

    def _checkpoint_loop(self) -> None:
        conn = connect(self.path)
        try:
            while not self._stop.wait(self.CHECKPOINT_EVERY_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    log.warning("usage ledger checkpoint failed", error=str(exc))
                if self.backfill is None:
                    self._now_and_then(conn, "_last_days", self.DAYS_EVERY_S, rollups.derive_days,
                                       "usage rollups: deriving days failed")
                self._now_and_then(conn, "_last_prune", self.PRUNE_EVERY_S, self.prune, "usage ledger prune failed")
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
        finally:
            conn.close()

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.path, readonly=True)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def writer_connection(self) -> Iterator[sqlite3.Connection]:
        """A second write connection for maintenance (clear); SQLite serialises it with the writer."""
        conn = connect(self.path)
        try:
            yield conn
        finally:
            conn.close()

