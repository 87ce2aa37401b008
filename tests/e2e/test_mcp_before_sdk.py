"""MCP while the SDK is still loading: a daemon whose import of the SDK is held at a gate
(tests/support/sdk_gate) answers what IDEs send first, over HTTP and through the stdio bridge,
and a request only the SDK can answer waits for it and is then answered on the same session."""

from __future__ import annotations

import http.client
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.mcp_support import add_connection, token
from tests.support.daemon import REPO, DaemonProcess, isolated_env
from tests.support.fake_upstream import FakeUpstream

KEY = "sk-proj-Gate5Rt8NmQ2vXc4LpW7yZb1KdHs9"
VERSION = "2025-06-18"
INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "gated", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
RESOURCES = {"jsonrpc": "2.0", "id": 2, "method": "resources/list"}
ASK = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
       "params": {"name": "ask", "arguments": {"prompt": "hello", "connection": "gpt"}}}
SET_LEVEL = {"jsonrpc": "2.0", "id": 4, "method": "logging/setLevel", "params": {"level": "info"}}
NOT_YET_S = 1.0  # how long a line waiting for the SDK is watched for a premature answer


class GatedDaemon:
    def __init__(self, daemon: DaemonProcess, gate: Path) -> None:
        self.daemon = daemon
        self.gate = gate

    def open_gate(self) -> None:
        self.gate.touch()

    def fail_gate(self) -> None:
        self.gate.write_bytes(b"fail")

    def sdk_loaded(self) -> bool:
        return "mcp ready" in self.daemon.paths.log_file.read_text()

    def http_url(self) -> str:
        """From the log: `synapsectl status` shows MCP only once the SDK has loaded."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for line in self.daemon.paths.log_file.read_text().splitlines():
                event = json.loads(line)
                if event["event"] == "mcp listening":
                    return str(event["url"])
            time.sleep(0.02)
        raise AssertionError("MCP did not listen: " + self.daemon.stderr())


@pytest.fixture
def gated(upstream: FakeUpstream) -> Iterator[GatedDaemon]:
    root = Path(tempfile.mkdtemp(prefix="syn-", dir="/tmp"))
    home = root / "home"
    env = {**isolated_env(root, home, root / "keyring.json"), "GPT_KEY": KEY,
           "SYNAPSE_TEST_SDK_GATE": str(root / "gate"),
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "support" / "sdk_gate"), str(REPO)])}
    daemon = DaemonProcess(home, env)
    daemon.paths.config_dir.mkdir(parents=True, exist_ok=True)
    daemon.paths.config_file.write_text("schema_version = 1\n\n[mcp]\nport = 0\n")
    gated = GatedDaemon(daemon, root / "gate")
    try:
        daemon.start()
        add_connection(daemon, "gpt", "openai", "test-model", upstream.base_url, "GPT_KEY")
        gated.http_url()
        yield gated
        for where in (daemon.paths.log_file.read_text(), daemon.paths.config_file.read_text()):
            assert KEY not in where
    finally:
        if not gated.gate.exists():
            gated.open_gate()  # a daemon stopping with its import thread held would wait for it
        daemon.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream("openai").start()
    fake.echo_chat()
    yield fake
    fake.stop()


class Bridge:
    """`synapsectl mcp stdio` with a read timeout, line by line."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "synapsectl", "--home", str(daemon.home), "mcp", "stdio",
                                      "--no-autostart"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=daemon.env, cwd=REPO)
        self.buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def line(self, timeout: float = 20.0) -> dict[str, Any] | None:
        """The next line, or None when none came within `timeout`."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            assert chunk, "the bridge closed its stdout"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


@contextmanager
def _session(gated: GatedDaemon, initialized: bool = True) -> Iterator[Bridge]:
    """A bridge session past its initialize (and `initialized`, unless told not to)."""
    bridge = Bridge(gated.daemon)
    try:
        bridge.send(INITIALIZE)
        assert bridge.line() is not None
        if initialized:
            bridge.send(INITIALIZED)
        yield bridge
    finally:
        bridge.close()


def _open_and_list(gated: GatedDaemon) -> list[dict[str, Any] | None]:
    """A bridge session's initialize and tools/list replies, pipelined as IDEs send them."""
    bridge = Bridge(gated.daemon)
    try:
        for message in (INITIALIZE, INITIALIZED, LIST):
            bridge.send(message)
        return [bridge.line(), bridge.line()]
    finally:
        bridge.close()


def _tool_names(reply: dict[str, Any] | None) -> list[str]:
    assert reply is not None and "result" in reply, reply
    return [tool["name"] for tool in reply["result"]["tools"]]


def test_stdio_bridge_answers_initialize_and_tools_list_before_the_sdk_loads(gated: GatedDaemon) -> None:
    bridge = Bridge(gated.daemon)
    try:
        bridge.send(INITIALIZE)
        opened = bridge.line()
        assert opened is not None and opened["id"] == 0
        assert opened["result"]["protocolVersion"] == VERSION
        assert opened["result"]["serverInfo"]["name"] == "mcp-synapse"
        bridge.send(INITIALIZED)
        bridge.send(LIST)
        assert "ask" in _tool_names(bridge.line())
        bridge.send({"jsonrpc": "2.0", "id": "p", "method": "ping"})
        assert bridge.line() == {"jsonrpc": "2.0", "id": "p", "result": {}}
        assert not gated.sdk_loaded()
        sessions = json.loads(gated.daemon.ctl("mcp", "sessions", "--json").stdout)
        assert [(s["transport"], s["client_name"]) for s in sessions] == [("stdio", "gated")]
    finally:
        bridge.close()


