"""synapsectl/bridge.py's connect step: whom the IDE's bridge is willing to talk to, and the
typed errors (never a traceback on the IDE's stderr) for paths the daemon would refuse too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from synapsectl import bridge
from synapsectl.bridge import BridgeError, connect_or_start
from synapsed import peer
from synapsed.lifecycle import ALREADY_RUNNING, START_FAILED
from synapsed.paths import MAX_SOCKET_PATH, Paths, resolve
from tests.support.unix_listener import NOBODY, SYSTEM_PYTHON, Listener, bytes_received, other_users_socket

REPO = Path(__file__).resolve().parents[3]
not_root = pytest.mark.skipif(os.getuid() != 0 or not SYSTEM_PYTHON.exists(),
                              reason="acting as another user needs root and a system python3")


@pytest.fixture
def no_spawn(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Records instead of starting a daemon: none of these cases may start one."""
    spawned: list[str | None] = []
    monkeypatch.setattr(bridge, "_spawn_daemon", lambda home: spawned.append(home))
    return spawned


def test_an_mcp_socket_served_by_another_uid_gets_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          no_spawn: list[str | None]) -> None:
    monkeypatch.setattr(peer, "peer_uid", lambda sock: os.getuid() + 4242)
    (tmp_path / "run").mkdir(mode=0o700)
    listener = Listener(tmp_path / "run" / "mcp.sock")
    with pytest.raises(BridgeError) as raised:
        connect_or_start(resolve(tmp_path), str(tmp_path), autostart=True)
    assert listener.done() == b""
    assert f"served by uid {os.getuid() + 4242}" in raised.value.message
    assert "impersonating" in raised.value.hint
    assert raised.value.code == 1
    assert no_spawn == []


def test_a_socket_path_past_the_os_limit_fails_at_once_without_starting_a_daemon(
        tmp_path: Path, no_spawn: list[str | None]) -> None:
    home = tmp_path / ("h" * MAX_SOCKET_PATH)
    with pytest.raises(BridgeError) as raised:
        connect_or_start(resolve(home), str(home), autostart=True)
    assert "longer than the OS allows" in raised.value.message
    assert "SYNAPSE_HOME" in raised.value.hint
    assert no_spawn == []


@not_root
def test_a_runtime_dir_owned_by_another_user_is_a_typed_error(tmp_path: Path, no_spawn: list[str | None]) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    os.chown(tmp_path / "run", NOBODY, NOBODY)
    with pytest.raises(BridgeError) as raised:
        connect_or_start(resolve(tmp_path), str(tmp_path), autostart=True)
    assert f"owned by uid {NOBODY}" in raised.value.message
    assert no_spawn == []


@not_root
def test_synapsectl_mcp_stdio_sends_nothing_to_another_users_socket() -> None:
    initialize = b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}\n'
    with other_users_socket("mcp.sock") as (home, server):
        done = subprocess.run([sys.executable, "-m", "synapsectl", "--home", str(home), "mcp", "stdio"],
                              input=initialize, capture_output=True, timeout=30, cwd=REPO)
        assert bytes_received(server) == 0
    assert done.returncode == 1
    assert done.stdout == b""
    assert f"served by uid {NOBODY}" in done.stderr.decode()
    assert b"Traceback" not in done.stderr


class _Exited:
    """A daemon process that has already exited, as `_spawn_daemon` returns it."""

    pid = 4321
    returncode = 1

    def poll(self) -> int:
        return self.returncode


def _spawn_leaving(paths: Paths, record: dict[str, object] | None) -> object:
    def spawn(home: str | None) -> _Exited:
        paths.log_file.parent.mkdir(parents=True, exist_ok=True)
        if record is not None:
            with paths.log_file.open("a") as log:
                log.write(json.dumps({"event": START_FAILED, "level": "error", **record}) + "\n")
        return _Exited()

    return spawn


def test_a_daemon_that_could_not_start_is_reported_at_once_with_its_own_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = resolve(tmp_path)
    monkeypatch.setattr(bridge, "_spawn_daemon", _spawn_leaving(paths, {
        "kind": "config_invalid", "error": "config.toml:3: unknown field `bogus`", "hint": "fix the named field"}))
    with pytest.raises(BridgeError) as raised:
        connect_or_start(paths, str(tmp_path), autostart=True)
    assert raised.value.message == "synapsed could not start (exit 1): config.toml:3: unknown field `bogus`"
    assert raised.value.hint == "fix the named field"


def test_a_daemon_that_exits_without_a_record_is_reported_with_where_to_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = resolve(tmp_path)
    monkeypatch.setattr(bridge, "_spawn_daemon", _spawn_leaving(paths, None))
    with pytest.raises(BridgeError) as raised:
        connect_or_start(paths, str(tmp_path), autostart=True)
    assert "exited during start (exit 1) without saying why" in raised.value.message
    assert "in a terminal" in raised.value.hint


def test_a_daemon_that_found_another_one_starting_leaves_the_bridge_waiting_for_that_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = resolve(tmp_path)
    monkeypatch.setattr(bridge, "_spawn_daemon", _spawn_leaving(paths, {
        "kind": ALREADY_RUNNING, "error": "synapsed is already running for this home", "hint": None}))
    listening: list[Listener] = []
    opener = threading.Timer(0.3, lambda: listening.append(Listener(paths.mcp_socket)))
    opener.start()  # the other daemon opens its socket a moment later
    try:
        sock = connect_or_start(paths, str(tmp_path), autostart=True)
    finally:
        opener.join()
    sock.close()
    assert listening[0].done() == b""


def _resetting_socket(path: Path, accepts: int = 1) -> threading.Thread:
    """A socket at the daemon's MCP path that accepts and resets each connection (SO_LINGER 0), as a
    daemon out of descriptors or going down does."""
    import socket
    import struct

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def serve() -> None:
        with server:
            for _ in range(accepts):
                conn, _ = server.accept()
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.recv(1)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_mcp_stdio_reports_a_daemon_that_drops_it_mid_handshake_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    _resetting_socket(tmp_path / "run" / "mcp.sock")
    done = subprocess.run([sys.executable, "-m", "synapsectl", "--home", str(tmp_path), "mcp", "stdio"],
                          input=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n', capture_output=True,
                          timeout=30, cwd=REPO)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    assert "synapsed closed the connection during the handshake" in done.stderr.decode()
    assert "synapsectl logs" in done.stderr.decode()


def test_a_reset_during_the_handshake_is_a_bridge_error() -> None:
    import socket

    ours, theirs = socket.socketpair()
    theirs.close()
    with pytest.raises(BridgeError) as raised:
        bridge._hello(ours, None)
    assert "during the handshake" in raised.value.message


def test_an_ide_that_closed_stdout_ends_the_bridge_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    saved = os.dup(1)
    os.dup2(write_end, 1)
    try:
        with pytest.raises(bridge.IdeGone):
            bridge._write_all(b'{"jsonrpc": "2.0", "id": 1, "result": {}}\n')
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(write_end)
