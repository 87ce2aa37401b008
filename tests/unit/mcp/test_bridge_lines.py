"""mcp/bridge.py's line reader: a message over the size cap is answered and skipped."""

from __future__ import annotations

import asyncio
import json

import pytest

from synapsed.mcp.bridge import leading_id, read_line


class _Writer:
    def __init__(self) -> None:
        self.lines: list[dict] = []

    def write(self, data: bytes) -> None:
        self.lines += [json.loads(line) for line in data.splitlines()]

    async def drain(self) -> None:
        return None


async def _read_all(data: bytes, limit: int) -> tuple[list[bytes], _Writer]:
    reader = asyncio.StreamReader(limit=limit)
    reader.feed_data(data)
    reader.feed_eof()
    writer, lines = _Writer(), []
    while line := await read_line(reader, limit, writer):  # type: ignore[arg-type]
        lines.append(line)
    return lines, writer


async def test_an_oversized_line_is_answered_with_its_id_and_the_next_one_is_read() -> None:
    big = b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"p": "' + b"x" * 5000 + b'"}}\n'
    lines, writer = await _read_all(b'{"a": 1}\n' + big + b'{"b": 2}\n', limit=1024)
    assert lines == [b'{"a": 1}\n', b'{"b": 2}\n']
    assert writer.lines == [{"jsonrpc": "2.0", "id": 7, "error": {
        "code": -32600, "message": "message exceeds 1024 bytes; raise [mcp] max_body_bytes to send larger ones"}}]


async def test_an_oversized_last_line_without_a_newline_ends_the_input_after_its_answer() -> None:
    lines, writer = await _read_all(b'{"id": "x", "p": "' + b"y" * 5000, limit=1024)
    assert lines == [] and writer.lines[0]["id"] == "x"


async def test_a_last_line_without_a_newline_is_still_read() -> None:
    lines, _ = await _read_all(b'{"a": 1}\n{"b": 2}', limit=1024)
    assert lines == [b'{"a": 1}\n', b'{"b": 2}']


@pytest.mark.parametrize(("head", "found"), [
    (b'{"jsonrpc": "2.0", "id": 5, "method": "x", "params": {"prompt": "...', 5),
    (b'{"jsonrpc":"2.0","method":"tools/call","id":"a\\"b","params":', 'a"b'),
    (b'  {"id": -7, "jsonrpc": "2.0"', -7),
    (b'{"method": "x", "params": {"id": 3, "prompt": "...', None),  # an id inside the params is not the request's
    (b'{"jsonrpc": "2.0", "id": 1.5, "method"', None),
    (b'{"jsonrpc": "2.0", "id": 12345678', None),  # cut inside the id itself
    (b"not json at all", None),
])
def test_the_id_of_a_cut_message_is_read_only_before_its_params(head: bytes, found: object) -> None:
    assert leading_id(head) == found


async def test_an_oversized_line_under_a_small_cap_leaves_the_next_line_whole() -> None:
    # The cap may be as low as 1 KiB, under the head read for the id: the head must stop at the cap.
    big = b'{"jsonrpc": "2.0", "id": 9, "params": "' + b"x" * 1500 + b'"}\n'
    lines, writer = await _read_all(big + b'{"next": 1}\n', limit=1024)
    assert lines == [b'{"next": 1}\n'] and writer.lines[0]["id"] == 9


@pytest.mark.parametrize("head", [b'{"id": "\\q", "method"', b'{"id": "\\ud800", "method"', b'{"id": "\xff", "method"'])
def test_an_id_that_cannot_be_echoed_is_left_out(head: bytes) -> None:
    assert leading_id(head) is None
