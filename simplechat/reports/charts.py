"""A small SVG picture of the behaviour report: messages per day and by hour of day.

Written by hand (about a hundred lines of plain SVG) rather than pulling a charting library
into every install: the picture is two bar charts and a line of text.
"""

from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH = 760
CHART_HEIGHT = 150
BAR_COLOR = "#4f7cff"
MUTED = "#6b7280"


def _bars(
    values: Sequence[int], labels: Sequence[str], top: int, title: str, label_every: int
) -> list[str]:
    left, right = 40, WIDTH - 20
    slot = (right - left) / max(1, len(values))
    peak = max(values, default=0) or 1
    parts = [
        f'<text x="{left}" y="{top - 8}" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + CHART_HEIGHT}" x2="{right}" y2="{top + CHART_HEIGHT}" '
        f'stroke="{MUTED}"/>',
        f'<text x="{left - 6}" y="{top + 10}" font-size="10" text-anchor="end" '
        f'fill="{MUTED}">{peak}</text>',
    ]
    for index, (value, label) in enumerate(zip(values, labels, strict=True)):
        height = round(CHART_HEIGHT * value / peak)
        x = left + index * slot + slot * 0.15
        y = top + CHART_HEIGHT - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{slot * 0.7:.1f}" height="{height}" '
            f'fill="{BAR_COLOR}"><title>{escape(label)}: {value}</title></rect>'
        )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{top + CHART_HEIGHT + 14}" font-size="9" '
                f'text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
            )
    return parts


def render_activity_svg(
    *,
    title: str,
    summary: str,
    per_day: Sequence[tuple[str, int]],
    per_hour: Sequence[int],
) -> str:
    """An SVG document with a title, a summary line and the two bar charts."""
    day_labels = [day[5:] for day, _ in per_day]  # MM-DD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="480" '
        f'viewBox="0 0 {WIDTH} 480" font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="480" fill="white"/>',
        f'<text x="20" y="28" font-size="18" font-weight="bold">{escape(title)}</text>',
        f'<text x="20" y="50" font-size="12" fill="{MUTED}">{escape(summary)}</text>',
        *_bars([c for _, c in per_day], day_labels, 90, "Messages per day (last 30 days)", 5),
        *_bars(list(per_hour), [f"{h:02d}h" for h in range(24)], 300, "Messages by hour of day", 3),
        "</svg>",
    ]
    return "\n".join(parts)
