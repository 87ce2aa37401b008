"""Process lifecycle: the single-instance lock, stale-socket cleanup, sd_notify readiness, the
open-files limit, and the record of a start that failed."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import resource
import socket
from dataclasses import dataclass
from pathlib import Path

from synapsed.errors import SynapseError


class AlreadyRunning(Exception):
    def __init__(self, pid: int | None, lock_file: Path) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"synapsed is already running for this home ({who}, lock {lock_file})")
        self.pid = pid


class InstanceLock:
    """An flock on the runtime dir's lock file, held for the daemon's lifetime.

    The kernel drops an flock when its holder dies, so a lock left by `kill -9` is never stale:
    whoever gets the lock owns the home, and any socket file it finds is a dead daemon's.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise AlreadyRunning(pid, self.path) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


def clear_stale_socket(path: Path) -> bool:
    """Remove a socket file left by a dead daemon (call only while holding the instance lock)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def sd_notify(state: str) -> bool:
    """Send a systemd notification (READY=1, STOPPING=1, ...) if NOTIFY_SOCKET is set."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        raise SynapseError("config_invalid", f"NOTIFY_SOCKET {address!r} is neither a path nor an abstract socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True


SD_LISTEN_FDS_START = 3


def inherited_sockets() -> list[socket.socket]:
    """Listening sockets passed by systemd socket activation (LISTEN_FDS / LISTEN_PID), if any."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)  # not for our children
    sockets = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count):
        os.set_inheritable(fd, False)
        sockets.append(socket.socket(fileno=fd))
    return sockets


# Every IDE connection, stream and upstream socket is a file. systemd's user services (and most
# logins) start a process with a soft limit of 1024, kept low for select()'s sake, and ask the
# programs that do not use select() to raise it to the hard limit themselves (systemd.exec(5),
# LimitNOFILE=); Go's runtime does so for every program. Below the hard limit, up to this:
OPEN_FILES_WANTED = 65536


def raise_open_files_limit(wanted: int = OPEN_FILES_WANTED) -> int:
    """Raise the soft RLIMIT_NOFILE toward `wanted`, never past the hard limit; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # macOS refuses more than kern.maxfilesperproc: keep what we have
        return soft
    return target


# The log event of a start that failed (Daemon.start_failed writes it), and its reader for
# whoever started the daemon without a terminal: the stdio bridge.
START_FAILED = "synapsed could not start"
READY = "synapsed ready"  # the event of a start that succeeded
ALREADY_RUNNING = "already_running"  # its kind when another daemon holds this home
_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class StartFailure:
    kind: str
    error: str
    hint: str | None


def start_failure(log_file: Path, since: int = 0) -> StartFailure | None:
    """The START_FAILED record written past byte `since` of the log, unless a start after it
    succeeded; else None."""
    try:
        with open(log_file, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(since, size - _TAIL_BYTES) if size >= since else 0)
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == READY:
            return None
        if isinstance(record, dict) and record.get("event") == START_FAILED:
            hint = record.get("hint")
            return StartFailure(str(record.get("kind", "")), str(record.get("error", "")),
                                hint if isinstance(hint, str) else None)
    return None
