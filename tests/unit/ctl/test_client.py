"""synapsectl/client.py: the typed RPC client checks whom it talks to before it sends a byte,
and says what went wrong when the answer is not the one it asked for."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synapsectl.cli import commands
from synapsectl.client import Client, ProtocolError
from synapsed import peer
from synapsed.errors import SynapseError
from synapsed.paths import MAX_SOCKET_PATH
from tests.support.unix_listener import SYSTEM_PYTHON, Listener, bytes_received, http_reply, other_users_socket

KEY = "sk-test-impostor-0123456789abcdef"
not_root = pytest.mark.skipif(os.getuid() != 0 or not SYSTEM_PYTHON.exists(),
                              reason="serving a socket as another user needs root and a system python3")


@pytest.fixture
def another_uid(monkeypatch: pytest.MonkeyPatch) -> int:
    """The kernel reports the socket's server as some other user."""
    other = os.getuid() + 4242
    monkeypatch.setattr(peer, "peer_uid", lambda sock: other)
    return other


def test_a_key_is_not_sent_to_a_socket_served_by_another_uid(tmp_path: Path, another_uid: int) -> None:
    listener = Listener(tmp_path / "synapsed.sock")
    with pytest.raises(SynapseError) as raised:
        Client(tmp_path / "synapsed.sock").secrets_set("work", KEY)
    assert listener.done() == b""
    assert raised.value.kind == "permission_denied"
    assert f"served by uid {another_uid}" in raised.value.message
    assert "nothing was sent" in raised.value.message
    assert "XDG_RUNTIME_DIR" in (raised.value.hint or "")
    assert KEY not in str(raised.value) + (raised.value.hint or "")


def test_a_socket_served_by_our_own_uid_gets_the_request(tmp_path: Path) -> None:
    listener = Listener(tmp_path / "synapsed.sock", reply=http_reply(b'{"jsonrpc":"2.0","id":1,"result":null}'))
    Client(tmp_path / "synapsed.sock").call("daemon.status")
    assert b"daemon.status" in listener.done()


@not_root
def test_a_socket_really_served_by_another_user_gets_nothing() -> None:
    with other_users_socket("synapsed.sock") as (home, server):
        with pytest.raises(SynapseError) as raised:
            Client(home / "run" / "synapsed.sock").secrets_set("work", KEY)
        assert bytes_received(server) == 0
    assert raised.value.kind == "permission_denied"
    assert "not by you" in raised.value.message


def test_a_socket_path_past_the_os_limit_is_named_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / ("d" * MAX_SOCKET_PATH) / "synapsed.sock"
    with pytest.raises(SynapseError) as raised:
        Client(path).daemon_status()
    assert raised.value.kind == "config_invalid"
    assert "longer than the OS allows" in raised.value.message
    assert "SYNAPSE_HOME" in (raised.value.hint or "")


def test_a_reply_of_another_shape_is_a_protocol_error_that_suggests_a_restart(tmp_path: Path) -> None:
    Listener(tmp_path / "synapsed.sock", reply=http_reply(b'{"jsonrpc":"2.0","id":1,"result":{}}'))
    with pytest.raises(ProtocolError) as raised:
        Client(tmp_path / "synapsed.sock").secrets_set("work", KEY)
    assert "unexpected shape" in str(raised.value)
    assert "another version" in raised.value.hint


def test_the_cli_reports_a_reply_of_another_shape_without_a_traceback(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    Listener(tmp_path / "run" / "synapsed.sock", reply=http_reply(b'{"jsonrpc":"2.0","id":1,"result":{"pid":"x"}}'))
    assert commands.main(["--home", str(tmp_path), "status"]) == commands.EXIT_FAILED
    err = capsys.readouterr().err
    assert "kind: internal" in err
    assert "unexpected shape" in err
    assert "restart it" in err
    assert "Traceback" not in err


def test_the_cli_refuses_another_users_socket_with_exit_1(tmp_path: Path, another_uid: int,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    listener = Listener(tmp_path / "run" / "synapsed.sock")
    assert commands.main(["--home", str(tmp_path), "--json", "status"]) == commands.EXIT_FAILED
    assert listener.done() == b""
    out = capsys.readouterr().out
    assert '"kind": "permission_denied"' in out
    assert f"uid {another_uid}" in out
