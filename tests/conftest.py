from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from synapsed.redaction import SECRETS
from tests.support.daemon import DaemonProcess, isolated_env
from tests.support.keyring_backend import MemoryKeyring


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    # pytest's tmp_path is too deep for a Unix socket path (~107 bytes); use a short one.
    path = Path(tempfile.mkdtemp(prefix="syn-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def home(short_tmp: Path) -> Path:
    return short_tmp / "h"


@pytest.fixture
def daemon_env(short_tmp: Path, home: Path) -> dict[str, str]:
    return isolated_env(short_tmp, home, short_tmp / "keyring.json")


@pytest.fixture
def daemon_proc(home: Path, daemon_env: dict[str, str]) -> Iterator[DaemonProcess]:
    proc = DaemonProcess(home, daemon_env)
    try:
        yield proc
    finally:
        proc.cleanup()


@pytest.fixture
def daemon(daemon_proc: DaemonProcess) -> DaemonProcess:
    return daemon_proc.start()


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MemoryKeyring]:
    """Every test runs against an in-memory keyring and a temp SYNAPSE_HOME, never the user's."""
    monkeypatch.setenv("SYNAPSE_HOME", str(tmp_path / "synapse-home"))
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def upstreams() -> Iterator[list]:
    """Fake upstreams a test starts; all stopped at its end."""
    started: list = []
    yield started
    for upstream in started:
        upstream.stop()


@pytest.fixture(autouse=True)
def _fresh_secret_registry() -> Iterator[None]:
    SECRETS.clear()
    yield
    SECRETS.clear()
