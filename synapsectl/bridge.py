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

from synapsed.errors import SynapseError
from synapsed.lifecycle import ALREADY_RUNNING, start_failure
from synapsed.paths import Paths, check_socket_path, ensure_private_dir
from synapsed.peer import connect_to_daemon

AUTOSTART_WAIT_S = 30.0
# The MCP socket opens ~0.3 s after synapsed starts; an IDE's first request waits on this poll.
AUTOSTART_POLL_S = 0.01
HELLO_TIMEOUT_S = 10.0


class BridgeError(Exception):
    def __init__(self, message: str, hint: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def _connect(path: Path) -> socket.socket | None:
    try:
        return connect_to_daemon(path)
    except OSError:
        return None


def _spawn_daemon(home: str | None) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "synapsed"] + (["--home", home] if home else [])
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # it logs to its own file (a failed start too); our stdout belongs to the IDE
        start_new_session=True,
        close_fds=True,
    )


def _answers(path: Path) -> bool:
    sock = _connect(path)
    if sock is None:
        return False
    sock.close()
    return True


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _start_failed(paths: Paths, code: int, log_offset: int) -> BridgeError | None:
    """The daemon we started exited before opening its socket: its own words, from its log; None
    when it only found another daemon of this home starting (that one's socket is worth the wait)."""
    reason = start_failure(paths.log_file, log_offset)
    if reason is None:
        return BridgeError(f"synapsed exited during start (exit {code}) without saying why in {paths.log_file}",
                           "run `synapsed` in a terminal (with the same --home) to see why")
    if reason.kind == ALREADY_RUNNING:
        return None
    return BridgeError(f"synapsed could not start (exit {code}): {reason.error}", reason.hint or "see `synapsectl logs`")


def connect_or_start(paths: Paths, home: str | None, autostart: bool) -> socket.socket:
    try:
        return _connect_or_start(paths, home, autostart)
    except SynapseError as exc:  # a path the OS or our ownership rule refuses: the daemon would refuse it too
        raise BridgeError(exc.message, exc.hint or "see `synapsectl logs`") from None


def _connect_or_start(paths: Paths, home: str | None, autostart: bool) -> socket.socket:
    check_socket_path(paths.socket)
    check_socket_path(paths.mcp_socket)
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
        daemon: subprocess.Popen[bytes] | None = None
        log_offset = _log_size(paths.log_file)
        if not _answers(paths.socket):
            daemon = _spawn_daemon(home)
            print(f"synapsectl: started synapsed in the background (pid {daemon.pid})", file=sys.stderr, flush=True)
        deadline = time.monotonic() + AUTOSTART_WAIT_S
        while time.monotonic() < deadline:
            sock = _connect(paths.mcp_socket)
            if sock is not None:
                return sock
            # Ours gave up (a bad config, say): fail now, unless another daemon for this home won the race.
            if daemon is not None and daemon.poll() is not None and not _answers(paths.socket):
                failed = _start_failed(paths, daemon.returncode, log_offset)
                if failed is not None:
                    raise failed
                daemon = None
            time.sleep(AUTOSTART_POLL_S)
    raise BridgeError(
        f"synapsed did not open {paths.mcp_socket} within {AUTOSTART_WAIT_S:g}s",
        "run `synapsectl logs` to see why it did not start",
    )


def _hello(sock: socket.socket, connection: str | None) -> bytes:
    try:
        return _hello_exchange(sock, connection)
    except OSError as exc:  # a daemon that accepted and dropped us (out of descriptors, stopping)
        raise BridgeError(f"synapsed closed the connection during the handshake ({_os_reason(exc)})",
                          "see `synapsectl logs`; `synapsectl status` shows whether the daemon is up") from None
    except ValueError:
        raise BridgeError("synapsed answered the handshake with something that is not JSON",
                          "is another program serving the daemon's MCP socket? see `synapsectl doctor`") from None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _hello_exchange(sock: socket.socket, connection: str | None) -> bytes:
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


# How long a bridge waits for a daemon that went away (a service manager's restart, an upgrade).
RECONNECT_ENV = "SYNAPSE_BRIDGE_RECONNECT_S"


def reconnect_wait_s() -> float:
    try:
        return min(max(float(os.environ.get(RECONNECT_ENV, "60")), 0.0), 3600.0)
    except ValueError:
        return 60.0



GONE_CODE = -32000  # a server-defined JSON-RPC error: the daemon went away mid-request
REPLAY_ID = "synapse-bridge-reinitialize"


