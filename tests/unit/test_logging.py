"""Log output (file and stderr, structlog and stdlib) never carries a loaded secret."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import pytest

from synapsed import logging as slog
from synapsed.redaction import SECRETS

SECRET = "sk-test-Lg9Hx3Qa7Wm2Zr5Pv8Kn4Ty"


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    log_file = tmp_path / "synapsed.log"
    slog.configure("debug", log_file, human=False)
    SECRETS.add(SECRET)
    yield log_file, stderr
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
        handler.close()


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_structlog_event_with_secret_in_nested_value_is_redacted(configured) -> None:
    log_file, stderr = configured
    slog.get_logger("t").info("calling upstream", request={"headers": {"note": f"key {SECRET}"}}, url="https://x/v1")
    _flush()
    text = log_file.read_text()
    assert SECRET not in text and SECRET not in stderr.getvalue()
    record = json.loads(text.splitlines()[-1])
    assert record["request"]["headers"]["note"] == "key [REDACTED]"
    assert record["url"] == "https://x/v1"


def test_exception_message_and_traceback_are_redacted_without_locals(configured) -> None:
    log_file, _ = configured

    def fails(api_key: str) -> None:
        local_copy = api_key  # noqa: F841 - a local that must not be rendered
        raise RuntimeError(f"upstream said: invalid key {api_key}")

    try:
        fails(SECRET)
    except RuntimeError:
        slog.get_logger("t").exception("call failed")
    _flush()
    text = log_file.read_text()
    assert SECRET not in text
    record = json.loads(text.splitlines()[-1])
    assert record["exception"][0]["exc_value"] == "upstream said: invalid key [REDACTED]"
    assert all(not frame.get("locals") for frame in record["exception"][0]["frames"])  # none (structlog < 24.2: None)


def test_stdlib_records_from_libraries_are_redacted(configured) -> None:
    log_file, stderr = configured
    logging.getLogger("aiohttp.client").warning("request failed for %s with header %s", "x", f"Bearer {SECRET}")
    _flush()
    assert SECRET not in log_file.read_text()
    assert SECRET[:12] not in stderr.getvalue()
    assert "aiohttp.client" in log_file.read_text()


def test_human_renderer_redacts_tracebacks_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    slog.configure("info", None, human=True)
    SECRETS.add(SECRET)
    try:
        raise ValueError(SECRET)
    except ValueError:
        slog.get_logger("t").exception("boom")
    out = stderr.getvalue()
    assert "Traceback" in out and SECRET not in out


def test_log_file_is_created_0600(configured) -> None:
    log_file, _ = configured
    assert (log_file.stat().st_mode & 0o777) == 0o600
