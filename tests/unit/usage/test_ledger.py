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




async def test_rows_recorded_in_one_turn_of_the_loop_share_one_commit(ledger: Ledger) -> None:
    results = await asyncio.gather(*(ledger.record(_row(), share_commit=True) for _ in range(10)))
    assert all(results) and ledger.commits == 1 and ledger.rows_written == 10
    assert await ledger.record(_row()) and ledger.commits == 2


async def test_a_lone_row_commits_before_record_returns_without_a_turn_of_the_loop(ledger: Ledger) -> None:
    coroutine = ledger.record(_row())
    try:
        coroutine.send(None)
    except StopIteration as done:
        assert done.value is True  # finished without suspending
    else:
        raise AssertionError("a lone row waited for the loop")
    with ledger.reader() as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1


async def test_a_row_arriving_while_others_wait_joins_their_commit(ledger: Ledger) -> None:
    waiting = asyncio.create_task(ledger.record(_row(), share_commit=True))
    await asyncio.sleep(0)  # inserted; its commit is due later in this turn
    assert await ledger.record(_row()) is True  # joined the open transaction, not committed alone
    assert await waiting is True and ledger.commits == 1 and ledger.rows_written == 2


async def test_a_cancelled_callers_row_is_still_committed(ledger: Ledger) -> None:
    task = asyncio.create_task(ledger.record(_row(connection="cancelled"), share_commit=True))
    await asyncio.sleep(0)  # inserted, waiting for the commit
    task.cancel()
    await asyncio.sleep(0.01)
    with ledger.reader() as conn:
        assert conn.execute("SELECT connection FROM requests").fetchall() == [("cancelled",)]


async def test_every_row_reported_written_is_in_the_ledger_when_the_disk_fills(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3", max_pages=8)
    ledger.open()
    try:
        results: list[bool] = []
        for _ in range(6):  # several turns of many rows each, past the size cap
            results += await asyncio.gather(*(ledger.record(_row(connection="x" * 200), share_commit=True)
                                              for _ in range(20)))
        with ledger.reader() as conn:
            stored = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        assert False in results and sum(results) == stored == ledger.rows_written
        assert ledger.write_errors == results.count(False)
    finally:
        ledger.close()


async def test_a_close_commits_rows_still_waiting(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    ledger.open()
    task = asyncio.create_task(ledger.record(_row(), share_commit=True))
    await asyncio.sleep(0)
    ledger.close()  # the daemon stopping in the same turn
    assert await task is True
    reopened = Ledger(tmp_path / "usage.sqlite3")
    reopened.open()
    with reopened.reader() as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1
    reopened.close()
