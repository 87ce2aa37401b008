"""Shared helpers for the benchmarks: percentiles and rewriting one section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HEADERS = ("measure", "target", "result", "verdict")


def _cpu_ticks() -> list[int] | None:
    """The machine's CPU time so far by kind (/proc/stat: user … steal), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    return [int(x) for x in fields[1:9]]


# Taken when a benchmark starts: on a shared VM, time the hypervisor gave to other guests
# (steal) slows every figure of the run, so each section says how much there was.
_AT_START = _cpu_ticks()


def steal_share() -> float | None:
    now = _cpu_ticks()
    if now is None or _AT_START is None:
        return None
    spent = [b - a for a, b in zip(_AT_START, now, strict=True)]
    return spent[7] / sum(spent) if sum(spent) else None


def machine() -> str:
    steal = steal_share()
    described = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    return described + (f", CPU steal during the run {steal * 100:.0f} %" if steal is not None else "")


def report(section: str, rows: Sequence[Sequence[object]], markdown: Path | None, note: str = "",
           headers: Sequence[str] = HEADERS) -> None:
    """Print the table (and a note), and rewrite this benchmark's section of BENCHMARKS.md."""
    table = "\n".join([
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows],
    ])
    print(table)
    print(f"\nmachine: {machine()}" + (f"; {note}" if note else ""))
    if markdown:
        command = " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
        write_section(markdown, section, table, machine(), command)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_section(path: Path, name: str, table: str, machine: str, command: str) -> None:
    """Replace this benchmark's section in BENCHMARKS.md, leaving the others as they are."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamp = time.strftime("%Y-%m-%d")
    section = f"{start}\n## {name}\n\nCommand: `{command}` — {stamp}, {machine}\n\n{table}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nFigures from `make bench` on the machine named in each section.\n"
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
