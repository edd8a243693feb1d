"""Inline SVG charts (lines, bars) and the strategy labels and colours that the session report and the
backtest report share: plain SVG text, no script, no external resource, every label escaped."""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Mapping, Sequence

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
GAIN, LOSS = "#2ca02c", "#d62728"
WIDTH, HEIGHT, PAD = 720, 260, 48


def strategy_labels(names: Mapping[str, str]) -> dict[str, str]:
    """strategy id -> a label no other strategy of the report has: its name, and where two
    strategies share a name, the first characters of its id that tell them apart."""
    counts = Counter(names.values())
    labels = {}
    for strategy_id, name in names.items():
        if counts[name] == 1:
            labels[strategy_id] = name
            continue
        twins = [other for other, same in names.items() if same == name and other != strategy_id]
        width = 4
        while any(other[:width] == strategy_id[:width] for other in twins) and width < len(strategy_id):
            width += 2
        labels[strategy_id] = f"{name} #{strategy_id[:width]}"
    return labels


def strategy_colours(strategy_ids: Sequence[str]) -> dict[str, str]:
    """A colour per strategy, by the order of their ids: the same strategies get the same colours
    on every report, and no two of up to len(COLOURS) share one."""
    return {sid: COLOURS[index % len(COLOURS)] for index, sid in enumerate(sorted(set(strategy_ids)))}


def scale(values: Sequence[float], low: float, high: float) -> tuple[float, float]:
    """(origin, factor) mapping the values' range onto [low, high]: `low + (v - origin) * factor`.
    A flat range is widened by one either side."""
    smallest, largest = min(values), max(values)
    if largest == smallest:
        largest, smallest = largest + 1, smallest - 1
    return smallest, (high - low) / (largest - smallest)


def _identity(title: str, chart_id: str | None) -> tuple[str, str]:
    """The opening tag's id attribute and the `<title>` element of a chart that has an id."""
    if chart_id is None:
        return "", ""
    return f' id="{html.escape(chart_id)}"', f"<title>{html.escape(title)}</title>"


def _no_data(title: str, chart_id: str | None) -> str:
    if chart_id is None:
        text = f'<text x="10" y="30">{html.escape(title)}: no data</text>'
        return f'<svg class="chart" width="{WIDTH}" height="60">{text}</svg>'
    id_attribute, title_element = _identity(title, chart_id)
    return (
        f'<svg class="chart"{id_attribute} xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="60" '
        f'role="img" aria-label="{html.escape(title)}">{title_element}'
        f'<text x="10" y="30">{html.escape(title)}: no data</text></svg>'
    )


def svg_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    x_labels: Sequence[tuple[float, str]],
    title: str,
    colours: Mapping[str, str] | None = None,
    zero_line: bool = True,
    *,
    chart_id: str | None = None,
    spans: Sequence[tuple[float, float, str]] = (),
) -> str:
    """Lines over a shared x axis, a zero line, min/max labels; plain SVG, no script.
    `colours`: per series name (else the palette in order). `chart_id`: an id and a `<title>` for
    the svg. `spans`: (x from, x to, label) bands shaded behind the lines."""
    points = [p for line in series.values() for p in line]
    if not points:
        return _no_data(title, chart_id)
    xs, ys = [p[0] for p in points], [p[1] for p in points] + ([0.0] if zero_line else [])
    x0, xk = scale(xs, PAD, WIDTH - PAD)
    y0, yk = scale(ys, PAD / 2, HEIGHT - PAD)

    def sx(x: float) -> float:
        return PAD + (x - x0) * xk

    def sy(y: float) -> float:
        return HEIGHT - PAD - (y - y0) * yk

    id_attribute, title_element = _identity(title, chart_id)
    parts = [
        f'<svg class="chart"{id_attribute} xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT + 20 * len(series)}" role="img" aria-label="{html.escape(title)}">',
        *([title_element] if title_element else []),
        f'<text x="{PAD}" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    for start, end, label in spans:
        left, right = sorted((sx(start), sx(end)))
        parts.append(
            f'<rect class="span" x="{left:.1f}" y="{PAD / 2:.1f}" width="{right - left:.1f}" '
            f'height="{HEIGHT - PAD - PAD / 2:.1f}" fill="{LOSS}" fill-opacity="0.12">'
            f"<title>{html.escape(label)}</title></rect>"
        )
        parts.append(
            f'<text x="{left + 2:.1f}" y="{PAD / 2 + 12:.1f}" font-size="10" fill="{LOSS}">'
            f"{html.escape(label)}</text>"
        )
    parts += [
        (
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" '
            'stroke="#999" stroke-dasharray="4 3"/>'
            if zero_line
            else ""
        ),
        f'<text x="4" y="{sy(max(ys)) + 4:.1f}" font-size="10">{max(ys):,.0f}</text>',
        f'<text x="4" y="{sy(min(ys)) + 4:.1f}" font-size="10">{min(ys):,.0f}</text>',
    ]
    for x, label in x_labels:
        parts.append(
            f'<text x="{sx(x):.1f}" y="{HEIGHT - PAD + 16}" font-size="10" '
            f'text-anchor="middle">{html.escape(label)}</text>'
        )
    for index, (name, line) in enumerate(series.items()):
        colour = (colours or {}).get(name) or COLOURS[index % len(COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line)
        parts.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>'
        )
        parts.append(
            f'<text x="{PAD}" y="{HEIGHT + 20 * index}" font-size="11" '
            f'fill="{colour}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def svg_bar_chart(
    bars: Sequence[tuple[str, float]],
    title: str,
    *,
    chart_id: str | None = None,
    max_labels: int = 12,
) -> str:
    """One bar per (label, value) from a zero line: gains green, losses red, each bar's label and
    value in its tooltip; at most `max_labels` labels under the axis, evenly spaced."""
    if not bars:
        return _no_data(title, chart_id)
    values = [value for _, value in bars] + [0.0]
    y0, yk = scale(values, PAD / 2, HEIGHT - PAD)

    def sy(y: float) -> float:
        return HEIGHT - PAD - (y - y0) * yk

    slot = (WIDTH - 2 * PAD) / len(bars)
    bar_width = min(48.0, max(1.0, slot * 0.8))
    every = max(1, math.ceil(len(bars) / max(1, max_labels)))
    id_attribute, title_element = _identity(title, chart_id)
    parts = [
        f'<svg class="chart"{id_attribute} xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        *([title_element] if title_element else []),
        f'<text x="{PAD}" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="4" y="{sy(max(values)) + 4:.1f}" font-size="10">{max(values):,.0f}</text>',
        f'<text x="4" y="{sy(min(values)) + 4:.1f}" font-size="10">{min(values):,.0f}</text>',
    ]
    for index, (label, value) in enumerate(bars):
        left = PAD + index * slot + (slot - bar_width) / 2
        top, bottom = sorted((sy(value), sy(0)))
        parts.append(
            f'<rect class="bar" x="{left:.1f}" y="{top:.1f}" width="{bar_width:.1f}" '
            f'height="{bottom - top:.1f}" fill="{GAIN if value >= 0 else LOSS}">'
            f"<title>{html.escape(label)}: {value:,.2f}</title></rect>"
        )
        if index % every == 0:
            parts.append(
                f'<text x="{left + bar_width / 2:.1f}" y="{HEIGHT - PAD + 16}" font-size="10" '
                f'text-anchor="middle">{html.escape(label)}</text>'
            )
    parts.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#999"/>')
    parts.append("</svg>")
    return "\n".join(parts)
