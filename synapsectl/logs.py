"""`synapsectl logs`: read the daemon's JSON-lines log file directly (works with the daemon down)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

_FIXED = ("timestamp", "level", "event", "logger")


def human_line(raw: str) -> str:
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):  # not one of our lines: shown as it is
        return raw.rstrip("\n")
    if not isinstance(record, dict):
        return raw.rstrip("\n")
    extras = " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) or ' ' in v else v}" for k, v in record.items() if k not in _FIXED and k != "exception")
    stamp, level, event = (str(record.get(key, default)) for key, default in (("timestamp", ""), ("level", "?"), ("event", "")))
    line = f"{stamp[:23]} {level:<7} {event}"
    if extras:
        line += f"  {extras}"
    if "exception" in record:
        line += "\n  " + json.dumps(record["exception"])[:2000]
    return line


def tail(path: Path, lines: int) -> list[str]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return list(deque(handle, maxlen=lines))


def show(path: Path, lines: int, follow: bool, raw: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout  # looked up per call: a default bound at import ignores a redirected stdout
    if not path.exists():
        print(f"synapsectl: no log file at {path} yet (has synapsed run with this home?)", file=sys.stderr)
        return 1
    render = (lambda s: s.rstrip("\n")) if raw else human_line
    for line in tail(path, lines):
        out.write(render(line) + "\n")
    out.flush()
    if not follow:
        return 0
    return _follow(path, render, out)


def _follow(path: Path, render: Callable[[str], str], out: TextIO) -> int:
    handle = path.open("r", encoding="utf-8", errors="replace")
    handle.seek(0, os.SEEK_END)
    inode = os.fstat(handle.fileno()).st_ino
    try:
        while True:
            line = handle.readline()
            if line:
                out.write(render(line) + "\n")
                out.flush()
                continue
            time.sleep(0.25)
            try:
                if path.stat().st_ino != inode:  # rotated: continue in the new file
                    handle.close()
                    handle = path.open("r", encoding="utf-8", errors="replace")
                    inode = os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                pass
    except KeyboardInterrupt:
        return 0
    finally:
        handle.close()
