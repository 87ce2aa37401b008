"""Thread rules: ids, one turn at a time, caps that refuse before sending, retention, exports."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synapsed.errors import SynapseError
from synapsed.threads.rules import Threads, as_jsonl, as_markdown, check_id
from tests.unit.threads.conftest import Settings, one_turn


def test_new_thread_gets_a_fresh_id_and_turn_one(threads: Threads) -> None:
    tid, turn = one_turn(threads, "new", "hi", "hello")
    assert check_id(tid) == tid and turn == 1
    assert one_turn(threads, "new", "hi", "hello")[0] != tid


def test_continuing_hands_back_the_history_and_numbers_the_turn(threads: Threads) -> None:
    tid, _ = one_turn(threads, "new", "one", "1", system="terse")
    claim = threads.begin(tid)
    assert [m.content for m in claim.history] == ["one", "1"] and claim.system == "terse"
    claim.release()
    assert one_turn(threads, tid, "two", "2")[1] == 2


def test_a_second_turn_in_flight_is_thread_busy(threads: Threads) -> None:
    tid, _ = one_turn(threads, "new", "one", "1")
    claim = threads.begin(tid)
    with pytest.raises(SynapseError) as busy:
        threads.begin(tid)
    assert busy.value.kind == "thread_busy"
    claim.release()
    threads.begin(tid).release()  # free again once the first turn is done


def test_other_threads_are_not_blocked_by_a_busy_one(threads: Threads) -> None:
    a, _ = one_turn(threads, "new", "a", "a")
    b, _ = one_turn(threads, "new", "b", "b")
    claim = threads.begin(a)
    threads.begin(b).release()
    claim.release()


def test_unknown_thread_is_not_found_with_a_hint(threads: Threads) -> None:
    with pytest.raises(SynapseError) as missing:
        threads.begin("th-0123456789abcdef")
    assert missing.value.kind == "not_found" and "threads list" in missing.value.hint


@given(st.text(max_size=60).filter(lambda s: s != "new"))
def test_anything_but_an_id_is_a_bad_request(text: str) -> None:
    if text.startswith("th-") and len(text) == 19 and all(c in "0123456789abcdef" for c in text[3:]):
        return
    with pytest.raises(SynapseError) as bad:
        check_id(text)
    assert bad.value.kind == "bad_request" and bad.value.detail["field"] == "thread"


def test_the_turn_cap_refuses_before_anything_is_sent(threads: Threads, settings: Settings) -> None:
    settings.set(max_turns=2)
    tid, _ = one_turn(threads, "new", "1", "1")
    one_turn(threads, tid, "2", "2")
    with pytest.raises(SynapseError) as capped:
        threads.begin(tid)
    assert capped.value.kind == "context_too_long"
    assert f"synapsectl threads trim {tid}" in capped.value.hint and "max_turns" in capped.value.message


def test_the_character_cap_names_the_size_and_the_way_out(threads: Threads, settings: Settings) -> None:
    settings.set(max_chars=1000)
    tid, _ = one_turn(threads, "new", "x" * 600, "y" * 300)
    claim = threads.begin(tid)
    try:
        with pytest.raises(SynapseError) as capped:
            threads.check_size(claim, 200)
    finally:
        claim.release()
    assert capped.value.kind == "context_too_long" and "1100" in capped.value.message
    assert "new thread" in capped.value.hint


def test_turned_off_threads_refuse_with_the_setting_to_change(threads: Threads, settings: Settings) -> None:
    settings.set(enabled=False)
    with pytest.raises(SynapseError) as off:
        threads.begin("new")
    assert off.value.kind == "bad_request" and "[threads] enabled" in off.value.hint


def test_retention_deletes_threads_idle_past_the_limit(threads: Threads, settings: Settings) -> None:
    settings.set(retention_days=7)
    old, _ = one_turn(threads, "new", "old", "x")
    threads.store.db.execute("UPDATE threads SET updated = ? WHERE id = ?", (time.time() - 8 * 86400, old))
    fresh, _ = one_turn(threads, "new", "fresh", "y")
    assert threads.prune(force=True) == 1
    assert threads.store.head(old) is None and threads.store.head(fresh) is not None


def test_retention_zero_keeps_everything(threads: Threads, settings: Settings) -> None:
    settings.set(retention_days=0)
    old, _ = one_turn(threads, "new", "old", "x")
    threads.store.db.execute("UPDATE threads SET updated = 0 WHERE id = ?", (old,))
    assert threads.prune(force=True) == 0


def test_delete_and_clear_refuse_while_a_turn_is_in_flight(threads: Threads) -> None:
    tid, _ = one_turn(threads, "new", "a", "b")
    claim = threads.begin(tid)
    for action in (lambda: threads.delete(tid), lambda: threads.clear(None)):
        with pytest.raises(SynapseError) as busy:
            action()
        assert busy.value.kind == "thread_busy"
    claim.release()
    assert threads.delete(tid) is True


def test_exports_carry_every_turn_and_who_answered(threads: Threads) -> None:
    tid, _ = one_turn(threads, "new", "first *q*", "first a", system="be kind")
    one_turn(threads, tid, "second q", "second a")
    view = threads.view(tid)
    md = as_markdown(view)
    assert md.index("first *q*") < md.index("first a") < md.index("second q") < md.index("second a")
    assert "## System" in md and "gpt (openai / gpt-4o-mini-2024-07-18)" in md
    lines = [json.loads(line) for line in as_jsonl(view).splitlines()]
    assert lines[0] == {"thread_id": tid, "role": "system", "content": "be kind"}
    assert [(x["turn"], x["role"]) for x in lines[1:]] == [(1, "user"), (1, "assistant"), (2, "user"), (2, "assistant")]


def test_trim_refuses_a_negative_keep(threads: Threads) -> None:
    tid, _ = one_turn(threads, "new", "a", "b")
    with pytest.raises(SynapseError) as bad:
        threads.trim(tid, -1)
    assert bad.value.kind == "bad_request" and bad.value.detail["field"] == "keep"
