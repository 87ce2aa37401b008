"""Every malformed control-plane input gets its specific JSON-RPC error and the daemon keeps serving."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from synapsectl.client import RpcError
from synapsed import protocol as p
from tests.support.daemon import DaemonProcess


def _post(daemon: DaemonProcess, body: bytes) -> tuple[int, dict]:
    status, raw = daemon.client.post(body)
    return status, json.loads(raw) if raw else {}


def _raw_http(daemon: DaemonProcess, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(daemon.paths.socket))
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (b"{not json", p.PARSE_ERROR, "parse error"),
        (b"\xff\xfe garbage", p.PARSE_ERROR, "parse error"),
        (b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}', p.PARSE_ERROR, "parse error"),
        (b"", p.PARSE_ERROR, "parse error"),
        (b"[]", p.INVALID_REQUEST, "batch"),
        (b'[{"jsonrpc":"2.0","id":1,"method":"daemon.status"}]', p.INVALID_REQUEST, "batch requests are not supported"),
        (b'"just a string"', p.INVALID_REQUEST, "invalid request"),
        (b'{"jsonrpc":"2.0","id":1}', p.INVALID_REQUEST, "invalid request"),
        (b'{"jsonrpc":"1.0","id":1,"method":"daemon.status"}', p.INVALID_REQUEST, "jsonrpc must be"),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"daemon.status"}', p.INVALID_REQUEST, "invalid request"),
        (b'{"jsonrpc":"2.0","id":1,"method":"daemon.explode"}', p.METHOD_NOT_FOUND, "method not found: daemon.explode"),
        (b'{"jsonrpc":"2.0","id":1,"method":"connections.get","params":{}}', p.INVALID_PARAMS, "missing required field `name`"),
        (b'{"jsonrpc":"2.0","id":1,"method":"connections.get","params":{"name":5}}', p.INVALID_PARAMS, "Expected `str`"),
        (b'{"jsonrpc":"2.0","id":1,"method":"daemon.status","params":{"bogus":1}}', p.INVALID_PARAMS, "unknown field"),
        (b'{"jsonrpc":"2.0","id":1,"method":"daemon.status","params":[1,2]}', p.INVALID_REQUEST, "invalid request"),
    ],
)
def test_malformed_request_gets_specific_error_and_daemon_keeps_serving(
    daemon: DaemonProcess, body: bytes, code: int, fragment: str
) -> None:
    status, reply = _post(daemon, body)
    assert status == 200
    assert reply["jsonrpc"] == "2.0"
    assert reply["error"]["code"] == code
    assert fragment in reply["error"]["message"]
    assert reply["error"]["data"]["hint"]
    assert daemon.client.daemon_status().pid > 0


def test_error_reply_echoes_the_request_id(daemon: DaemonProcess) -> None:
    _, reply = _post(daemon, b'{"jsonrpc":"2.0","id":"abc","method":"nope.nope"}')
    assert reply["id"] == "abc"
    _, reply = _post(daemon, b"{bad")
    assert "id" in reply and reply["id"] is None


def test_oversized_body_gets_413_with_a_jsonrpc_error(daemon: DaemonProcess) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"daemon.status","params":{"x":"' + b"a" * (p.MAX_RPC_BODY + 10) + b'"}}'
    status, reply = _post(daemon, body)
    assert status == 413
    assert reply["error"]["code"] == p.INVALID_REQUEST
    assert reply["error"]["data"]["limit"] == p.MAX_RPC_BODY
    assert daemon.client.daemon_status().pid > 0


def test_a_test_prompt_past_the_control_socket_cap_names_the_way_for_long_prompts(daemon: DaemonProcess) -> None:
    daemon.ctl("connections", "add", "gpt", "--provider", "openai", "--model", "gpt-4o")
    result = daemon.ctl("test", "gpt", "-", input="a" * (p.MAX_RPC_BODY + 1))
    assert result.returncode == 1
    assert f"request body exceeds {p.MAX_RPC_BODY} bytes" in result.stderr
    assert "[mcp] max_body_bytes" in result.stderr


def test_oversized_chunked_body_without_length_is_refused(daemon: DaemonProcess) -> None:
    chunk = b"a" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6)) + b"0\r\n\r\n"
    raw = _raw_http(
        daemon,
        b"POST /rpc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body,
    )
    assert raw.startswith(b"HTTP/1.1 413")
    assert daemon.client.daemon_status().pid > 0


def test_notification_gets_no_body(daemon: DaemonProcess) -> None:
    status, raw = daemon.client.post(b'{"jsonrpc":"2.0","method":"daemon.status"}')
    assert status == 204
    assert raw == b""


def test_get_and_unknown_paths_are_refused_with_hints(daemon: DaemonProcess) -> None:
    conn = http.client.HTTPConnection("localhost")
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(str(daemon.paths.socket))
    conn.request("GET", "/rpc")
    response = conn.getresponse()
    assert response.status == 405
    assert json.loads(response.read())["error"]["data"]["hint"].startswith("POST JSON-RPC")
    conn.request("POST", "/other", body=b"{}")
    response = conn.getresponse()
    assert response.status == 404
    response.read()
    conn.close()


def test_domain_error_carries_kind_and_hint(daemon: DaemonProcess) -> None:
    with pytest.raises(RpcError) as caught:
        daemon.client.connections_get("missing")
    assert caught.value.code == p.DOMAIN_ERROR
    assert caught.value.kind == "not_found"
    assert "connections list" in caught.value.hint


def test_two_updates_on_the_same_revision_one_wins_one_conflicts(daemon: DaemonProcess) -> None:
    import threading

    created = daemon.client.connections_create(p.ConnectionSpec(name="shared", provider="openai", model="gpt-4o"))
    base = created.revision
    results: list[object] = []
    barrier = threading.Barrier(2)

    def update(model: str) -> None:
        barrier.wait()
        try:
            results.append(daemon.client.connections_update("shared", p.ConnectionPatch(model=model), revision=base))
        except RpcError as exc:
            results.append(exc)

    threads = [threading.Thread(target=update, args=(m,)) for m in ("gpt-4.1", "gpt-4.1-mini")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    errors = [r for r in results if isinstance(r, RpcError)]
    wins = [r for r in results if not isinstance(r, RpcError)]
    assert len(wins) == 1 and len(errors) == 1
    assert errors[0].kind == "conflict"
    assert errors[0].data["revision"] == base + 1
    assert daemon.client.connections_get("shared").connection.model == wins[0].connection.model  # type: ignore[attr-defined]
