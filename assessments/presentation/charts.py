"""Geometry for small server-rendered SVG charts.

Templates draw what these return with presentation attributes (``x=``, ``width=``,
``fill=``): the strict CSP allows no ``style=``. Every mark carries its value, a label
for assistive technology and the link to the filtered list it stands for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    fill: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    fill: str
    href: str
    label: str  # spoken and shown as the tooltip: "Agent identity, tier 3: 4 agents"
    label_x: float  # where the value is written above the bar
    label_y: float


@dataclass(frozen=True)
class GroupLabel:
    x: float
    text: str


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    groups: list[GroupLabel]
    ticks: list[Tick]
    plot_left: int
    plot_right: int
    baseline: float
    total: int


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(math.ceil(value / (magnitude * step)) * magnitude * step)
        if top >= value:
            return top
    return value


def grouped_bars(
    groups: list[tuple[str, list[tuple[Series, int, str, str]]]],
    *,
    width: int = 520,
    height: int = 220,
) -> BarChart:
    """Vertical bars in groups: ``groups`` is [(group label, [(series, value, href,
    label), ...]), ...]."""
    left, right, top, bottom = 36, 8, 16, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((v for _g, bars in groups for _s, v, _h, _l in bars), default=0))
    group_w = plot_w / max(len(groups), 1)
    per_group = max((len(bars) for _g, bars in groups), default=1)
    bar_w = min(34.0, group_w * 0.72 / per_group)
    bars, labels = [], []
    for g, (group_label, members) in enumerate(groups):
        start = left + g * group_w + (group_w - bar_w * len(members)) / 2
        for i, (series, value, href, label) in enumerate(members):
            h = plot_h * value / peak
            y = top + plot_h - h
            bars.append(
                Bar(
                    x=round(start + i * bar_w, 1),
                    y=round(y, 1),
                    width=round(bar_w - 3, 1),
                    height=round(max(h, 1.0 if value else 0.0), 1),
                    value=value,
                    fill=series.fill,
                    href=href,
                    label=label,
                    label_x=round(start + i * bar_w + (bar_w - 3) / 2, 1),
                    label_y=round(y - 4, 1),
                )
            )
        labels.append(GroupLabel(x=round(left + g * group_w + group_w / 2, 1), text=group_label))
    ticks = [
        Tick(y=round(top + plot_h - plot_h * v / peak, 1), value=v) for v in (0, peak // 2, peak)
    ]
    return BarChart(
        width=width,
        height=height,
        bars=bars,
        groups=labels,
        ticks=ticks,
        plot_left=left,
        plot_right=width - right,
        baseline=top + plot_h,
        total=sum(b.value for b in bars),
    )


@dataclass(frozen=True)
class Arc:
    key: str
    label: str
    value: int
    fill: str
    href: str
    dasharray: str
    dashoffset: float


@dataclass(frozen=True)
class Donut:
    size: int
    centre: float
    radius: float
    thickness: int
    arcs: list[Arc]
    total: int


def donut(
    segments: list[tuple[str, str, int, str, str]], *, size: int = 180, thickness: int = 26
) -> Donut:
    """A ring cut into ``segments`` [(key, label, value, fill, href), ...], drawn as
    circles with dash arrays; the template rotates it to start at twelve o'clock."""
    radius = (size - thickness) / 2
    circumference = 2 * math.pi * radius
    total = sum(value for _k, _l, value, _f, _h in segments)
    arcs, offset = [], 0.0
    for key, label, value, fill, href in segments:
        if not value:
            continue
        length = circumference * value / total
        gap = 2.0 if len([s for s in segments if s[2]]) > 1 else 0.0
        arcs.append(
            Arc(
                key=key,
                label=label,
                value=value,
                fill=fill,
                href=href,
                dasharray=f"{max(length - gap, 0.5):.2f} {circumference - max(length - gap, 0.5):.2f}",
                dashoffset=round(-offset, 2),
            )
        )
        offset += length
    return Donut(
        size=size,
        centre=size / 2,
        radius=round(radius, 2),
        thickness=thickness,
        arcs=arcs,
        total=total,
    )
