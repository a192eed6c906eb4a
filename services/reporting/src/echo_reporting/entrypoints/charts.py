"""Charts as inline SVG, drawn on the server: no chart library, nothing fetched by the browser."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 560
HEIGHT = 240
PAD_LEFT = 48
PAD_BOTTOM = 36
PAD_TOP = 16


def _fmt(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def grouped_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    chart_id: str,
) -> str:
    """Vertical bars, one group per label and one bar per series, with a legend."""
    top = max([v for _, values in series for v in values] + [1.0])
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 2)
    parts = [
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}"'
        f' x2="{WIDTH - 8}" y2="{PAD_TOP + plot_h}"/>',
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end">'
        f"{_fmt(top)}</text>",
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{PAD_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(labels):
        x0 = PAD_LEFT + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / top
            x = x0 + j * bar_w
            parts.append(
                f'<rect class="bar s{j}" data-series="{escape(name)}" data-label="{escape(label)}"'
                f' data-value="{_fmt(value)}" x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}"'
                f' width="{bar_w - 1:.1f}" height="{h:.1f}">'
                f"<title>{escape(name)} {escape(label)}: {_fmt(value)}</title></rect>"
            )
        parts.append(
            f'<text class="label" x="{x0 + group_w * 0.4:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}"'
            f' text-anchor="middle">{escape(label)}</text>'
        )
    for j, (name, _) in enumerate(series):
        parts.append(
            f'<rect class="legend s{j}" x="{PAD_LEFT + j * 150}" y="{HEIGHT - 12}"'
            f' width="10" height="10"/><text class="legend-text" x="{PAD_LEFT + j * 150 + 14}"'
            f' y="{HEIGHT - 3}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(title: str, items: Sequence[tuple[str, float]], *, chart_id: str) -> str:
    """One horizontal bar per item, labelled with its value."""
    top = max([v for _, v in items] + [1.0])
    row_h = 28
    height = PAD_TOP + row_h * max(len(items), 1) + 8
    label_w = 170
    plot_w = WIDTH - label_w - 60
    parts = [
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {height}"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = PAD_TOP + i * row_h
        w = plot_w * value / top
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar s{i % 4}" data-label="{escape(label)}" data-value="{_fmt(value)}"'
            f' x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 17}">{_fmt(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
