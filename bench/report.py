"""Shared helpers for the benchmarks: percentiles, paired rounds, and rewriting one section of
BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

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


def in_turn(sides: Sequence[T], index: int) -> list[T]:
    """The order of round `index` of a paired comparison: flipped every other round, so
    neither side always runs first (on a warmer or a busier machine)."""
    return list(sides) if index % 2 == 0 else list(reversed(sides))


@dataclass(frozen=True)
class Paired:
    """The per-round ratios of two sides measured in the same rounds: a ratio of two runs
    made back to back moves much less than either run on a shared machine."""
    median: float
    low: float
    high: float

    def text(self, scale: float = 1.0, unit: str = "", digits: int = 2) -> str:
        """`1.02× (0.83–1.23)`-style: the median, then the range."""
        f = lambda x: f"{x * scale:.{digits}f}"  # noqa: E731
        return f"{f(self.median)}{unit} ({f(self.low)}–{f(self.high)})"


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Paired:
    ratios = sorted(n / d for n, d in zip(numerators, denominators, strict=True))
    return Paired(statistics.median(ratios), ratios[0], ratios[-1])


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