class IdeGone(Exception):
    """The IDE closed our stdout: nobody is left to answer."""


def _write_all(data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            written = os.write(1, view)
            view = view[written:]
    except OSError:
        raise IdeGone from None


def _messages(line: bytes) -> list[dict[str, object]]:
    """The JSON-RPC messages of one line (a batch is a list); [] for what is not JSON."""
    try:
        parsed = json.loads(line)
    except (ValueError, RecursionError):  # nesting past the interpreter's limit raises the latter
        return []
    items = parsed if isinstance(parsed, list) else [parsed]
    return [m for m in items if isinstance(m, dict)]


class Bridge:
    """Newline-delimited MCP between the IDE (stdin/stdout) and the daemon's socket, surviving a
    daemon restart: the IDE's cached `initialize` and `initialized` open a fresh session on the
    new daemon, a request that was in flight gets a JSON-RPC error (never re-sent), and requests
    that arrive while the daemon is away are sent once it is back."""

    def __init__(self, paths: Paths, home: str | None, connection: str | None, autostart: bool) -> None:
        self.paths = paths
        self.home = home
        self.connection = connection
        self.autostart = autostart
        self.lock = threading.Condition()
        self.sock: socket.socket | None = None
        self.up = False
        self.stdin_closed = False
        self.in_flight: dict[str, object] = {}  # json-encoded id -> id, of requests sent and unanswered
        self.initialize: bytes | None = None
        self.initialized: bytes | None = None
        self.queued: list[bytes] = []

    # ---- IDE -> daemon (the stdin thread) -----------------------------------------------------

    def pump_stdin(self, fd: int = 0) -> None:
        buffer = b""
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self.from_ide(line + b"\n")
        except OSError:
            pass
        finally:
            # Even a line this thread failed on ends the input as EOF would: the daemon then
            # finishes the session and the bridge exits, where a dead thread left it hanging.
            with self.lock:
                self.stdin_closed = True
                if buffer.strip():
                    self._send_locked(buffer)
                if self.sock is not None:
                    _end_writes(self.sock)
                self.lock.notify_all()

    def from_ide(self, line: bytes) -> None:
        messages = _messages(line)
        with self.lock:
            for message in messages:
                if message.get("method") == "initialize":
                    self.initialize = line
                elif message.get("method") == "notifications/initialized":
                    self.initialized = line
            if not self.up or _closed_by_daemon(self.sock):
                # Not sent: it goes, once, to the next connection (a daemon that already
                # closed this one, killed say, never saw it, so it is not "in flight").
                self.queued.append(line)
                return
            self._track(messages)
            self._send_locked(line)

    def _track(self, messages: list[dict[str, object]]) -> None:
        for message in messages:
            if "method" in message and "id" in message:
                self.in_flight[json.dumps(message["id"])] = message["id"]

    def _send_locked(self, line: bytes) -> None:
        if self.sock is None:
            return
        try:
            self.sock.sendall(line)
        except OSError:
            pass  # the reader sees the daemon gone and answers what was in flight

    # ---- daemon -> IDE (the main thread) ------------------------------------------------------

    def forward(self, data: bytes) -> None:
        lines = data.split(b"\n")
        out = []
        with self.lock:
            for line in lines:
                if not line.strip():
                    continue
                for message in _messages(line):
                    if "method" not in message and "id" in message:
                        self.in_flight.pop(json.dumps(message["id"]), None)
                out.append(line + b"\n")
        _write_all(b"".join(out))

    def serve(self, sock: socket.socket, pending: bytes) -> str:
        """Pump one daemon connection until it ends: 'stdin' (the IDE is done) or 'daemon'."""
        with self.lock:
            self.sock = sock
            self.up = True
            queued, self.queued = self.queued, []
            for line in queued:
                self._track(_messages(line))
                self._send_locked(line)
            if self.stdin_closed:  # the IDE was done before this connection was up
                _end_writes(sock)
        buffer = pending
        try:
            while True:
                if b"\n" in buffer:
                    complete, buffer = buffer.rsplit(b"\n", 1)
                    self.forward(complete + b"\n")
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
        except OSError:  # a reset or a broken pipe on the daemon's socket: it went away
            pass
        finally:
            with self.lock:
                self.up = False
                self.sock = None
            sock.close()
        with self.lock:
            # The IDE closing stdin ends the daemon's session too: give that EOF a moment to land.
            return "stdin" if self.lock.wait_for(lambda: self.stdin_closed, timeout=0.2) else "daemon"

    def fail_in_flight(self) -> None:
        with self.lock:
            gone, self.in_flight = list(self.in_flight.values()), {}
        for request_id in gone:
            _write_all(json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {
                "code": GONE_CODE,
                "message": "synapsed went away while this request was in flight (it stopped or restarted); "
                           "the request was not re-sent: send it again if you want it",
            }}).encode() + b"\n")

    def reconnect(self) -> tuple[socket.socket, bytes]:
        """A fresh daemon connection with the IDE's session re-opened, within reconnect_wait_s()."""
        deadline = time.monotonic() + reconnect_wait_s()
        last: BridgeError | None = None
        while time.monotonic() < deadline:
            with self.lock:
                if self.stdin_closed:
                    raise BridgeError("the IDE closed the connection", "", code=0)
            try:
                sock = connect_or_start(self.paths, self.home, self.autostart)
                pending = _hello(sock, self.connection)
                return sock, self._replay(sock, pending)
            except BridgeError as exc:
                last = exc
            except OSError as exc:
                last = BridgeError(f"reconnecting failed: {exc}", "see `synapsectl logs`")
            time.sleep(0.2)
        raise last or BridgeError("synapsed did not come back", "see `synapsectl logs`")

    def _replay(self, sock: socket.socket, pending: bytes) -> bytes:
        """Re-send the IDE's initialize (under our own id, its reply swallowed) and initialized."""
        if self.initialize is None:
            return pending
        request = json.loads(self.initialize)
        request["id"] = REPLAY_ID
        sock.sendall(json.dumps(request).encode() + b"\n")
        sock.settimeout(HELLO_TIMEOUT_S)
        buffer = pending
        while True:
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if any(m.get("id") == REPLAY_ID for m in _messages(line)):
                    sock.settimeout(None)
                    if self.initialized is not None:
                        sock.sendall(self.initialized)
                    return buffer
            chunk = sock.recv(65536)
            if not chunk:
                raise BridgeError("synapsed closed the connection while the session was re-opened", "")
            buffer += chunk


