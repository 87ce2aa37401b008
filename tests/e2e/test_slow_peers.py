"""Another local user, or a broken program, holding the loopback MCP port with slow request heads:
the daemon keeps serving its own user (control socket, bridge, token-holding MCP calls), refuses
and logs, and holds none of those peers at the end. Descriptors are limited so that a few hundred
peers would exhaust them without the guard."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.e2e.mcp_support import mcp_url, start_with_mcp, token
from tests.support import slow_peers
from tests.support.daemon import REPO, DaemonProcess
from tests.support.unix_listener import NOBODY

NOFILE = 700  # connection cap: 700 - FD_RESERVE (384) = 316 MCP connections
PEERS = 450
GUARD = "head_timeout_s = 3.0\nidle_timeout_s = 2.0\n"


def _mcp_initialize(daemon: DaemonProcess) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "own-user", "version": "1"}}})
    request = urllib.request.Request(mcp_url(daemon), data=body.encode(), method="POST", headers={
        "Authorization": f"Bearer {token(daemon)}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def _bridge_initialize(daemon: DaemonProcess) -> subprocess.CompletedProcess[bytes]:
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "stdio-ide", "version": "1"}}})
    return subprocess.run([sys.executable, "-m", "synapsectl", "--home", str(daemon.home), "mcp", "stdio"],
                          input=line.encode() + b"\n", capture_output=True, timeout=30, env=daemon.env, cwd=REPO)


def _port(daemon: DaemonProcess) -> int:
    return int(urlsplit(mcp_url(daemon)).port or 0)


def _report(attack: subprocess.Popen[str]) -> dict[str, int]:
    assert attack.stdout is not None
    out, _ = attack.communicate(timeout=60)
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _refusals(daemon: DaemonProcess) -> list[dict[str, object]]:
    return [json.loads(line) for line in daemon.stderr().splitlines()
            if line.startswith("{") and "mcp connection refused" in line]


def _still_serving(daemon: DaemonProcess, with_mcp: bool) -> None:
    status = daemon.ctl("status", "--json")
    assert status.returncode == 0, status.stderr
    bridged = _bridge_initialize(daemon)
    assert bridged.returncode == 0 and b'"result"' in bridged.stdout, bridged.stderr
    assert b"Traceback" not in bridged.stderr
    if with_mcp:
        assert _mcp_initialize(daemon) == 200


@pytest.mark.skipif(not slow_peers.can_act_as_another_user(), reason="acting as another user needs root and /usr/bin/python3")
def test_another_users_slow_peers_are_closed_at_accept_and_the_own_user_is_served(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, GUARD, nofile=NOFILE)
    attack = slow_peers.start(_port(daemon), PEERS, hold_s=8.0, every_s=0.5, as_uid=NOBODY)
    assert attack.stdout is not None and attack.stdout.readline().startswith("ready")
    _still_serving(daemon, with_mcp=True)
    report = _report(attack)
    assert report["still_open"] == 0
    reasons = {entry["reason"] for entry in _refusals(daemon)}
    assert "foreign_uid" in reasons
    foreign = next(e for e in _refusals(daemon) if e["reason"] == "foreign_uid")
    assert foreign["uid"] == NOBODY


def test_own_uid_slow_peers_past_the_cap_leave_the_control_socket_and_bridge_working(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, GUARD, nofile=NOFILE)
    attack = slow_peers.start(_port(daemon), PEERS, hold_s=8.0, every_s=0.5)
    assert attack.stdout is not None and attack.stdout.readline().startswith("ready")
    _still_serving(daemon, with_mcp=False)
    report = _report(attack)
    # None kept open past the head deadline, however often they sent a header line.
    assert report["still_open"] == 0
    reasons = {entry["reason"] for entry in _refusals(daemon)}
    assert {"at_cap", "head_timeout"} <= reasons
    # Once the flood is over, the own user's MCP calls go through again.
    assert _mcp_initialize(daemon) == 200


def test_refusals_are_logged_at_most_once_per_interval_per_reason(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, GUARD, nofile=NOFILE)
    attack = slow_peers.start(_port(daemon), PEERS, hold_s=3.0, every_s=0.5)
    _report(attack)
    at_cap = [e for e in _refusals(daemon) if e["reason"] == "at_cap"]
    assert 1 <= len(at_cap) <= 2  # >100 refusals in 3 s, one line each 10 s
    assert sum(int(e["refused_since_last_report"]) for e in at_cap) >= 1


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_limit(daemon_proc: DaemonProcess) -> None:
    import socket

    daemon = start_with_mcp(daemon_proc, GUARD)
    with socket.create_connection(("127.0.0.1", _port(daemon)), timeout=10) as sock:
        sock.sendall(b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % _port(daemon))
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 401")  # answered, kept alive
        started = time.monotonic()
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        assert 1.5 < time.monotonic() - started < 8  # closed by the 2 s idle limit
