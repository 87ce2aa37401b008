"""synapsectl/bridge.py: the byte pump between an IDE and the daemon's MCP socket."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

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
