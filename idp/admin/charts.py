"""Tiny server-side SVG charts (no JavaScript, no CDN); colours come from admin.css classes."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 220, 40, 40, 10


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 50_000, 100_000):
        if value <= step:
            return step
    return value


def _axes(top: float, labels: list[str], suffix: str = "") -> list[str]:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = [f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH}" '
             f'y2="{PAD_TOP + plot_h}"/>']
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - fraction)
        value = top * fraction
        shown = f"{value:g}{suffix}"
        parts.append(f'<text class="tick" x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{escape(shown)}</text>")
    step = max(1, len(labels) // 7)
    plot_w = WIDTH - PAD_LEFT
    for index, label in enumerate(labels):
        if index % step:
            continue
        x = PAD_LEFT + plot_w * (index + 0.5) / max(1, len(labels))
        parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" '
                     f'text-anchor="middle">{escape(label[-5:])}</text>')
    return parts


def _svg(parts: list[str], title: str) -> Markup:
    body = "".join(parts)
    return Markup(f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
                  f'aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>')


def line_chart(labels: list[str], series: dict[str, list[int]], title: str = "") -> Markup:
    """One polyline per series over the same labels, with a legend."""
    top = _nice_max(max((max(values) for values in series.values() if values), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = _axes(top, labels)
    for number, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{PAD_LEFT + plot_w * (i + 0.5) / max(1, len(values)):.1f},"
            f"{PAD_TOP + plot_h * (1 - v / top):.1f}" for i, v in enumerate(values))
        css = f"series-{number % 6}"
        parts.append(f'<polyline class="line {css}" points="{points}"/>')
        parts.append(f'<rect class="swatch {css}" x="{PAD_LEFT + 120 * number}" '
                     f'y="{HEIGHT - 14}" width="10" height="10"/>'
                     f'<text class="legend" x="{PAD_LEFT + 120 * number + 14}" y="{HEIGHT - 5}">'
                     f"{escape(name)}</text>")
    return _svg(parts, title or ", ".join(series))


def bar_chart(items: list[tuple[str, float]], *, maximum: float | None = None, suffix: str = "",
              title: str = "") -> Markup:
    """Vertical bars, one per item, labelled underneath."""
    top = maximum or _nice_max(max((value for _, value in items), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = _axes(top, [label for label, _ in items], suffix)
    width = plot_w / max(1, len(items))
    for index, (label, value) in enumerate(items):
        h = plot_h * min(value, top) / top
        parts.append(f'<rect class="bar series-{index % 6}" x="{PAD_LEFT + width * index + width * 0.15:.1f}" '
                     f'y="{PAD_TOP + plot_h - h:.1f}" width="{width * 0.7:.1f}" height="{h:.1f}">'
                     f"<title>{escape(label)}: {value:.0f}{escape(suffix)}</title></rect>")
    return _svg(parts, title or ", ".join(label for label, _ in items))
