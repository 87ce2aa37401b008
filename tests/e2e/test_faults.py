"""Faults: a daemon killed mid-request, a full ledger, an unreadable config, a failing keyring."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import REPO, DaemonProcess
from tests.support.fake_upstream import Canned, FakeUpstream

KEY = "sk-proj-Fault7Qx2LmN8pVw4ZtY6bHc1DfG"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()
    yield fake
    fake.stop()


@pytest.fixture
def wired(daemon_proc: DaemonProcess, upstream: FakeUpstream) -> DaemonProcess:
    daemon_proc.env["FAULT_KEY"] = KEY
    daemon = daemon_proc.start()
    assert daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "test-model",
                      "--base-url", upstream.base_url, "--credential", "env:FAULT_KEY").returncode == 0
    return daemon


def test_sigkill_mid_request_gives_a_clean_error_and_restart_keeps_everything(wired: DaemonProcess, upstream: FakeUpstream) -> None:
    assert wired.ctl("test", "gpt", "before").returncode == 0
    token_before = wired.paths.token_file.read_text() if wired.paths.token_file.exists() else None
    config_before = wired.paths.config_file.read_text()
    ok = upstream.family.chat_ok("slow")
    upstream.reply_chat(Canned(200, ok.json, delay=3.0))
    cli = subprocess.Popen([sys.executable, "-m", "synapsectl", "--home", str(wired.home), "test", "gpt", "in flight"],
                           env=wired.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while upstream.count("POST", upstream.chat_path) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    wired.kill9()
    out, err = cli.communicate(timeout=20)
    assert cli.returncode == 1 and out == ""
    assert "closed the connection before answering" in err and "nothing was retried" in err
    wired.start()
    assert wired.paths.config_file.read_text() == config_before
    if token_before is not None:
        assert wired.paths.token_file.read_text() == token_before
    history = json.loads(wired.ctl("usage", "history", "--json").stdout)
    assert history["total"] >= 1 and history["rows"][-1]["status"] == "ok"


def test_full_ledger_still_answers_and_counts_the_loss(tmp_path: Path, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import msgspec

    from synapsed.config import ConfigStore, ConnectionConfig
    from synapsed.gateway import Gateway
    from synapsed.protocol import ChatRequest, Message
    from synapsed.usage.ledger import Ledger
    from synapsed.usage.meter import Meter

    async def scenario() -> tuple[list[str], Ledger]:
        monkeypatch.setenv("FAULT_KEY", KEY)
        store = ConfigStore(tmp_path / "config.toml")
        store.load()
        conn = ConnectionConfig(provider="openai", model="test-model", base_url=upstream.base_url, credential="env:FAULT_KEY")
        await store.mutate(lambda c: msgspec.structs.replace(c, connections={"gpt": conn}))
        ledger = Ledger(tmp_path / "usage.sqlite3", max_pages=8)  # a "disk" that fills after a few rows
        ledger.open()
        gateway = Gateway(store, meter=Meter(ledger, store))
        texts = []
        for _ in range(200):
            _, result = await gateway.complete("gpt", ChatRequest([Message("user", "x" * 10)]))
            texts.append(result.text)
        await gateway.close()
        ledger.close()
        return texts, ledger

    texts, ledger = asyncio.run(scenario())
    assert texts == ["pong"] * 200  # every request answered
    assert ledger.write_errors > 0 and ledger.rows_written + ledger.write_errors == 200
    import sqlite3

    with sqlite3.connect(ledger.path) as conn:  # what was written is intact
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == ledger.rows_written


def test_unreadable_config_on_reload_keeps_the_running_config(wired: DaemonProcess) -> None:
    config = wired.paths.config_file
    saved = config.read_text()
    config.unlink()
    config.mkdir()  # unreadable as a file, whoever we run as
    try:
        result = wired.ctl("reload", "--json")
        assert result.returncode == 1
        error = json.loads(result.stdout)["error"]
        assert error["kind"] == "config_invalid" and "cannot read it" in error["message"]
        assert wired.client.connections_get("gpt").connection.model == "test-model"
        assert wired.ctl("test", "gpt", "still works").returncode == 0
    finally:
        config.rmdir()
        config.write_text(saved)


def test_failing_keyring_backend_is_a_clear_error_not_a_crash(daemon_proc: DaemonProcess, upstream: FakeUpstream) -> None:
    daemon_proc.env["PYTHON_KEYRING_BACKEND"] = "tests.support.keyring_backend.BrokenKeyring"
    daemon = daemon_proc.start()
    daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "test-model", "--base-url", upstream.base_url)
    result = daemon.ctl("test", "gpt", "hi", "--json")
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "credential_unreadable" and "unlock the keyring" in error["hint"]
    stored = daemon.ctl("key", "set", "gpt", "--json", input="sk-whatever-1234567890abcdef")
    assert json.loads(stored.stdout)["error"]["kind"] == "credential_unreadable"
    assert upstream.requests == []
    assert daemon.client.daemon_status().pid > 0
