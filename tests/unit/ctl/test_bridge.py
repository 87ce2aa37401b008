"""synapsectl/bridge.py: the byte pump between an IDE and the daemon's MCP socket."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from synapsectl.bridge import Bridge
from synapsed.paths import resolve

PING = b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n'


def _ide_wrote(*lines: bytes) -> int:
    """A pipe holding what the IDE wrote, closed as an IDE closes stdin when it is done."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"".join(lines))
    os.close(write_end)
    return read_end


def test_an_ide_done_before_the_daemon_connection_is_up_still_ends_the_session(tmp_path: Path) -> None:
    bridge = Bridge(resolve(tmp_path), None, None, autostart=False)
    stdin = _ide_wrote(PING)
    bridge.pump_stdin(stdin)  # all read, EOF seen, while no daemon connection is up yet
    os.close(stdin)
    ours, daemons = socket.socketpair()
    ended: list[str] = []
    pump = threading.Thread(target=lambda: ended.append(bridge.serve(ours, b"")))
    pump.start()
    daemons.settimeout(5)
    received = b""
    while chunk := daemons.recv(4096):  # a timeout here is the bug: no EOF ever reaches the daemon
        received += chunk
    daemons.close()
    pump.join(5)
    assert received == PING
    assert ended == ["stdin"]


def test_an_ide_done_while_connected_half_closes_the_daemon_connection(tmp_path: Path) -> None:
    bridge = Bridge(resolve(tmp_path), None, None, autostart=False)
    ours, daemons = socket.socketpair()
    ended: list[str] = []
    pump = threading.Thread(target=lambda: ended.append(bridge.serve(ours, b"")))
    pump.start()
    daemons.settimeout(5)
    while not bridge.up:  # serve() has taken the connection
        threading.Event().wait(0.01)
    stdin = _ide_wrote(PING)
    bridge.pump_stdin(stdin)
    os.close(stdin)
    received = b""
    while chunk := daemons.recv(4096):
        received += chunk
    daemons.sendall(b'{"jsonrpc": "2.0", "id": 1, "result": {}}\n')  # still open for the answer
    daemons.close()
    pump.join(5)
    assert received == PING
    assert ended == ["stdin"]


def test_a_line_for_a_daemon_that_already_closed_waits_for_the_next_connection(tmp_path: Path) -> None:
    """The daemon was killed and its end is closed, but the reader thread has not seen it yet:
    the line is kept for the next connection, not sent into the void and failed as in flight."""
    bridge = Bridge(resolve(tmp_path), None, None, autostart=False)
    ours, daemons = socket.socketpair()
    bridge.sock, bridge.up = ours, True  # what serve() holds until its reader sees the EOF
    daemons.close()
    bridge.from_ide(PING)
    assert bridge.queued == [PING] and bridge.in_flight == {}
    ours.close()


def test_a_line_for_a_live_daemon_is_sent_and_tracked(tmp_path: Path) -> None:
    bridge = Bridge(resolve(tmp_path), None, None, autostart=False)
    ours, daemons = socket.socketpair()
    bridge.sock, bridge.up = ours, True
    bridge.from_ide(PING)
    daemons.settimeout(5)
    assert daemons.recv(4096) == PING
    assert bridge.queued == [] and list(bridge.in_flight.values()) == [1]
    ours.close()
    daemons.close()


def test_a_line_the_stdin_thread_fails_on_still_ends_the_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = Bridge(resolve(tmp_path), None, None, autostart=False)

    def broken(line: bytes) -> None:
        raise RuntimeError("a bug in handling one line")

    monkeypatch.setattr(bridge, "from_ide", broken)
    stdin = _ide_wrote(PING)
    with pytest.raises(RuntimeError):  # the thread's excepthook prints it
        bridge.pump_stdin(stdin)
    os.close(stdin)
    assert bridge.stdin_closed  # so serve() half-closes and returns instead of waiting forever


def test_json_nested_past_the_interpreters_limit_is_passed_on_untracked(tmp_path: Path) -> None:
    bridge = Bridge(resolve(tmp_path), None, None, autostart=False)
    line = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"
    bridge.from_ide(line)  # no daemon connection yet: queued for it, not raised on
    assert bridge.queued == [line] and not bridge.in_flight
