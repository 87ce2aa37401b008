"""The usage ledger: one SQLite (WAL) row per provider request, written off the event loop.

A request's row is committed before its reply leaves the daemon, so `kill -9` loses only the
rows of requests still in flight. One writer thread owns the write connection and commits
whatever has queued up in one transaction (group commit), which keeps the cost per request to
a thread hand-off. Readers open their own connections (WAL lets them run beside the writer).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from synapsed.logging import get_logger

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


COLUMNS = [f.name for f in fields(UsageRow)]
_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to SCHEMA_VERSION; returns the version it started at."""
    start = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > SCHEMA_VERSION:
        raise RuntimeError(f"usage ledger schema {start} is newer than this synapsed ({SCHEMA_VERSION})")
    for version in range(start, SCHEMA_VERSION):
        conn.execute("BEGIN")
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version + 1}")
        conn.execute("COMMIT")
    return start


class Ledger:
    def __init__(self, path: Path, max_pages: int | None = None) -> None:
        self.path = path
        # A size cap in pages (PRAGMA max_page_count); tests use it to make the "disk" full.
        self.max_pages = max_pages
        self._queue: queue.SimpleQueue[tuple[UsageRow, asyncio.Future[bool], asyncio.AbstractEventLoop] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.write_errors = 0
        self.rows_written = 0

    def open(self) -> None:
        conn = connect(self.path)
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives a process crash (kill -9), not a power cut.
        conn.execute("PRAGMA synchronous = NORMAL")
        started = migrate(conn)
        if self.max_pages is not None:
            conn.execute(f"PRAGMA max_page_count = {int(self.max_pages)}")
        if started and started < SCHEMA_VERSION:
            log.info("usage ledger migrated", from_version=started, to_version=SCHEMA_VERSION)
        self.path.chmod(0o600)
        self._thread = threading.Thread(target=self._writer, args=(conn,), name="ledger-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10)
            self._thread = None

    async def record(self, row: UsageRow) -> bool:
        """Queue the row and wait until it is committed; False (and logged) if the write failed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        self._queue.put((row, done, loop))
        return await done

    def _writer(self, conn: sqlite3.Connection) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while True:  # group commit: everything that queued up meanwhile
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._commit(conn, batch)
                    conn.close()
                    return
                batch.append(nxt)
            self._commit(conn, batch)
        conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        ok = True
        try:
            conn.execute("BEGIN")
            conn.executemany(_INSERT, [astuple(row) for row, _, _ in batch])
            conn.execute("COMMIT")
            self.rows_written += len(batch)
        except sqlite3.Error as exc:
            ok = False
            self.write_errors += len(batch)
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            log.error("usage ledger write failed; requests were answered but not recorded", error=str(exc), rows=len(batch))
        for _, future, loop in batch:
            loop.call_soon_threadsafe(_resolve, future, ok)

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


def _resolve(future: asyncio.Future[bool], ok: bool) -> None:
    if not future.done():
        future.set_result(ok)
