"""Who is on the other end of the Unix socket: only our own uid may drive the daemon."""

from __future__ import annotations

import os
import socket
import struct
import sys
from pathlib import Path

from synapsed.errors import SynapseError

_UCRED = struct.Struct("3i")
# A plain flag, not a sys.platform test inline: type checkers would prune the other branch.
IS_LINUX = sys.platform.startswith("linux")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;}


def peer_uid(sock: socket.socket) -> int | None:
    """The peer's uid from the kernel, or None where the platform cannot say."""
    if IS_LINUX:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        _pid, uid, _gid = _UCRED.unpack(raw)
        return int(uid)
    option = getattr(socket, "LOCAL_PEERCRED", None)
    if option is not None:  # macOS / BSD: struct xucred {u_int version; uid_t uid; ...}
        raw = sock.getsockopt(0, option, 76)  # SOL_LOCAL == 0
        return int(struct.unpack_from("Ii", raw)[1])
    return None


def peer_allowed(sock: socket.socket | None, own_uid: int | None = None) -> bool:
    """True for a peer of our own uid; a peer the kernel cannot identify is allowed only off Linux,
    where the 0700 runtime dir and 0600 socket are the guard."""
    if sock is None or sock.family != socket.AF_UNIX:
        return False
    uid = peer_uid(sock)
    if uid is None:
        return not sys.platform.startswith("linux")
    return uid == (os.getuid() if own_uid is None else own_uid)


def check_server(sock: socket.socket, path: Path) -> None:
    """The client's half of the same rule, checked before a byte is sent: a socket served by
    another uid is not our daemon (say, a /tmp/synapse-$UID another user created first, where
    there is no XDG_RUNTIME_DIR), and a key or prompt sent to it would be handed to that user."""
    uid = peer_uid(sock)
    if uid is None or uid == os.getuid():
        return
    raise SynapseError(
        "permission_denied",
        f"{path} is served by uid {uid}, not by you (uid {os.getuid()}): refused to talk to it, nothing was sent",
        hint=(f"run synapsectl as the user who runs synapsed; if that is you, another user may be impersonating "
              f"it: check who owns {path.parent}, remove it, and start synapsed yourself, or set XDG_RUNTIME_DIR "
              "(or SYNAPSE_HOME) to a directory only you can write"),
        path=str(path),
        uid=uid,
    )


def connect_to_daemon(path: Path, timeout: float | None = None) -> socket.socket:
    """A connected Unix socket to `path` whose server passed check_server; OSError when nothing
    listens there, SynapseError when another user does (the socket is closed either way)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        check_server(sock, path)
    except BaseException:
        sock.close()
        raise
    return sock
