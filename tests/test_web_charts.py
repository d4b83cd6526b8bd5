"""Server-drawn charts: bars and lines scale to the largest value, label the axes in
Korean units, say what they show to screen readers, and mark a lone point."""

from __future__ import annotations

import re

from eum.web import charts
from eum.web.pages import won


def _heights(svg: str) -> list[float]:
    return [
        float(h)
        for h in re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)"', svg)
    ]


def test_bars_are_as_tall_as_their_values_under_a_round_top() -> None:
    svg = str(charts.bars(["1월", "2월", "3월"], [10_000, 20_000, 0], title="결제액", fmt=won))
    tall = _heights(svg)
    assert len(tall) == 3
    assert tall[1] == 2 * tall[0] and tall[2] == 0  # the top is 20,000: bar 2 fills it
    assert 'role="img"' in svg and 'aria-label="결제액"' in svg
    assert "1월: 10,000원" in svg and "2만" in svg  # text alternative, axis in 만


def test_many_bars_show_only_some_labels() -> None:
    labels = [f"{d}일" for d in range(1, 31)]
    svg = str(charts.bars(labels, list(range(30)), title="일별"))
    shown = re.findall(r'text-anchor="middle"[^>]*>(\d+일)</text>', svg)
    assert len(shown) <= charts.MAX_LABELS + 1 and shown[-1] == "30일"


def test_small_axes_keep_their_fractions_and_a_lone_point_is_drawn() -> None:
    svg = str(charts.lines(["12-01"], [("잔액", [1.0])], title="잔액"))
    assert ">0.25<" in svg and ">0.75<" in svg
    assert svg.count("<circle") == 1
    forecast = str(charts.lines(["a", "b"], [("예측", [2, 0])], title="t", dashed=["예측"]))
    assert 'stroke-dasharray="6 4"' in forecast
