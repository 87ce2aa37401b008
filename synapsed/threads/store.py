"""Where thread text lives: threads.sqlite3 in the state dir (0600, WAL).

One transaction per turn: the exchange (the call's messages and the answer) and the thread's
counters are committed together, before the reply leaves the daemon, so `kill -9` loses no
acknowledged turn and never leaves half of one. Like the ledger, commits run on the event loop:
in WAL mode with synchronous=NORMAL they are page-cache writes of tens of microseconds.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from synapsed.logging import get_logger
from synapsed.protocol import Message
from synapsed.usage.ledger import connect, migrate

log = get_logger("synapsed.threads")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: threads, their turns (who answered, when) and the turns' messages
        """CREATE TABLE threads (
            id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            system TEXT,
            turns INTEGER NOT NULL,
            chars INTEGER NOT NULL,
            title TEXT NOT NULL,
            last_connection TEXT
        )""",
        "CREATE INDEX threads_updated ON threads (updated)",
        """CREATE TABLE turns (
            thread_id TEXT NOT NULL,
            turn INTEGER NOT NULL,
            ts REAL NOT NULL,
            connection TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            caller TEXT NOT NULL,
            PRIMARY KEY (thread_id, turn)
        )""",
        """CREATE TABLE messages (
            thread_id TEXT NOT NULL,
            turn INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            PRIMARY KEY (thread_id, turn, seq)
        )""",
    ),
)
TITLE_CHARS = 80
# ThreadHead's fields in order: `turns` counts the stored turns, `last_turn` is the column.
_HEADS = ("SELECT id, created, updated, system, (SELECT COUNT(*) FROM turns WHERE thread_id = t.id), turns, chars, "
          "title, last_connection FROM threads t")


@dataclass(frozen=True)
class TurnMeta:
    connection: str
    provider: str
    model: str
    caller: str


@dataclass(frozen=True)
class Turn:
    turn: int
    ts: float
    meta: TurnMeta
    messages: list[Message]


@dataclass(frozen=True)
class ThreadHead:
    id: str
    created: float
    updated: float
    system: str | None
    turns: int  # turns stored now (after a trim, fewer than the last turn number)
    last_turn: int
    chars: int
    title: str
    last_connection: str | None


def _chars(messages: list[Message], system: str | None = None) -> int:
    return sum(len(m.content) for m in messages) + len(system or "")


class ThreadStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        if self._conn is not None:
            raise RuntimeError("the thread store is already open")
        conn = connect(self.path)
        self.path.chmod(0o600)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # survives kill -9; not a power cut
        conn.execute("PRAGMA busy_timeout = 2000")
        try:
            migrate(conn, MIGRATIONS, "threads")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the thread store is not open")
        return self._conn

    # ---- reading ------------------------------------------------------------------------------

    def head(self, thread_id: str) -> ThreadHead | None:
        row = self.db.execute(f"{_HEADS} WHERE id = ?", (thread_id,)).fetchone()
        return ThreadHead(*row) if row else None

    def turns(self, thread_id: str) -> list[Turn]:
        messages: dict[int, list[Message]] = {}
        for turn, role, content in self.db.execute(
            "SELECT turn, role, content FROM messages WHERE thread_id = ? ORDER BY turn, seq", (thread_id,)
        ):
            messages.setdefault(turn, []).append(Message(role, content))
        return [
            Turn(turn, ts, TurnMeta(connection, provider, model, caller), messages.get(turn, []))
            for turn, ts, connection, provider, model, caller in self.db.execute(
                "SELECT turn, ts, connection, provider, model, caller FROM turns WHERE thread_id = ? ORDER BY turn",
                (thread_id,),
            )
        ]

    def history(self, thread_id: str) -> list[Message]:
        """Every stored message, oldest first: what the next turn sends before its own."""
        return [Message(role, content) for role, content in self.db.execute(
            "SELECT role, content FROM messages WHERE thread_id = ? ORDER BY turn, seq", (thread_id,)
        )]

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM threads").fetchone()[0])

    def heads(self, limit: int, offset: int = 0) -> list[ThreadHead]:
        rows = self.db.execute(f"{_HEADS} ORDER BY updated DESC, id LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return [ThreadHead(*row) for row in rows]

    # ---- writing (each method is one transaction) ----------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def append(self, thread_id: str, system: str | None, added: list[Message], answer: Message, meta: TurnMeta,
               now: float | None = None) -> int:
        """Store one exchange (creating the thread on its first); returns the turn number."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            head = self.head(thread_id)
            turn = 1 if head is None else head.last_turn + 1
            chars = _chars([*added, answer]) + (0 if head is None else head.chars - len(head.system or ""))
            chars += len(system or "")
            if head is None:
                title = next((m.content for m in added if m.role == "user"), "")[:TITLE_CHARS]
                db.execute(
                    "INSERT INTO threads (id, created, updated, system, turns, chars, title, last_connection) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (thread_id, now, now, system, turn, chars, " ".join(title.split()), meta.connection),
                )
            else:
                db.execute(
                    "UPDATE threads SET updated = ?, system = ?, turns = ?, chars = ?, last_connection = ? WHERE id = ?",
                    (now, system, turn, chars, meta.connection, thread_id),
                )
            db.execute(
                "INSERT INTO turns (thread_id, turn, ts, connection, provider, model, caller) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (thread_id, turn, now, meta.connection, meta.provider, meta.model, meta.caller),
            )
            db.executemany(
                "INSERT INTO messages (thread_id, turn, seq, role, content) VALUES (?, ?, ?, ?, ?)",
                [(thread_id, turn, seq, m.role, m.content) for seq, m in enumerate([*added, answer])],
            )
        return turn

    def delete(self, thread_id: str) -> bool:
        return self._delete_where("id = ?", (thread_id,)) > 0

    def delete_before(self, cutoff: float | None) -> int:
        """Threads last continued before `cutoff` (all when None)."""
        if cutoff is None:
            return self._delete_where("1", ())
        return self._delete_where("updated < ?", (cutoff,))

    def _delete_where(self, clause: str, args: tuple[object, ...]) -> int:
        with self._transaction() as db:
            doomed = f"SELECT id FROM threads WHERE {clause}"
            db.execute(f"DELETE FROM messages WHERE thread_id IN ({doomed})", args)
            db.execute(f"DELETE FROM turns WHERE thread_id IN ({doomed})", args)
            return int(db.execute(f"DELETE FROM threads WHERE {clause}", args).rowcount)

    def trim(self, thread_id: str, keep: int) -> int:
        """Drop all but the newest `keep` turns; returns how many were removed. Turn numbers stay."""
        with self._transaction() as db:
            cutoff_row = db.execute(
                "SELECT turn FROM turns WHERE thread_id = ? ORDER BY turn DESC LIMIT 1 OFFSET ?", (thread_id, keep)
            ).fetchone()
            removed = 0
            if cutoff_row is not None:
                cutoff = cutoff_row[0]
                db.execute("DELETE FROM messages WHERE thread_id = ? AND turn <= ?", (thread_id, cutoff))
                removed = db.execute("DELETE FROM turns WHERE thread_id = ? AND turn <= ?", (thread_id, cutoff)).rowcount
                remaining = db.execute(
                    "SELECT COALESCE(SUM(LENGTH(content)), 0) FROM messages WHERE thread_id = ?", (thread_id,)
                ).fetchone()[0]
                db.execute("UPDATE threads SET chars = ? + COALESCE(LENGTH(system), 0) WHERE id = ?",
                           (remaining, thread_id))
        return int(removed)