def test_the_answers_before_the_sdk_are_the_sdks_own(gated: GatedDaemon) -> None:
    """The same lines on a session opened before the SDK loaded and on one opened after it
    (test_mcp_fast_path holds the latter equal to what a daemon without the fast path sends)."""
    before = _open_and_list(gated)
    assert not gated.sdk_loaded()
    gated.open_gate()
    deadline = time.monotonic() + 30
    while not gated.sdk_loaded():
        assert time.monotonic() < deadline, "the SDK did not load"
        time.sleep(0.05)
    after = _open_and_list(gated)
    assert before == after


def test_a_bridge_line_only_the_sdk_answers_waits_for_it_and_the_session_goes_on(gated: GatedDaemon) -> None:
    with _session(gated) as bridge:
        bridge.send(RESOURCES)
        assert bridge.line(timeout=NOT_YET_S) is None  # held: the SDK has not loaded
        gated.open_gate()
        listed = bridge.line()
        assert listed is not None and listed["id"] == 2, listed  # and nothing for the replayed initialize
        assert [r["name"] for r in listed["result"]["resources"]] == ["connections", "threads"]
        bridge.send(SET_LEVEL)  # the SDK's own session was initialized by the replay
        assert bridge.line() == {"jsonrpc": "2.0", "id": 4, "result": {}}
        bridge.send(ASK)
        answered = bridge.line()
        assert answered is not None and answered["id"] == 3 and answered["result"]["isError"] is False, answered
        assert answered["result"]["structuredContent"]["connection"] == "gpt"
        bridge.send(LIST)
        assert "ask" in _tool_names(bridge.line())


def test_a_second_initialize_before_the_sdk_loads_goes_to_the_sdk(gated: GatedDaemon) -> None:
    with _session(gated, initialized=False) as bridge:
        bridge.send({**INITIALIZE, "id": 9})
        assert bridge.line(timeout=NOT_YET_S) is None
        gated.open_gate()
        again = bridge.line()
        assert again is not None and again["id"] == 9, again  # the SDK's own answer to it


async def test_http_answers_initialize_and_tools_list_before_the_sdk_loads_then_serves_the_rest(
    gated: GatedDaemon,
) -> None:
    url = gated.http_url()
    headers = {"Authorization": f"Bearer {token(gated.daemon)}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.post(url, json=INITIALIZE, headers=headers) as response:
            assert response.status == 200
            headers = {**headers, "mcp-session-id": response.headers["mcp-session-id"], "mcp-protocol-version": VERSION}
        async with http.post(url, json=INITIALIZED, headers=headers) as response:
            assert response.status == 202
        async with http.post(url, json=LIST, headers=headers) as response:
            assert "ask" in _tool_names(await response.json())
        assert not gated.sdk_loaded()
        gated.open_gate()
        async with http.post(url, json=RESOURCES, headers=headers) as response:
            listed = await response.json()
        assert [r["name"] for r in listed["result"]["resources"]] == ["connections", "threads"]
        async with http.post(url, json=ASK, headers=headers) as response:
            answered = await response.json()
        assert answered["result"]["isError"] is False, answered


def test_a_line_over_the_size_cap_before_the_sdk_loads_fails_alone(gated: GatedDaemon) -> None:
    """The daemon answers that request with the cap's error (logged) and reads on: the IDE's
    session goes on, on the same connection (it used to be closed and the request reported as
    in flight when synapsed went away)."""
    with _session(gated) as bridge:
        huge = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "ask", "arguments": {"prompt": "x" * (1024 * 1024 + 10), "connection": "gpt"}}}
        bridge.send(huge)
        failed = bridge.line()
        assert failed is not None and failed["id"] == 7 and failed["error"]["code"] == -32600, failed
        assert "max_body_bytes" in failed["error"]["message"]
        bridge.send(LIST)
        assert "ask" in _tool_names(bridge.line())
        assert "bridge message over the size cap" in gated.daemon.paths.log_file.read_text()


def test_lines_waiting_for_an_sdk_that_fails_to_load_get_an_error(gated: GatedDaemon) -> None:
    with _session(gated) as bridge:
        bridge.send(RESOURCES)
        assert bridge.line(timeout=NOT_YET_S) is None
        gated.fail_gate()
        failed = bridge.line()
        assert failed is not None and failed["id"] == 2 and failed["error"]["code"] == -32603, failed
        assert "synapsectl logs" in failed["error"]["message"]
        log = gated.daemon.paths.log_file.read_text()
        assert "mcp server not loaded" in log and "the test's SDK gate failed this import" in log
        assert gated.daemon.client.daemon_status().pid  # the control plane is still up
    status, body = _http_post(gated, RESOURCES)
    assert status == 503 and "could not load its MCP server" in body["error"]["message"]


def _http_post(gated: GatedDaemon, message: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One stateless-era POST (no session): what needs the SDK waits for it or is refused."""
    port = int(gated.http_url().rsplit(":", 1)[1].split("/", 1)[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", "/mcp", body=json.dumps(message), headers={
            "Authorization": f"Bearer {token(gated.daemon)}", "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream", "Host": f"127.0.0.1:{port}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()
