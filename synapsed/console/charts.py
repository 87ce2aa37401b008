"""Server-rendered SVG charts (pure): no script, no external asset, nothing the CSP must allow.

Every text that reaches the markup is escaped here, since the caller marks the result safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 36


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]  # one per day, in the order of `days`


def by_day(keys_values: list[tuple[str, float]]) -> tuple[list[str], list[Series]]:
    """Rows keyed "YYYY-MM-DD connection" (the ledger's day_connection grouping) to days and one
    series per connection."""
    cells: dict[tuple[str, str], float] = {}
    for key, value in keys_values:
        day, _, name = key.partition(" ")
        cells[(day, name)] = cells.get((day, name), 0.0) + value
    days = sorted({d for d, _ in cells})
    names = sorted({n for _, n in cells})
    return days, [Series(n, [cells.get((d, n), 0.0) for d in days]) for n in names]


def _fmt(value: float, unit: str) -> str:
    if unit != "usd":
        return f"{value:,.0f}"
    if value == 0:
        return "$0"
    if value >= 1:
        return f"${value:,.2f}"
    return "$" + f"{value:.3g}"  # fractions of a cent stay readable: $0.000125


def stacked_bars(title: str, days: list[str], series: list[Series], unit: str) -> str:
    """An SVG of one stacked bar per day, a y scale, day labels and a legend."""
    label = escape(title)
    if not days:
        return (f'<svg class="chart" role="img" aria-label="{label}: no data" viewBox="0 0 {WIDTH} 60" '
                f'xmlns="http://www.w3.org/2000/svg"><text x="8" y="34">No usage in this period.</text></svg>')
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    peak = max(totals) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(days)
    bar = min(48.0, max(2.0, slot * 0.7))  # one day of data is a bar, not a wall
    parts = [f'<svg class="chart" role="img" aria-label="{label}" viewBox="0 0 {WIDTH} {HEIGHT + 24 * ((len(series) + 3) // 4)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>']
    for step in range(5):
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{escape(_fmt(peak * step / 4, unit))}</text>')
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h
        for j, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                         f'<title>{escape(day)} {escape(s.name)}: {escape(_fmt(value, unit))}</title></rect>')
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" class="axis">{escape(day[5:])}</text>')
    for j, s in enumerate(series):
        lx = LEFT + (j % 4) * 160
        ly = HEIGHT + 8 + 24 * (j // 4)
        parts.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
                     f'<text x="{lx + 18}" y="{ly}" class="legend">{escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
