"""The thread store: one transaction per turn, history in order, trim, delete, private file."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapsed.protocol import Message
from synapsed.threads.store import ThreadStore
from tests.unit.threads.conftest import META


def test_file_is_private_and_in_wal_mode(store: ThreadStore) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_first_append_creates_the_thread_with_a_title(store: ThreadStore) -> None:
    turn = store.append("th-0000000000000001", "be brief", [Message("user", "  what is\nWAL?  ")],
                        Message("assistant", "a log"), META)
    head = store.head("th-0000000000000001")
    assert turn == 1 and head is not None
    assert head.title == "what is WAL?" and head.system == "be brief" and head.last_connection == "gpt"
    assert head.chars == len("  what is\nWAL?  ") + len("a log") + len("be brief")


def test_history_is_every_message_oldest_first(store: ThreadStore) -> None:
    tid = "th-0000000000000002"
    store.append(tid, None, [Message("user", "one")], Message("assistant", "1"), META)
    store.append(tid, None, [Message("user", "two")], Message("assistant", "2"), META)
    assert [(m.role, m.content) for m in store.history(tid)] == [
        ("user", "one"), ("assistant", "1"), ("user", "two"), ("assistant", "2")]
    assert [t.turn for t in store.turns(tid)] == [1, 2]


def test_a_failed_append_leaves_no_half_turn(store: ThreadStore) -> None:
    tid = "th-0000000000000003"
    store.append(tid, None, [Message("user", "one")], Message("assistant", "1"), META)
    store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.turn = 2 BEGIN SELECT RAISE(ABORT, 'no'); END")
    with pytest.raises(sqlite3.IntegrityError):
        store.append(tid, None, [Message("user", "two")], Message("assistant", "2"), META)
    head = store.head(tid)
    assert head is not None and head.last_turn == 1 and len(store.turns(tid)) == 1
    assert len(store.history(tid)) == 2


def test_trim_keeps_the_newest_turns_and_their_numbers(store: ThreadStore) -> None:
    tid = "th-0000000000000004"
    for n in range(1, 5):
        store.append(tid, "sys", [Message("user", f"q{n}")], Message("assistant", f"a{n}"), META)
    assert store.trim(tid, 1) == 3
    assert [t.turn for t in store.turns(tid)] == [4]
    head = store.head(tid)
    assert head is not None and head.chars == len("q4a4sys") and head.last_turn == 4
    assert store.append(tid, "sys", [Message("user", "q5")], Message("assistant", "a5"), META) == 5


def test_delete_before_removes_threads_with_their_turns(store: ThreadStore) -> None:
    store.append("th-000000000000000a", None, [Message("user", "old")], Message("assistant", "x"), META, now=1000.0)
    store.append("th-000000000000000b", None, [Message("user", "new")], Message("assistant", "y"), META, now=5000.0)
    assert store.delete_before(2000.0) == 1
    assert store.head("th-000000000000000a") is None and store.history("th-000000000000000a") == []
    assert store.count() == 1


def test_reopening_keeps_every_committed_turn(tmp_path: Path) -> None:
    first = ThreadStore(tmp_path / "t.sqlite3")
    first.open()
    first.append("th-00000000000000aa", None, [Message("user", "kept")], Message("assistant", "yes"), META)
    # No close: the process "dies" here; the WAL holds the committed turn.
    second = ThreadStore(tmp_path / "t.sqlite3")
    second.open()
    assert [m.content for m in second.history("th-00000000000000aa")] == ["kept", "yes"]
    first.close()
    second.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    sqlite3.connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer"):
        ThreadStore(path).open()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=300), min_size=1, max_size=6))
def test_any_text_round_trips_unchanged(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> None:
    store = ThreadStore(tmp_path_factory.mktemp("fuzz") / "t.sqlite3")
    store.open()
    try:
        tid = "th-00000000000000ff"
        for text in texts:
            store.append(tid, text or None, [Message("user", text)], Message("assistant", text[::-1]), META)
        expected = [c for t in texts for c in (t, t[::-1])]
        assert [m.content for m in store.history(tid)] == expected
    finally:
        store.close()