def _closed_by_daemon(sock: socket.socket | None) -> bool:
    """Whether the daemon's end is closed (an EOF or a reset waits to be read), without reading:
    the reader thread may not have seen it yet."""
    if sock is None:
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # open, nothing to read
    except OSError:
        return True


def _end_writes(sock: socket.socket) -> None:
    """Half-close: the daemon reads EOF, answers what it was sent, and ends the session."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _say(text: str) -> None:
    """A line on stderr for the IDE's log; an IDE that closed stderr too is not an error of ours."""
    try:
        print(text, file=sys.stderr, flush=True)
    except OSError:
        pass


def _error(exc: BridgeError) -> int:
    _say(f"synapsectl mcp stdio: error: {exc.message}")
    if exc.hint:
        _say(f"hint: {exc.hint}")
    return exc.code


def run(paths: Paths, home: str | None, connection: str | None, autostart: bool) -> int:
    """Every broken pipe or reset ends in a clear line on stderr and an exit code, never a traceback."""
    try:
        return _run(paths, home, connection, autostart)
    except IdeGone:
        return 0
    except OSError as exc:
        return _error(BridgeError(f"the connection to synapsed failed ({_os_reason(exc)})",
                                  "the IDE should restart this MCP server; `synapsectl status` shows the daemon"))


def _run(paths: Paths, home: str | None, connection: str | None, autostart: bool) -> int:
    bridge = Bridge(paths, home, connection, autostart)
    try:
        sock = connect_or_start(paths, home, autostart)
        pending = _hello(sock, connection)
    except BridgeError as exc:
        return _error(exc)
    threading.Thread(target=bridge.pump_stdin, daemon=True).start()
    try:
        while bridge.serve(sock, pending) == "daemon":
            bridge.fail_in_flight()
            _say("synapsectl mcp stdio: synapsed went away; reconnecting")
            try:
                sock, pending = bridge.reconnect()
            except BridgeError as exc:
                if exc.code == 0:
                    return 0
                _say(f"synapsectl mcp stdio: error: synapsed closed the connection (it stopped or restarted) and "
                     f"did not come back within {reconnect_wait_s():g}s: {exc.message}")
                _say("hint: the IDE should restart this MCP server; `synapsectl status` shows the daemon")
                return 1
            _say("synapsectl mcp stdio: reconnected to synapsed")
    except IdeGone:
        return 0
    return 0
