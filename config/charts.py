"""Small line charts as inline SVG, drawn on the server (no JavaScript, no CDN)."""

import datetime as dt

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# One colour per series, in a stable order (platform values sorted).
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")

WIDTH, HEIGHT = 560, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 12, 12, 28


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.2f}"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.0f}k"
    return f"{value:,.0f}"


def line_chart(
    series: dict[str, list[tuple[dt.date, float]]],
    *,
    title: str,
    labels: dict[str, str] | None = None,
    percent: bool = False,  # a rate: two decimals, no thousands
) -> SafeString:
    """An SVG line chart of `{name: [(date, value), ...]}` with axes and legend.

    Every piece of text is escaped; the numbers are formatted here.
    """
    labels = labels or {}
    points = [p for values in series.values() for p in values]
    if not points:
        return mark_safe(
            f'<p class="chart-empty">{escape(title)}: no analytics recorded yet.</p>'
        )
    days = [d for d, _ in points]
    values = [v for _, v in points]
    d0, d1 = min(days), max(days)
    v0, v1 = min(values), max(values)
    if v0 == v1:
        v0, v1 = v0 - 1, v1 + 1
    span_days = max((d1 - d0).days, 1)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(day: dt.date) -> float:
        return PAD_LEFT + plot_w * (day - d0).days / span_days

    def y(value: float) -> float:
        return PAD_TOP + plot_h * (1 - (value - v0) / (v1 - v0))

    parts = [
        f'<svg class="metric-chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        # Axes and three horizontal grid lines with their values.
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}" stroke="#999"/>',
        f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}" stroke="#999"/>',
    ]
    for fraction in (0, 0.5, 1):
        value = v0 + (v1 - v0) * fraction
        gy = y(value)
        parts.append(
            f'<line x1="{PAD_LEFT}" y1="{gy:.1f}" x2="{WIDTH - PAD_RIGHT}" '
            f'y2="{gy:.1f}" stroke="#ddd" stroke-dasharray="3,3"/>'
            f'<text x="{PAD_LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="currentColor">{escape(_fmt(value, percent))}</text>'
        )
    parts.append(
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 8}" font-size="11" '
        f'fill="currentColor">{d0:%Y-%m-%d}</text>'
        f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 8}" text-anchor="end" '
        f'font-size="11" fill="currentColor">{d1:%Y-%m-%d}</text>'
    )
    legend = []
    for i, name in enumerate(sorted(series)):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in series[name])
        label = labels.get(name, name)
        last = series[name][-1][1]
        parts.append(
            f'<polyline class="series" data-series="{escape(name)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" points="{coords}">'
            f"<title>{escape(label)}</title></polyline>"
        )
        legend.append(
            f'<li><span style="display:inline-block;width:10px;height:10px;'
            f'background:{colour};margin-right:4px"></span>{escape(label)}: '
            f"{escape(_fmt(last, percent))}</li>"
        )
    parts.append("</svg>")
    return mark_safe(
        f'<figure class="metric-figure"><figcaption><strong>{escape(title)}'
        f"</strong></figcaption>{''.join(parts)}"
        f'<ul class="chart-legend">{"".join(legend)}</ul></figure>'
    )
