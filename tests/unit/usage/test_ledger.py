"""usage/ledger.py: WAL, commit before return, migrations, write failures."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from synapsed.usage.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger
from tests.unit.usage.conftest import KEY, _row  # noqa: F401


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


