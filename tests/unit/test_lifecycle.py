"""synapsed/lifecycle.py: the record a failed start leaves in the log, and its reader."""

from __future__ import annotations

import json
from pathlib import Path

from synapsed.lifecycle import READY, START_FAILED, StartFailure, start_failure


def _record(**fields: object) -> str:
    return json.dumps({"level": "error", "logger": "synapsed", **fields}) + "\n"


def test_the_failure_written_after_the_offset_is_read_with_kind_error_and_hint(tmp_path: Path) -> None:
    log = tmp_path / "synapsed.log"
    log.write_text(_record(event=START_FAILED, kind="config_invalid", error="old", hint="old hint"))
    offset = log.stat().st_size
    with log.open("a") as handle:
        handle.write('{"event": "half a line\n')
        handle.write(_record(event=START_FAILED, kind="config_invalid", error="config.toml:3: bad", hint="fix it"))
    assert start_failure(log, offset) == StartFailure("config_invalid", "config.toml:3: bad", "fix it")


def test_a_failure_from_before_the_offset_is_not_this_start(tmp_path: Path) -> None:
    log = tmp_path / "synapsed.log"
    log.write_text(_record(event=START_FAILED, kind="config_invalid", error="old", hint=None))
    offset = log.stat().st_size
    with log.open("a") as handle:
        handle.write(_record(event="synapsed ready"))
    assert start_failure(log, offset) is None


def test_a_log_rotated_since_the_offset_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "synapsed.log"
    log.write_text(_record(event=START_FAILED, kind="permission_denied", error="owned by uid 7", hint=None))
    assert start_failure(log, 10**9) == StartFailure("permission_denied", "owned by uid 7", None)


def test_no_log_at_all_is_no_failure(tmp_path: Path) -> None:
    assert start_failure(tmp_path / "missing.log", 0) is None


def test_a_failure_followed_by_a_successful_start_is_over(tmp_path: Path) -> None:
    log = tmp_path / "synapsed.log"
    log.write_text(_record(event=START_FAILED, kind="config_invalid", error="bad", hint=None) + _record(event=READY))
    assert start_failure(log) is None
