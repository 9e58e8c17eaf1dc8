"""Server-rendered SVG charts: the geometry of stacked columns and horizontal bars, and their markup
(:func:`render`; built here rather than in a template: a 30-day chart has hundreds of elements, and the template
engine took most of the page's time drawing them).

Pure functions of the numbers: no database, no JavaScript, no inline style (the Content-Security-Policy forbids
it; colours come from CSS classes). Every bar is a link with a ``<title>`` saying what it counts, and the caller shows
the same numbers in a table beside the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass
class Series:
    """One stacked layer: a name, a CSS class for its colour, a value and a link per column."""

    name: str
    css_class: str
    values: Sequence[int]
    links: Sequence[str]


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    href: str
    title: str


@dataclass
class Tick:
    position: float
    text: str


@dataclass
class RowLabel:
    """A horizontal bar's name (right-aligned at ``name_x``) and value (at ``value_x``), on baseline ``y``."""

    name_x: float
    value_x: float
    y: float
    name: str
    value: str
    href: str


@dataclass
class Chart:
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_bottom: float
    plot_right: float
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    labels: list[RowLabel] = field(default_factory=list)  # horizontal charts: each row's name and value
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, name)
    total: int = 0


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at least ``value`` (at least 1): a round top for the axis."""
    if value <= 1:
        return 1
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * exponent >= value:
            return step * exponent
    return 10 * exponent  # pragma: no cover - the loop always returns


def stacked_columns(
    columns: Sequence[str],
    series: Sequence[Series],
    *,
    label_every: int = 1,
    width: int = 760,
    height: int = 240,
) -> Chart:
    """Columns (one per time bucket, ``columns`` their labels) with ``series`` stacked bottom-up in order.
    Zero values draw nothing; ``label_every`` thins the x labels."""
    left, right, top, bottom = 44.0, width - 8.0, 10.0, height - 26.0
    totals = [sum(s.values[i] for s in series) for i in range(len(columns))]
    top_value = nice_ceiling(max(totals, default=0))
    chart = Chart(width, height, left, top, bottom, right, total=sum(totals))
    chart.legend = [(s.css_class, s.name) for s in series]
    slot = (right - left) / max(len(columns), 1)
    bar_width = max(slot * 0.72, 1.0)
    scale = (bottom - top) / top_value
    for index, label in enumerate(columns):
        x = left + index * slot + (slot - bar_width) / 2
        base = bottom
        for s in series:
            value = s.values[index]
            if value <= 0:
                continue
            bar_height = value * scale
            base -= bar_height
            chart.bars.append(
                Bar(x, base, bar_width, bar_height, s.css_class, s.links[index], f"{label}: {value} {s.name}")
            )
        if index % label_every == 0:
            chart.x_ticks.append(Tick(left + index * slot + slot / 2, label))
    chart.y_ticks = [Tick(bottom - v * scale, f"{v:,}") for v in sorted({0, top_value // 2, top_value})]
    return chart


@dataclass
class Row:
    """One horizontal bar: its name, value, link and CSS class."""

    label: str
    value: int
    href: str
    css_class: str = "bar-default"


def horizontal_bars(rows: Sequence[Row], *, unit: str, width: int = 520, row_height: int = 24) -> Chart:
    """One bar per row, longest first as given, names on the left and values at the end of each bar."""
    left, right, top = 190.0, width - 50.0, 4.0
    height = int(top * 2 + row_height * max(len(rows), 1))
    chart = Chart(width, height, left, top, height - top, right, total=sum(r.value for r in rows))
    top_value = max((r.value for r in rows), default=0) or 1
    for index, row in enumerate(rows):
        y = top + index * row_height
        bar_width = max((right - left) * row.value / top_value, 1.0)
        title = f"{row.label}: {row.value} {unit}"
        chart.bars.append(Bar(left, y + 3, bar_width, row_height - 8, row.css_class, row.href, title))
        short = row.label if len(row.label) <= 30 else "…" + row.label[-29:]  # the full name is in the title
        baseline = y + row_height / 2 + 4
        chart.labels.append(RowLabel(left - 6, left + bar_width + 6, baseline, short, f"{row.value:,}", row.href))
    return chart


def _n(value: float) -> str:
    return f"{value:.1f}"


def render(chart: Chart, chart_id: str, title: str, description: str) -> SafeString:
    """The chart as an ``<svg role="group">`` named by its title and description, each bar a link named and
    tooltipped by its figure, followed by the legend (stacked charts). Every text is escaped.

    A group, not an image: an image's content is presentational, so the links inside it would be controls nested in
    a non-interactive image (axe: nested-interactive), unreachable for screen readers."""
    parts = [
        f'<svg class="chart" viewBox="0 0 {chart.width} {chart.height}" width="100%" role="group" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for tick in chart.y_ticks:
        y = _n(tick.position)
        parts.append(
            f'<line class="chart-grid" x1="{_n(chart.plot_left)}" x2="{_n(chart.plot_right)}" y1="{y}" y2="{y}"/>'
            f'<text class="chart-axis" x="{_n(chart.plot_left - 6)}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(tick.text)}</text>'
        )
    for bar in chart.bars:
        parts.append(
            f'<a href="{escape(bar.href)}" aria-label="{escape(bar.title)}"><rect class="{escape(bar.css_class)}" x="{_n(bar.x)}" y="{_n(bar.y)}" '
            f'width="{_n(bar.width)}" height="{_n(bar.height)}"><title>{escape(bar.title)}</title></rect></a>'
        )
    for tick in chart.x_ticks:
        parts.append(
            f'<text class="chart-axis" x="{_n(tick.position)}" y="{chart.height - 8}" text-anchor="middle">'
            f"{escape(tick.text)}</text>"
        )
    for label in chart.labels:
        parts.append(
            f'<a href="{escape(label.href)}"><text class="chart-label" x="{_n(label.name_x)}" y="{_n(label.y)}" '
            f'text-anchor="end">{escape(label.name)}</text></a>'
            f'<text class="chart-value" x="{_n(label.value_x)}" y="{_n(label.y)}">{escape(label.value)}</text>'
        )
    parts.append("</svg>")
    if chart.legend:
        parts.append('<ul class="chart-legend" aria-label="Legend">')
        for css_class, name in chart.legend:
            parts.append(
                f'<li><svg width="10" height="10" aria-hidden="true"><rect class="{escape(css_class)}" width="10" '
                f'height="10"/></svg> {escape(name)}</li>'
            )
        parts.append("</ul>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped
