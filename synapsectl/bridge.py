"""`synapsectl mcp stdio`: a byte pump between an IDE's stdin/stdout and the daemon's MCP socket.

Stdlib only, so an IDE's launch costs ~tens of ms. Nothing but protocol goes to stdout; notices
go to stderr. Starts synapsed in the background when none is running (once, even when several
bridges start together: they serialise on a lock file and re-check).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from synapsed.paths import Paths, ensure_private_dir

AUTOSTART_WAIT_S = 30.0
HELLO_TIMEOUT_S = 10.0


class BridgeError(Exception):
    def __init__(self, message: str, hint: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _spawn_daemon(home: str | None) -> int:
    argv = [sys.executable, "-m", "synapsed"] + (["--home", home] if home else [])
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # it logs to its own file; our stdout belongs to the IDE
        start_new_session=True,
        close_fds=True,
    )
    return proc.pid


def connect_or_start(paths: Paths, home: str | None, autostart: bool) -> socket.socket:
    sock = _connect(paths.mcp_socket)
    if sock is not None:
        return sock
    if not autostart:
        raise BridgeError(
            f"synapsed is not running (no MCP socket at {paths.mcp_socket})",
            "start it with `synapsed`, or drop --no-autostart",
            code=3,
        )
    ensure_private_dir(paths.runtime_dir)
    lock_path = paths.runtime_dir / "autostart.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several bridges launched at once: one spawns, all wait
        sock = _connect(paths.mcp_socket)
        if sock is not None:
            return sock
        if _connect(paths.socket) is None:
            pid = _spawn_daemon(home)
            print(f"synapsectl: started synapsed in the background (pid {pid})", file=sys.stderr, flush=True)
        deadline = time.monotonic() + AUTOSTART_WAIT_S
        while time.monotonic() < deadline:
            sock = _connect(paths.mcp_socket)
            if sock is not None:
                return sock
            time.sleep(0.05)
    raise BridgeError(
        f"synapsed did not open {paths.mcp_socket} within {AUTOSTART_WAIT_S:g}s",
        "run `synapsectl logs` to see why it did not start",
    )


def _hello(sock: socket.socket, connection: str | None) -> bytes:
    sock.sendall(json.dumps({"synapse_bridge": 1, "connection": connection}).encode() + b"\n")
    sock.settimeout(HELLO_TIMEOUT_S)
    buffer = b""
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise BridgeError("synapsed closed the connection during the handshake", "see `synapsectl logs`")
        buffer += chunk
    sock.settimeout(None)
    line, rest = buffer.split(b"\n", 1)
    reply = json.loads(line)
    if "error" in reply:
        error = reply["error"]
        raise BridgeError(error.get("message", "refused"), error.get("hint", ""))
    return rest


def _pump_stdin(sock: socket.socket, stdin_closed: threading.Event) -> None:
    try:
        while True:
            chunk = os.read(0, 65536)
            if not chunk:
                break
            sock.sendall(chunk)
    except OSError:
        pass
    finally:
        stdin_closed.set()
        try:
            sock.shutdown(socket.SHUT_WR)  # the daemon sees EOF and ends the session
        except OSError:
            pass


def _write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(1, view)
        view = view[written:]


def run(paths: Paths, home: str | None, connection: str | None, autostart: bool) -> int:
    try:
        sock = connect_or_start(paths, home, autostart)
        pending = _hello(sock, connection)
    except BridgeError as exc:
        print(f"synapsectl mcp stdio: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.code
    stdin_closed = threading.Event()
    threading.Thread(target=_pump_stdin, args=(sock, stdin_closed), daemon=True).start()
    try:
        if pending:
            _write_all(pending)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            _write_all(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    if stdin_closed.wait(0.5):
        return 0
    print("synapsectl mcp stdio: error: synapsed closed the connection (it stopped or restarted)", file=sys.stderr)
    print("hint: the IDE should restart this MCP server; `synapsectl status` shows the daemon", file=sys.stderr)
    return 1
