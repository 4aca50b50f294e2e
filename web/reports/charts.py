"""Bar charts as plain geometry for the page's inline SVG (no script, nothing fetched).

The template draws what :func:`layout` measures: a row per bar with its label, this period's
bar, the previous period's paler bar under it, a target mark and the value. Lengths share one
scale per chart (0 to 100% for percentages); the table under the chart stays the source of
every figure, the chart only shows proportions.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tables import Chart

WIDTH = 720
LABEL_WIDTH = 200  # room for the line labels, left of the bars
VALUE_WIDTH = 80  # room for the value, right of the bars
ROW = 30
BAR = 12
PREVIOUS = 6
TOP = 8
LABEL_CHARACTERS = 14  # longer labels are shortened; the full label is the bar's tooltip


@dataclass(frozen=True)
class Row:
    """One bar's geometry, in SVG user units."""

    label: str
    short_label: str
    y: float
    width: float
    previous_width: float | None
    target_x: float | None
    shown: str
    verdict: str | None


@dataclass(frozen=True)
class ChartLayout:
    """A chart's size and rows."""

    width: int
    height: int
    bar_x: int
    bar_space: int
    rows: tuple[Row, ...]


def layout(chart: Chart) -> ChartLayout:
    """The geometry of ``chart``'s bars."""
    space = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    values = [b.value for b in chart.bars] + [b.previous or 0 for b in chart.bars] + [
        b.target or 0 for b in chart.bars]
    top = 1.0 if chart.percent else max([*values, 0.0])
    scale = space / top if top > 0 else 0.0
    rows = []
    for index, bar in enumerate(chart.bars):
        rows.append(Row(
            bar.label, _shortened(bar.label), TOP + index * ROW,
            max(0.0, min(bar.value, top)) * scale,
            None if bar.previous is None else max(0.0, min(bar.previous, top)) * scale,
            None if bar.target is None else LABEL_WIDTH + min(bar.target, top) * scale,
            bar.shown, bar.verdict))
    return ChartLayout(WIDTH, TOP * 2 + ROW * len(rows), LABEL_WIDTH, space, tuple(rows))


def _shortened(label: str) -> str:
    # Chinese characters take about two Latin widths.
    budget = LABEL_CHARACTERS * 2
    kept: list[str] = []
    for character in label:
        budget -= 2 if ord(character) > 0x2E80 else 1
        if budget < 0:
            return "".join(kept) + "…"
        kept.append(character)
    return label
