"""Which local user owns the other end of a loopback TCP connection (Linux).

A Unix socket tells its peer's uid (SO_PEERCRED); a TCP socket does not, but on loopback both
ends are sockets of this kernel, and the kernel says who owns each: exactly, in one netlink
round trip (sock_diag, `inet_diag_req_v2` without NLM_F_DUMP looks up one 4-tuple), or by a scan
of /proc/net/tcp{,6} where netlink is not allowed (some sandboxes). Elsewhere the answer is None.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from synapsed.peer import IS_LINUX

_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NETLINK_SOCK_DIAG = 4
_ALL_STATES = 0xFFFFFFFF
_NO_COOKIE = 0xFFFFFFFF
_HEADER = struct.Struct("=IHHII")  # struct nlmsghdr
# struct inet_diag_req_v2 with its inet_diag_sockid: ports and addresses in network order.
_REQUEST_HEAD = struct.Struct("=BBBxI")
_SOCKID_PORTS = struct.Struct(">HH16s16s")
_SOCKID_TAIL = struct.Struct("=III")
_UID_OFFSET = _HEADER.size + 4 + 48 + 12  # inet_diag_msg: 4 bytes, sockid, expires/rqueue/wqueue


def owner_uid(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The uid owning the socket at `peer` that is connected to our `local` address, or None when
    the platform cannot say or the socket is gone."""
    if not IS_LINUX:
        return None
    try:
        return _by_netlink(peer, local)
    except OSError:
        return _by_proc(peer, local)


def _packed(host: str) -> tuple[int, bytes]:
    address = ipaddress.ip_address(host.split("%", 1)[0])
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    return family, address.packed.ljust(16, b"\0")


def _by_netlink(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    family, src = _packed(peer[0])
    _, dst = _packed(local[0])
    body = (_REQUEST_HEAD.pack(family, socket.IPPROTO_TCP, 0, _ALL_STATES)
            + _SOCKID_PORTS.pack(peer[1], local[1], src, dst) + _SOCKID_TAIL.pack(0, _NO_COOKIE, _NO_COOKIE))
    message = _HEADER.pack(_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(0.5)
        nl.sendto(message, (0, 0))
        reply = nl.recv(8192)
    length, kind, _flags, _seq, _pid = _HEADER.unpack_from(reply)
    if kind == _NLMSG_ERROR:
        errno = -struct.unpack_from("=i", reply, _HEADER.size)[0]
        if errno in (2, 3):  # ENOENT, ESRCH: no such socket (it closed already)
            return None
        raise OSError(errno, "sock_diag refused the lookup")
    if kind != _SOCK_DIAG_BY_FAMILY or length < _UID_OFFSET + 4:
        raise OSError("unexpected sock_diag reply")
    return int(struct.unpack_from("=I", reply, _UID_OFFSET)[0])


def _proc_address(host: str, port: int) -> str:
    """An address as /proc/net/tcp{,6} prints it: each 32-bit word in host byte order, in hex."""
    family, packed = _packed(host)
    words = 1 if family == socket.AF_INET else 4
    text = "".join(f"{struct.unpack('=I', packed[i * 4:i * 4 + 4])[0]:08X}" for i in range(words))
    return f"{text}:{port:04X}"


def _by_proc(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    family, _ = _packed(peer[0])
    path = "/proc/net/tcp" if family == socket.AF_INET else "/proc/net/tcp6"
    want = (_proc_address(*peer), _proc_address(*local))
    try:
        with open(path, encoding="ascii") as table:
            next(table, None)
            for line in table:
                fields = line.split()
                if len(fields) > 7 and (fields[1], fields[2]) == want:
                    return int(fields[7])
    except OSError:
        return None
    return None
