"""The stdio bridge ends when the IDE closes its input, after answering what it was sent: the
MCP stdio transport's own shutdown (close stdin, wait for the server to exit)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.mcp_support import add_connection, start_with_mcp
from tests.support.daemon import REPO, DaemonProcess
from tests.support.fake_upstream import FakeUpstream

KEY = "sk-proj-Eof4Kq9WnZ2xL7cV3bM8tR5"

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "pipe", "version": "1"}}}
SESSION = [INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"}, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]


def test_a_piped_session_is_answered_and_the_bridge_exits_when_its_input_ends(daemon_proc: DaemonProcess) -> None:
    daemon = start_with_mcp(daemon_proc)
    piped = "".join(json.dumps(message) + "\n" for message in SESSION)
    for _ in range(5):  # the IDE's EOF can land before or after the daemon connection is up
        run = subprocess.run([sys.executable, "-m", "synapsectl", "--home", str(daemon.home), "mcp", "stdio"],
                             input=piped, capture_output=True, text=True, env=daemon.env, cwd=REPO, timeout=20)
        assert run.returncode == 0, run.stderr
        assert [reply["id"] for reply in map(json.loads, run.stdout.splitlines())] == [1, 2]
    assert daemon.client.daemon_status().mcp.active_sessions == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ["fast", "sdk"])
def test_a_call_in_flight_when_the_input_ends_gets_connection_closed_on_both_paths(
        daemon_proc: DaemonProcess, openai_up: FakeUpstream, path: str) -> None:
    """The SDK's shutdown rule, kept by the fast path: the IDE closing its input ends the
    session, and each request still running gets -32000 "Connection closed", not silence."""
    daemon_proc.env["GPT_KEY"] = KEY
    daemon = start_with_mcp(daemon_proc, "fast_path = false\n" if path == "sdk" else "")
    add_connection(daemon, "gpt", "openai", "test-model", openai_up.base_url, "GPT_KEY")
    openai_up.echo_chat(delay=2.0)  # still running when the daemon reads the IDE's EOF
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "ask", "arguments": {"prompt": "late", "connection": "gpt"}}}
    piped = "".join(json.dumps(message) + "\n" for message in [*SESSION, call])
    run = subprocess.run([sys.executable, "-m", "synapsectl", "--home", str(daemon.home), "mcp", "stdio"],
                         input=piped, capture_output=True, text=True, env=daemon.env, cwd=REPO, timeout=20)
    assert run.returncode == 0, run.stderr
    replies = {reply.get("id"): reply for reply in map(json.loads, run.stdout.splitlines())}
    assert replies[3] == {"jsonrpc": "2.0", "id": 3, "error": {"code": -32000, "message": "Connection closed"}}
    assert openai_up.count("POST", openai_up.chat_path) <= 1  # never re-sent
    assert KEY not in run.stdout + run.stderr + daemon.all_state_text()
