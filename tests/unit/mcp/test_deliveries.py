"""Answers the SDK writes: the handler's half and the HTTP layer's half meet in either order, and
only a billed answer whose reply was not written whole is marked undelivered."""

from __future__ import annotations

import pytest

from synapsed.mcp import deliveries
from synapsed.mcp.deliveries import Deliveries, tools_call_id
from synapsed.mcp.sessions import Session
from synapsed.mcp.tools import Answer

BILLED = Answer("hi", {"text": "hi"}, rows=(7,))
FREE = Answer("refused", {"error": {}}, is_error=True)


@pytest.fixture
def marked() -> list[tuple[str, tuple[int, ...]]]:
    return []


@pytest.fixture
def table(marked: list[tuple[str, tuple[int, ...]]]) -> Deliveries:
    return Deliveries(lambda session, answer, why: marked.append((session.id, answer.rows)))


def _session(sid: str = "s1") -> Session:
    return Session(sid, "http", "ide", "1", None, "2025-06-18")


def test_an_answer_written_whole_is_not_marked(table: Deliveries, marked: list[object]) -> None:
    session = _session()
    table.answered(session, 5, BILLED)
    table.settled(session, 5, delivered=True)
    assert marked == []


def test_an_answer_whose_reply_failed_to_write_is_marked(table: Deliveries, marked: list[object]) -> None:
    session = _session()
    table.answered(session, 5, BILLED)
    table.settled(session, 5, delivered=False)
    assert marked == [("s1", (7,))]


def test_a_request_that_ended_before_its_answer_marks_the_answer_when_it_comes(
        table: Deliveries, marked: list[object]) -> None:
    session = _session()
    table.settled(session, "a", delivered=False)
    assert marked == []
    table.answered(session, "a", BILLED)
    assert marked == [("s1", (7,))]


def test_an_answer_nothing_was_billed_for_is_never_marked(table: Deliveries, marked: list[object]) -> None:
    session = _session()
    table.settled(session, 1, delivered=False)
    table.answered(session, 1, FREE)
    table.answered(session, 2, FREE)
    table.settled(session, 2, delivered=False)
    assert marked == []


def test_a_reused_request_id_starts_afresh(table: Deliveries, marked: list[object]) -> None:
    session = _session()
    table.settled(session, 1, delivered=False)
    table.answered(session, 1, FREE)  # the lost request's own answer: consumed
    table.answered(session, 1, BILLED)  # the next request with the same id, written whole
    table.settled(session, 1, delivered=True)
    assert marked == []


def test_the_same_id_in_two_sessions_is_two_calls(table: Deliveries, marked: list[object]) -> None:
    one, two = _session("s1"), _session("s2")
    table.answered(one, 5, BILLED)
    table.answered(two, 5, BILLED)
    table.settled(two, 5, delivered=False)
    table.settled(one, 5, delivered=True)
    assert marked == [("s2", (7,))]


def test_the_tables_stay_bounded(table: Deliveries, marked: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliveries, "MAX_PENDING", 3)
    session = _session()
    for i in range(10):
        table.answered(session, i, BILLED)
        table.settled(session, 100 + i, delivered=False)
    assert len(table._answers) == 3 and len(table._lost) == 3
    table.settled(session, 0, delivered=False)  # aged out: forgotten, not mismatched
    assert marked == []
    table.settled(session, 9, delivered=False)
    assert marked == [("s1", (7,))]


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"ask"}}', 5),
    (b'{"jsonrpc":"2.0","id":"x-1","method":"tools/call","params":{}}', "x-1"),
    (b'{"jsonrpc":"2.0","method":"tools/call"}', None),
    (b'{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"cursor":"tools/call"}}', None),
    (b'[{"jsonrpc":"2.0","id":5,"method":"tools/call"}]', None),
    (b'{"jsonrpc":"2.0","id":5,"method":"tools/call"', None),
    (b'{"id":true,"method":"tools/call"}', None),
    (b'{"id":1,"method":"tools/call","params":' + b"[" * 100_000 + b"]" * 100_000 + b"}", None),
], ids=["int-id", "str-id", "notification", "other-method", "batch", "truncated", "bad-id", "nested-past-the-limit"])
def test_tools_call_id_reads_only_a_single_tools_call_request(body: bytes, expected: object) -> None:
    assert tools_call_id(body) == expected


RESULT = b'{"jsonrpc":"2.0","id":5,"result":{"content":[],"isError":false}}'


@pytest.mark.parametrize(("chunk", "expected"), [
    (RESULT, True),
    (b'{"jsonrpc":"2.0","id":5,"error":{"code":-32603,"message":"x"}}', True),
    (b"event: message\r\ndata: " + RESULT + b"\r\n\r\n", True),
    (b"id: 3\nevent: message\ndata:" + RESULT + b"\n\n", True),
    (b'{"jsonrpc":"2.0","id":6,"result":{}}', False),
    (b'{"jsonrpc":"2.0","id":"5","result":{}}', False),
    (b'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":5}}\n\n',
     False),
    (b'{"jsonrpc":"2.0","id":5,"method":"roots/list"}', False),
    (b": ping - 2026-12-06\r\n\r\n", False),
    (b"event: message\ndata: " + RESULT[:30] + b"\n\n", False),
    (b'{"jsonrpc":"2.0","id":5,"result":' + b"[" * 100_000 + b"]" * 100_000 + b"}", False),
], ids=["json-result", "json-error", "sse-crlf", "sse-lf", "other-id", "id-type-differs", "progress",
        "server-request", "ping", "truncated", "nested-past-the-limit"])
def test_carries_reply_finds_only_the_calls_own_response(chunk: bytes, expected: bool) -> None:
    assert deliveries.carries_reply(chunk, 5) is expected
