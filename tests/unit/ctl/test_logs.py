"""synapsectl/logs.py: `synapsectl logs` shows any line of the log file, ours or not."""

from __future__ import annotations

import pytest

from synapsectl.logs import human_line


def test_one_of_our_lines_is_shown_with_its_fields() -> None:
    raw = '{"timestamp": "2026-12-01T10:00:00.123456Z", "level": "info", "event": "synapsed ready", "pid": 7}\n'
    assert human_line(raw) == "2026-12-01T10:00:00.123 info    synapsed ready  pid=7"


@pytest.mark.parametrize("raw", [
    "garbage\n",
    "[" * 5000 + "]" * 5000 + "\n",  # past the JSON parser's recursion limit
    "[1, 2]\n",
])
def test_a_line_that_is_not_one_of_ours_is_shown_as_it_is(raw: str) -> None:
    assert human_line(raw) == raw.rstrip("\n")


def test_fields_of_unexpected_types_are_shown_not_raised_on() -> None:
    assert human_line('{"timestamp": 7, "level": [], "event": 5}') == "7 []      5"
