"""Server-rendered SVG charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from synapsed.console.charts import Series, by_day, stacked_bars


def test_rows_by_day_and_connection_become_aligned_series() -> None:
    days, series = by_day([("2026-11-01 a", 1.0), ("2026-11-02 b", 2.0), ("2026-11-02 a", 0.5)])
    assert days == ["2026-11-01", "2026-11-02"]
    assert series == [Series("a", [1.0, 0.5]), Series("b", [0.0, 2.0])]


def test_a_chart_is_well_formed_svg_with_one_bar_per_nonzero_cell() -> None:
    svg = stacked_bars("Cost", ["2026-11-01", "2026-11-02"], [Series("a", [1.0, 0.5]), Series("b", [0.0, 2.0])], "usd")
    root = ET.fromstring(svg)
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{http://www.w3.org/2000/svg}title") is not None]
    assert len(bars) == 3
    assert root.get("aria-label") == "Cost"


def test_names_are_escaped_inside_the_markup() -> None:
    svg = stacked_bars("<b>", ["2026-11-01"], [Series("<script>alert(1)</script>", [1.0])], "tokens")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)


def test_no_data_says_so() -> None:
    assert "No usage" in stacked_bars("Cost", [], [], "usd")
