"""A slowloris against the daemon's loopback MCP port: many connections, each sending a partial
request head and then one header line every so often, none with the token. Stdlib only, so that
another user can run it with the system python (the project's virtualenv sits in root's home)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.unix_listener import NOBODY, SYSTEM_PYTHON

# argv: port, connections, hold seconds, seconds between header lines. Prints "ready <opened>"
# once every connection is tried, then one JSON report when the hold ends.
SCRIPT = r"""
import json, socket, sys, time
port, count, hold, every = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
peers, failed = [], 0
for i in range(count):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port)
        s.setblocking(False)
        peers.append(s)
    except OSError:
        failed += 1
print("ready", len(peers), flush=True)
closed = 0
end = time.monotonic() + hold
while time.monotonic() < end and peers:
    time.sleep(every)
    alive = []
    for s in peers:
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                raise ConnectionResetError
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
            s.close()
            continue
        try:
            s.sendall(b"X-Slow: %d\r\n" % int(time.monotonic()))
            alive.append(s)
        except OSError:
            closed += 1
            s.close()
    peers = alive
print(json.dumps({"refused_at_connect": failed, "closed_by_daemon": closed, "still_open": len(peers)}), flush=True)
"""


def start(port: int, connections: int, hold_s: float, every_s: float, as_uid: int | None = None) -> subprocess.Popen[str]:
    python = str(SYSTEM_PYTHON) if as_uid is not None else os.environ.get("PYTHON", "python3")
    return subprocess.Popen([python, "-c", SCRIPT, str(port), str(connections), str(hold_s), str(every_s)],
                            user=as_uid, stdout=subprocess.PIPE, text=True, cwd="/",
                            preexec_fn=_raise_nofile)


def _raise_nofile() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))


def can_act_as_another_user() -> bool:
    return os.getuid() == 0 and SYSTEM_PYTHON.exists() and Path("/etc/passwd").exists() and NOBODY >= 0
