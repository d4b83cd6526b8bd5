"""Charts drawn on the server as inline SVG: no script, no network, readable on a phone.

Each chart scales to its container's width (``viewBox``), carries a text alternative for
screen readers, and labels its values the way the page does (12,345원).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

WIDTH = 420  # viewBox units: on a 375 px phone a label of 12 units reads at about 10 px
FONT = 12
MAX_LABELS = 7  # x-axis labels shown at most (every n-th one)
MAX_DOTS = 31  # a line of at most this many points marks each one
PALETTE = ("#0b6bcb", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#5c940d")


def _plain(value: float) -> str:
    return f"{int(value):,}"


def _nice_top(value: float) -> float:
    """A round upper bound at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 1.0
    while power * 10 <= value:
        power *= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _short(value: float) -> str:
    """Axis labels in Korean units: 1.2억, 3,400만, 12,000."""
    if abs(value) >= 100_000_000:
        return f"{value / 100_000_000:.1f}".rstrip("0").rstrip(".") + "억"
    if abs(value) >= 10_000:
        return f"{value / 10_000:,.0f}만"
    if value != int(value):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}"


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    fmt: Callable[[float], str] = _plain,
    height: int = 220,
    color: str = PALETTE[0],
) -> Markup:
    """A bar chart of ``values`` (one bar per label)."""
    n = max(1, len(values))
    top = _nice_top(max([float(v) for v in values] + [0.0]))
    left, bottom, pad = 56, 28, 8
    plot_w, plot_h = WIDTH - left - pad, height - bottom - pad
    slot = plot_w / n
    step = -(-n // MAX_LABELS)  # every n-th label, so that they do not overlap
    parts = [
        _frame(title, height, [f"{lab}: {fmt(v)}" for lab, v in zip(labels, values, strict=False)])
    ]
    parts += _grid(left, pad, plot_w, plot_h, top)
    for i, (label, value) in enumerate(zip(labels, values, strict=False)):
        h = 0 if top == 0 else plot_h * float(value) / top
        x = left + i * slot + slot * 0.15
        y = pad + plot_h - h
        w = slot * 0.7
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{color}" rx="2">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
        )
        if i % step and i != n - 1:
            continue
        parts.append(
            f'<text x="{x + w / 2:.1f}" y="{height - 10}" text-anchor="middle" '
            f'font-size="{FONT}" fill="#5d6b7a">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    fmt: Callable[[float], str] = _plain,
    dashed: Sequence[str] = (),
    height: int = 240,
) -> Markup:
    """Line chart: one line per named series over ``labels``; ``None`` leaves a gap.
    Series named in ``dashed`` are drawn dashed (a forecast)."""
    n = max(2, len(labels))
    values = [float(v) for _, vs in series for v in vs if v is not None]
    top = _nice_top(max([*values, 0.0]))
    left, bottom, pad = 56, 44, 8
    plot_w, plot_h = WIDTH - left - pad, height - bottom - pad
    alt = [f"{name}: " + ", ".join(fmt(v) for v in vs if v is not None) for name, vs in series]
    parts = [_frame(title, height, alt)]
    parts += _grid(left, pad, plot_w, plot_h, top)

    def x(i: int) -> float:
        return left + plot_w * i / (n - 1)

    def y(v: float) -> float:
        return pad + plot_h - (0 if top == 0 else plot_h * v / top)

    for k, (name, vs) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        dash = ' stroke-dasharray="6 4"' if name in dashed else ""
        path: list[str] = []
        dots: list[str] = []
        for i, v in enumerate(vs):
            if v is None:
                continue
            path.append(f"{'M' if not path else 'L'}{x(i):.1f},{y(float(v)):.1f}")
            dots.append(
                f'<circle cx="{x(i):.1f}" cy="{y(float(v)):.1f}" r="3" fill="{color}"></circle>'
            )
        if len(dots) <= MAX_DOTS:  # a few points (or one) show as dots on the line
            parts.extend(dots)
        if path:
            parts.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="2.5"{dash}>'
                f"<title>{escape(name)}</title></path>"
            )
        lx = left + 8 + k * 120
        parts.append(
            f'<rect x="{lx}" y="{height - 16}" width="12" height="4" fill="{color}"></rect>'
            f'<text x="{lx + 16}" y="{height - 11}" font-size="{FONT}" fill="#1d2733">'
            f"{escape(name)}</text>"
        )
    step = max(1, -(-len(labels) // MAX_LABELS))
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 28}" text-anchor="middle" font-size="{FONT}" '
                f'fill="#5d6b7a">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _frame(title: str, height: int, alt: Sequence[str]) -> str:
    desc = escape("; ".join(alt))
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{desc}</desc>"
    )


def _grid(left: int, pad: int, plot_w: int, plot_h: int, top: float) -> list[str]:
    out = []
    for i in range(5):
        v = top * i / 4
        y = pad + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e3e8ee"></line>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="{FONT}" '
            f'fill="#5d6b7a">{escape(_short(v))}</text>'
        )
    return out
