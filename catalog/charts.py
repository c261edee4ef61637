"""Charts drawn on the server as inline SVG: no script, no CDN, nothing for CSP to allow.

Every text that reaches the SVG goes through ``format_html`` (labels are user
data: source names, dataset names), so a chart can be put in a page as is.
The SVG is the image (``role="img"`` with a label and a description listing
every value, for screen readers); each bar carries a ``<title>`` that
browsers show as a tooltip with the exact value.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from lakeweb.templatetags.sizes import size_iec

BYTES = "bytes"

BARS_WIDTH = 560  # drawn at this many pixels, smaller on narrow screens (lakeweb.css)
COLUMNS_WIDTH = 960
LABEL_WIDTH = 170  # horizontal bars: the labels' column
VALUE_WIDTH = 90  # horizontal bars: the values' column
ROW_HEIGHT = 28
BAR_HEIGHT = 18
LABEL_CHARS = 24  # longer labels are cut in the picture; the tooltip keeps them whole
COLUMNS_HEIGHT = 220
COLUMNS_TOP = 22  # room for the values above the columns
COLUMNS_BOTTOM = 30  # room for the labels below
BAR_COLOUR = "#0d6efd"


def value_format(value: int, unit: str) -> str:
    """Short display: bytes human-readable, anything else a count with thousands separators."""
    if unit == BYTES:
        return size_iec(value)
    return f"{value:,}"


def value_exact(value: int, unit: str) -> str:
    """The exact value with its unit, for tooltips and the description."""
    exact = f"{value:,} {unit}"
    if unit == BYTES and value >= 1024:
        exact += f" ({size_iec(value)})"
    return exact


def _number(value: float) -> str:
    """An SVG coordinate: one decimal at most, so the markup stays short."""
    return f"{value:.1f}".removesuffix(".0")


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _scale(items: Sequence[tuple[str, int]], length: float) -> list[float]:
    """Bar lengths for the values: the largest fills ``length``; all zero draws nothing.

    A value above zero always shows (at least one unit), however small next to
    the largest.
    """
    top = max((value for _label, value in items), default=0)
    if top <= 0:
        return [0.0] * len(items)
    return [max(1.0, length * value / top) if value > 0 else 0.0 for _label, value in items]


def _svg(
    *,
    title: str,
    items: Sequence[tuple[str, int]],
    unit: str,
    width: int,
    height: float,
    body: SafeString,
) -> SafeString:
    description = "; ".join(f"{label}: {value_exact(value, unit)}" for label, value in items)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="lakeweb-chart" role="img" '
        'aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}">'
        "<title>{}</title><desc>{}</desc>{}</svg>",
        title,
        width,
        _number(height),
        width,
        _number(height),
        title,
        description or "No data yet.",
        body,
    )


def _empty(*, title: str, unit: str, width: int) -> SafeString:
    body = format_html(
        '<text class="chart-empty" x="{}" y="{}" text-anchor="middle">No data yet.</text>',
        width // 2,
        _number(ROW_HEIGHT / 2 + 4),
    )
    return _svg(title=title, items=[], unit=unit, width=width, height=ROW_HEIGHT, body=body)


def bar_chart(
    *, title: str, items: Sequence[tuple[str, int]], unit: str, width: int = BARS_WIDTH
) -> SafeString:
    """Horizontal bars, one row per (label, value), in the order given.

    ``unit`` names what is counted ("datasets"); ``BYTES`` shows sizes
    human-readable.
    """
    if not items:
        return _empty(title=title, unit=unit, width=width)
    area = width - LABEL_WIDTH - VALUE_WIDTH
    rows = []
    for row, ((label, value), length) in enumerate(zip(items, _scale(items, area), strict=True)):
        top = row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        middle = row * ROW_HEIGHT + ROW_HEIGHT / 2 + 4
        rows.append(
            (
                f"{label}: {value_exact(value, unit)}",
                LABEL_WIDTH - 8,
                _number(middle),
                _cut(label),
                LABEL_WIDTH,
                _number(top),
                _number(length),
                BAR_HEIGHT,
                BAR_COLOUR,
                _number(LABEL_WIDTH + length + 6),
                _number(middle),
                value_format(value, unit),
            )
        )
    body = format_html_join(
        "",
        '<g class="bar"><title>{}</title>'
        '<text class="chart-label" x="{}" y="{}" text-anchor="end">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>'
        '<text class="chart-value" x="{}" y="{}">{}</text></g>',
        rows,
    )
    height = len(items) * ROW_HEIGHT
    return _svg(title=title, items=items, unit=unit, width=width, height=height, body=body)


def column_chart(
    *, title: str, items: Sequence[tuple[str, int]], unit: str, width: int = COLUMNS_WIDTH
) -> SafeString:
    """Vertical columns, left to right in the order given (months, oldest first)."""
    if not items:
        return _empty(title=title, unit=unit, width=width)
    plot = COLUMNS_HEIGHT - COLUMNS_TOP - COLUMNS_BOTTOM
    base = COLUMNS_TOP + plot
    slot = width / len(items)
    column = slot * 0.7
    columns = []
    for index, ((label, value), length) in enumerate(zip(items, _scale(items, plot), strict=True)):
        centre = slot * index + slot / 2
        columns.append(
            (
                f"{label}: {value_exact(value, unit)}",
                _number(centre - column / 2),
                _number(base - length),
                _number(column),
                _number(length),
                BAR_COLOUR,
                _number(centre),
                _number(base - length - 5),
                value_format(value, unit),
                _number(centre),
                _number(base + 18),
                _cut(label),
            )
        )
    body = format_html_join(
        "",
        '<g class="bar"><title>{}</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>'
        '<text class="chart-value" x="{}" y="{}" text-anchor="middle">{}</text>'
        '<text class="chart-label" x="{}" y="{}" text-anchor="middle">{}</text></g>',
        columns,
    )
    axis = format_html(
        '<line class="chart-axis" x1="0" y1="{}" x2="{}" y2="{}" stroke="#adb5bd"></line>',
        base,
        width,
        base,
    )
    return _svg(
        title=title,
        items=items,
        unit=unit,
        width=width,
        height=COLUMNS_HEIGHT,
        body=format_html("{}{}", axis, body),
    )
