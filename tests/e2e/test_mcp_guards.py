"""What the MCP listener refuses, the token, the port, IDE snippets, and the bridge's start-up."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.mcp_support import http_client, mcp_url, start_with_mcp, token
from tests.support.daemon import REPO, DaemonProcess

INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def mcp_daemon(daemon_proc: DaemonProcess) -> DaemonProcess:
    return start_with_mcp(daemon_proc)


def _still_serving(daemon: DaemonProcess) -> None:
    status, _ = _post(mcp_url(daemon), json.dumps(INIT).encode(), {"Authorization": f"Bearer {token(daemon)}"})
    assert status == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token"}, 401),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, 401),
    ],
)
def test_missing_or_wrong_token_is_401_without_detail(mcp_daemon: DaemonProcess, headers: dict[str, str], status: int) -> None:
    code, body = _post(mcp_url(mcp_daemon), json.dumps(INIT).encode(), headers)
    assert code == status
    assert json.loads(body)["error"]["message"] == "unauthorized"
    assert token(mcp_daemon) not in body.decode()
    _still_serving(mcp_daemon)


def test_a_token_header_that_is_not_utf8_is_401_not_a_server_error(mcp_daemon: DaemonProcess) -> None:
    port = mcp_daemon.client.daemon_status().mcp.port  # type: ignore[union-attr]
    body = json.dumps(INIT).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer \xff\xfe\r\n"
                    b"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (port, len(body), body))
        assert raw.recv(64).startswith(b"HTTP/1.1 401 ")
    _still_serving(mcp_daemon)


def test_foreign_origin_is_403(mcp_daemon: DaemonProcess) -> None:
    code, body = _post(mcp_url(mcp_daemon), json.dumps(INIT).encode(),
                       {"Authorization": f"Bearer {token(mcp_daemon)}", "Origin": "https://evil.example"})
    assert code == 403 and b"Origin" in body
    port = mcp_daemon.client.daemon_status().mcp.port  # type: ignore[union-attr]
    code, _ = _post(mcp_url(mcp_daemon), json.dumps(INIT).encode(),
                    {"Authorization": f"Bearer {token(mcp_daemon)}", "Origin": f"http://localhost:{port}"})
    assert code == 200
    _still_serving(mcp_daemon)


def test_foreign_host_is_403(mcp_daemon: DaemonProcess) -> None:
    code, body = _post(mcp_url(mcp_daemon), json.dumps(INIT).encode(),
                       {"Authorization": f"Bearer {token(mcp_daemon)}", "Host": "attacker.example:80"})
    assert code == 403 and b"Host" in body
    _still_serving(mcp_daemon)


def test_oversized_body_is_413(mcp_daemon: DaemonProcess) -> None:
    big = json.dumps({**INIT, "params": {**INIT["params"], "pad": "x" * (2 * 1024 * 1024)}}).encode()
    code, _ = _post(mcp_url(mcp_daemon), big, {"Authorization": f"Bearer {token(mcp_daemon)}"})
    assert code == 413
    _still_serving(mcp_daemon)


def test_an_oversized_stdio_message_is_answered_and_the_session_goes_on(mcp_daemon: DaemonProcess) -> None:
    """Over the bridge as over HTTP: the cap's error for that request, not a session torn down
    (which the IDE was told as "synapsed went away"), and the next request answered."""
    bridge = subprocess.Popen([sys.executable, "-m", "synapsectl", "--home", str(mcp_daemon.home), "mcp", "stdio"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=mcp_daemon.env, cwd=REPO)
    big = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": "ask", "arguments": {"prompt": "x" * (1536 * 1024)}}}
    lines = [INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"}, big,
             {"jsonrpc": "2.0", "id": 8, "method": "tools/list"}]
    out, err = bridge.communicate(b"".join(json.dumps(m).encode() + b"\n" for m in lines), timeout=30)
    replies = {m["id"]: m for m in map(json.loads, out.splitlines()) if "id" in m}
    assert replies[7]["error"]["code"] == -32600 and "max_body_bytes" in replies[7]["error"]["message"]
    assert replies[8]["result"]["tools"]
    assert b"went away" not in err and bridge.returncode == 0
    _still_serving(mcp_daemon)


def test_malformed_json_gets_a_parse_error(mcp_daemon: DaemonProcess) -> None:
    code, body = _post(mcp_url(mcp_daemon), b"{not json", {"Authorization": f"Bearer {token(mcp_daemon)}"})
    assert code == 400
    assert json.loads(body)["error"]["code"] == -32700
    _still_serving(mcp_daemon)


def test_unknown_bound_connection_is_404(mcp_daemon: DaemonProcess) -> None:
    code, body = _post(mcp_url(mcp_daemon) + "/c/ghost", json.dumps(INIT).encode(),
                       {"Authorization": f"Bearer {token(mcp_daemon)}"})
    assert code == 404 and b"ghost" in body


async def test_rotated_token_replaces_the_old_one(mcp_daemon: DaemonProcess) -> None:
    old = token(mcp_daemon)
    rotated = mcp_daemon.ctl("mcp", "token", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip()
    assert new != old and new == token(mcp_daemon)
    assert (mcp_daemon.paths.token_file.stat().st_mode & 0o777) == 0o600
    code, _ = _post(mcp_url(mcp_daemon), json.dumps(INIT).encode(), {"Authorization": f"Bearer {old}"})
    assert code == 401
    async with http_client(mcp_daemon, bearer=new) as client:
        assert (await client.list_tools()).tools


def test_token_survives_restart_and_never_reaches_the_log(mcp_daemon: DaemonProcess) -> None:
    before = token(mcp_daemon)
    _post(mcp_url(mcp_daemon), json.dumps(INIT).encode(), {"Authorization": f"Bearer {before}"})
    assert mcp_daemon.stop() == 0
    mcp_daemon.start()
    assert token(mcp_daemon) == before
    assert before not in mcp_daemon.paths.log_file.read_text()


def test_token_off_is_warned_and_shown(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, "require_token = false\n")
    code, _ = _post(mcp_url(daemon), json.dumps(INIT).encode(), {})
    assert code == 200
    assert daemon.client.daemon_status().mcp.require_token is False  # type: ignore[union-attr]
    assert "MCP token requirement is OFF" in daemon.paths.log_file.read_text()


def test_busy_port_is_a_startup_error_naming_the_port(daemon_proc: DaemonProcess) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stderr = daemon_proc.refused_start(f"[mcp]\nport = {port}\n")
    assert f"MCP port {port} on 127.0.0.1 is already in use" in stderr
    # The log says it could not start, and never "ready" before that.
    log = daemon_proc.paths.log_file.read_text()
    assert '"event": "synapsed could not start"' in log and '"event": "synapsed ready"' not in log


def test_non_loopback_bind_is_refused(daemon_proc: DaemonProcess) -> None:
    assert "not a loopback address" in daemon_proc.refused_start('[mcp]\nhost = "0.0.0.0"\n')


@pytest.mark.parametrize("client", ["claude-code", "cursor", "vscode", "windsurf", "codex", "claude-desktop", "generic"])
def test_config_snippet_for_each_client_parses(mcp_daemon: DaemonProcess, client: str) -> None:
    result = mcp_daemon.ctl("mcp", "config", "--client", client, "--connection", "gpt")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if client == "claude-code":
        assert out.startswith("claude mcp add --transport http synapse-gpt http://127.0.0.1:")
        assert f"Authorization: Bearer {token(mcp_daemon)}" in out
    elif client == "codex":
        table = tomllib.loads(out)["mcp_servers"]["synapse-gpt"]
        assert table["url"].endswith("/mcp/c/gpt")
        assert table["http_headers"]["Authorization"] == f"Bearer {token(mcp_daemon)}"
    elif client == "claude-desktop":
        entry = json.loads(out)["mcpServers"]["synapse-gpt"]
        assert entry["args"] == ["mcp", "stdio", "--connection", "gpt"]
    else:
        data = json.loads(out)
        entry = (data.get("servers") or data["mcpServers"])["synapse-gpt"]
        url = entry.get("url") or entry.get("serverUrl")
        assert url == mcp_url(mcp_daemon) + "/c/gpt"
        assert entry["headers"]["Authorization"] == f"Bearer {token(mcp_daemon)}"


def test_stdio_snippet_needs_no_daemon(daemon_proc: DaemonProcess) -> None:
    result = daemon_proc.ctl("mcp", "config", "--client", "cursor", "--stdio")
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)["mcpServers"]["synapse"]
    assert entry["args"] == ["mcp", "stdio"] and entry["env"]["SYNAPSE_HOME"] == str(daemon_proc.home)


def _bridge(daemon: DaemonProcess, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "synapsectl", "--home", str(daemon.home), "mcp", "stdio", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=daemon.env, cwd=REPO,
    )


def _initialize(bridge: subprocess.Popen[bytes]) -> dict:
    assert bridge.stdin is not None and bridge.stdout is not None
    bridge.stdin.write(json.dumps(INIT).encode() + b"\n")
    bridge.stdin.flush()
    return json.loads(bridge.stdout.readline())


def test_several_bridges_autostart_exactly_one_daemon(daemon_proc: DaemonProcess) -> None:
    daemon_proc.paths.config_dir.mkdir(parents=True, exist_ok=True)
    daemon_proc.paths.config_file.write_text("[mcp]\nport = 0\n")
    bridges = [_bridge(daemon_proc) for _ in range(4)]
    try:
        replies = [_initialize(b) for b in bridges]
        assert all(r["result"]["serverInfo"]["name"] == "mcp-synapse" for r in replies)
        for bridge in bridges:
            assert bridge.stdin is not None
            bridge.stdin.close()
        codes = [b.wait(20) for b in bridges]
        stderr = [b.stderr.read().decode() for b in bridges if b.stderr is not None]
    finally:
        for bridge in bridges:
            if bridge.poll() is None:
                bridge.kill()
    assert codes == [0, 0, 0, 0]
    assert sum("started synapsed in the background" in e for e in stderr) == 1
    deadline = time.monotonic() + 10
    while '"event": "synapsed ready"' not in (log := daemon_proc.paths.log_file.read_text()):
        assert time.monotonic() < deadline, "synapsed never said it was ready"
        time.sleep(0.05)
    assert log.count('"event": "synapsed ready"') == 1
    assert "already running" not in log
    status = daemon_proc.client.daemon_status()
    daemon_proc.client.daemon_shutdown()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{status.pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_bridge_whose_daemon_cannot_start_says_why_instead_of_waiting_out_the_autostart(
        daemon_proc: DaemonProcess) -> None:
    daemon_proc.paths.config_dir.mkdir(parents=True, exist_ok=True)
    daemon_proc.paths.config_file.write_text("[mcp]\nport = 0\nbogus = 1\n")
    bridge = _bridge(daemon_proc)
    out, err = bridge.communicate(json.dumps(INIT).encode() + b"\n", timeout=20)  # the autostart wait is 30 s
    assert bridge.returncode == 1 and out == b""
    assert "synapsed could not start (exit 1): " in err.decode()
    assert "config.toml:3: Object contains unknown field `bogus`" in err.decode()
    assert "hint: fix the named field" in err.decode()
    assert '"event": "synapsed could not start"' in daemon_proc.paths.log_file.read_text()  # `synapsectl logs` too


def test_a_bridge_whose_daemon_finds_the_mcp_port_taken_says_so(daemon_proc: DaemonProcess) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon_proc.paths.config_dir.mkdir(parents=True, exist_ok=True)
        daemon_proc.paths.config_file.write_text(f"[mcp]\nport = {port}\n")
        bridge = _bridge(daemon_proc)
        out, err = bridge.communicate(json.dumps(INIT).encode() + b"\n", timeout=20)
    assert bridge.returncode == 1 and out == b""
    assert f"synapsed could not start (exit 1): MCP port {port} on 127.0.0.1 is already in use" in err.decode()
    assert "hint: another synapsed or program holds it" in err.decode()


def test_bridge_with_unknown_connection_fails_cleanly(daemon_proc: DaemonProcess) -> None:
    start_with_mcp(daemon_proc)
    bridge = _bridge(daemon_proc, "--connection", "ghost")
    out, err = bridge.communicate(timeout=20)
    assert bridge.returncode == 1
    assert out == b""  # nothing but protocol ever goes to stdout
    assert b"no connection named 'ghost'" in err and b"hint:" in err


def test_bridge_without_daemon_and_no_autostart_exits_3(daemon_proc: DaemonProcess) -> None:
    bridge = _bridge(daemon_proc, "--no-autostart")
    out, err = bridge.communicate(timeout=20)
    assert bridge.returncode == 3 and out == b""
    assert b"synapsed is not running" in err


def test_bridge_reports_a_daemon_that_dies_mid_session_and_stays_away(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc)
    daemon.env["SYNAPSE_BRIDGE_RECONNECT_S"] = "1"  # the bounded wait for a restart, shortened
    bridge = _bridge(daemon, "--no-autostart")
    try:
        assert _initialize(bridge)["result"]
        daemon.kill9()
        assert bridge.wait(20) == 1
        assert bridge.stderr is not None
        err = bridge.stderr.read()
        assert b"synapsed closed the connection" in err and b"did not come back within 1s" in err
    finally:
        if bridge.poll() is None:
            bridge.kill()


def test_idle_http_sessions_expire(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc, "session_idle_timeout_s = 10\n")
    headers = {"Authorization": f"Bearer {token(daemon)}"}
    request = urllib.request.Request(mcp_url(daemon), data=json.dumps(INIT).encode(), method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers})
    with urllib.request.urlopen(request, timeout=10) as response:
        session_id = response.headers["mcp-session-id"]
        response.read()
    session_headers = {**headers, "mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"}
    _post(mcp_url(daemon), json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(), session_headers)
    listing = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).encode()
    assert _post(mcp_url(daemon), listing, session_headers)[0] == 200
    assert [s["client_name"] for s in json.loads(daemon.ctl("mcp", "sessions", "--json").stdout)] == ["raw"]
    ping = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "ping"}).encode()
    time.sleep(12)
    code, _ = _post(mcp_url(daemon), ping, session_headers)
    assert code == 404  # the SDK ended the idle session; the client must initialize again
    assert json.loads(daemon.ctl("mcp", "sessions", "--json").stdout) == []


def test_mcp_socket_refuses_a_peer_without_the_bridge_hello(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(daemon.paths.mcp_socket))
        sock.sendall(json.dumps(INIT).encode() + b"\n")  # straight to MCP, no hello
        reply = json.loads(sock.makefile("rb").readline())
    assert reply["error"]["kind"] == "bad_request" and "synapsectl mcp stdio" in reply["error"]["hint"]
    assert daemon.client.daemon_status().mcp is not None
