"""Who owns the other end of a loopback TCP connection: the kernel's answer, two ways."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator

import pytest

from synapsed import tcp_owner
from synapsed.peer import IS_LINUX
from tests.support.unix_listener import NOBODY, SYSTEM_PYTHON

linux_only = pytest.mark.skipif(not IS_LINUX, reason="the kernel says who owns a TCP socket only on Linux")


@pytest.fixture(params=[("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)], ids=["ipv4", "ipv6"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[tuple[str, int], tuple[str, int]]]:
    host, family = request.param
    server = socket.socket(family)
    try:
        server.bind((host, 0))
    except OSError:
        pytest.skip(f"no {host} on this machine")
    server.listen()
    client = socket.create_connection(server.getsockname()[:2])
    accepted, peer = server.accept()
    yield (peer[0], peer[1]), (accepted.getsockname()[0], accepted.getsockname()[1])
    for s in (client, accepted, server):
        s.close()


@linux_only
def test_netlink_names_our_own_uid_for_our_own_connection(pair) -> None:
    peer, local = pair
    assert tcp_owner._by_netlink(peer, local) == os.getuid()


@linux_only
def test_proc_scan_agrees_with_netlink(pair) -> None:
    peer, local = pair
    assert tcp_owner._by_proc(peer, local) == tcp_owner._by_netlink(peer, local)


@linux_only
def test_a_socket_that_is_gone_has_no_owner(pair) -> None:
    _, local = pair
    assert tcp_owner.owner_uid(("127.0.0.1", 1) if "." in local[0] else ("::1", 1), local) is None


@linux_only
def test_netlink_refused_falls_back_to_the_proc_scan(pair, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: object) -> int:
        raise PermissionError(13, "netlink not allowed here")

    monkeypatch.setattr(tcp_owner, "_by_netlink", refused)
    assert tcp_owner.owner_uid(*pair) == os.getuid()


@linux_only
@pytest.mark.skipif(os.getuid() != 0 or not SYSTEM_PYTHON.exists(), reason="acting as another user needs root")
def test_a_connection_made_by_another_user_is_owned_by_that_user() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = subprocess.Popen([str(SYSTEM_PYTHON), "-c",
                               f"import socket,sys; s=socket.create_connection(('127.0.0.1',{port})); sys.stdin.read()"],
                              user=NOBODY, stdin=subprocess.PIPE)
    try:
        accepted, peer = server.accept()
        assert tcp_owner.owner_uid(peer, accepted.getsockname()) == NOBODY
        accepted.close()
    finally:
        client.kill()
        client.wait()
        server.close()


def test_off_linux_the_owner_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp_owner, "IS_LINUX", False)
    assert tcp_owner.owner_uid(("127.0.0.1", 1), ("127.0.0.1", 2)) is None
