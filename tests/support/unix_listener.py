"""A Unix socket that is not synapsed: it records every byte a client sends, and can answer one
HTTP request with canned bytes. With `as_uid`, it runs in a child process of another user (an
impostor that got to a predictable socket path first); that needs root."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOBODY = 65534
WAIT_S = 10.0
# Another user cannot run the project's virtualenv (it sits in root's home); the server is stdlib only.
SYSTEM_PYTHON = Path("/usr/bin/python3")

_OTHER_USERS_SERVER = """
import socket, sys
sock = socket.socket(socket.AF_UNIX)
sock.bind(sys.argv[1])
sock.listen()
print("ready", flush=True)
conn, _ = sock.accept()
conn.settimeout(10)
received = b""
while chunk := conn.recv(65536):
    received += chunk
print(len(received), flush=True)
"""


class Listener:
    def __init__(self, path: Path, reply: bytes = b"") -> None:
        self.reply = reply
        self.received = b""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._sock.accept()
        with conn:
            conn.settimeout(WAIT_S)
            while chunk := conn.recv(65536):
                self.received += chunk
                if self.reply and _whole_request(self.received):
                    conn.sendall(self.reply)
                    return

    def done(self) -> bytes:
        """What the client sent, once it has closed its end."""
        self._thread.join(WAIT_S)
        self._sock.close()
        return self.received


def _whole_request(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def http_reply(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@contextmanager
def other_users_socket(name: str) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A runtime dir owned by another user, with a listening socket of theirs at runtime/NAME.
    Yields the home above the runtime dir and the server, which prints how many bytes it got."""
    root = Path(tempfile.mkdtemp(prefix="syn-other-", dir="/tmp"))
    os.chmod(root, 0o755)
    runtime = root / "run"
    runtime.mkdir()
    os.chown(runtime, NOBODY, NOBODY)
    server = subprocess.Popen([str(SYSTEM_PYTHON), "-c", _OTHER_USERS_SERVER, str(runtime / name)], user=NOBODY,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield root, server
    finally:
        server.kill()
        server.wait(WAIT_S)
        shutil.rmtree(root, ignore_errors=True)


def bytes_received(server: subprocess.Popen[str]) -> int:
    assert server.stdout is not None
    return int(server.stdout.readline())
