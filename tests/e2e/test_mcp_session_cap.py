"""A flood of initialize-only HTTP sessions stays bounded by [mcp] max_sessions, every session
is visible with its state, and an IDE that is already connected keeps working throughout."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from tests.e2e.mcp_support import mcp_url, start_with_mcp, token
from tests.support.daemon import DaemonProcess

INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "flood", "version": "0"}},
}


def _post(url: str, body: dict[str, object], headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def _open(daemon: DaemonProcess, name: str = "flood", initialized: bool = False) -> dict[str, str]:
    auth = {"Authorization": f"Bearer {token(daemon)}"}
    init = {**INIT, "params": {**INIT["params"], "clientInfo": {"name": name, "version": "0"}}}  # type: ignore[dict-item]
    status, _, headers = _post(mcp_url(daemon), init, auth)
    assert status == 200
    session = {**auth, "mcp-session-id": headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
    if initialized:
        _post(mcp_url(daemon), {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    return session


def _sessions(daemon: DaemonProcess) -> list[dict[str, object]]:
    return json.loads(daemon.ctl("mcp", "sessions", "--json").stdout)


def _tools_list(daemon: DaemonProcess, session: dict[str, str]) -> int:
    return _post(mcp_url(daemon), {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session)[0]


def test_flood_is_bounded_by_the_cap_and_the_ide_keeps_working(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, "max_sessions = 8\n")
    ide = _open(daemon, "real-ide", initialized=True)
    assert _tools_list(daemon, ide) == 200
    for i in range(60):
        _open(daemon)
        if i % 10 == 0:
            assert _tools_list(daemon, ide) == 200  # the busy-looking loop never pushes out the IDE first
    sessions = _sessions(daemon)
    assert len(sessions) <= 8
    assert {"real-ide"} <= {s["client_name"] for s in sessions}
    assert {s["state"] for s in sessions if s["client_name"] == "flood"} == {"initializing"}
    status = daemon.client.daemon_status().mcp
    assert status is not None and status.max_sessions == 8 and status.evicted_sessions >= 52
    assert _tools_list(daemon, ide) == 200
    assert "mcp session evicted at the session cap" in daemon.paths.log_file.read_text()


def test_sessions_opened_together_at_the_cap_push_out_idle_ones_not_each_other(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, "max_sessions = 4\n")
    for _ in range(4):
        _open(daemon, "earlier", initialized=True)
    auth = {"Authorization": f"Bearer {token(daemon)}"}
    opening = []
    for i in range(4):  # four IDEs: every initialize first, then every initialized, as concurrent clients send them
        init = {**INIT, "params": {**INIT["params"], "clientInfo": {"name": f"ide-{i}", "version": "0"}}}  # type: ignore[dict-item]
        status, _, headers = _post(mcp_url(daemon), init, auth)
        assert status == 200
        opening.append({**auth, "mcp-session-id": headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"})
    for session in opening:
        assert _post(mcp_url(daemon), {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)[0] == 202
    assert [_tools_list(daemon, session) for session in opening] == [200, 200, 200, 200]
    assert {s["client_name"] for s in _sessions(daemon)} == {"ide-0", "ide-1", "ide-2", "ide-3"}


def test_evicted_session_is_closed_in_the_sdk_too(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, "max_sessions = 2\n")
    first = _open(daemon)
    _open(daemon)
    _open(daemon)  # evicts `first`, which never initialized
    assert _tools_list(daemon, first) == 404  # the SDK no longer knows it: the client must initialize again


def test_sessions_that_never_initialize_expire_on_their_short_timeout(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, "uninitialized_timeout_s = 1\n")
    pending = _open(daemon, "stuck")
    ide = _open(daemon, "real-ide", initialized=True)
    assert {s["client_name"]: s["state"] for s in _sessions(daemon)} == {"stuck": "initializing", "real-ide": "active"}
    deadline = time.monotonic() + 10
    while any(s["client_name"] == "stuck" for s in _sessions(daemon)):
        assert time.monotonic() < deadline, _sessions(daemon)
        time.sleep(0.2)
    assert _tools_list(daemon, pending) == 404
    assert _tools_list(daemon, ide) == 200
