"""The board's risk appetite: green, amber and red bands per headline figure.

Administrators set each band, its accountable owner and its target in the admin
(``AppetiteBand``, audited); without a row a figure keeps the defaults below, the rules
the board pack always used. A figure is green up to ``green_up_to``, red above
``red_above`` (never red when that is empty) and amber in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# figure -> (label, unit, green up to, red above or None)
DEFAULTS: dict[str, tuple[str, str, int, int | None]] = {
    "never_assessed": ("Never assessed", "percent_agents", 0, 10),
    "undecided": ("No approved assessment yet", "percent_agents", 0, 10),
    "overdue": ("Reviews overdue", "percent_assessed", 0, 5),
    "agents_with_open_gaps": ("Agents with an open gap", "percent_assessed", 0, 10),
    "critical": ("Agents at the critical tier", "count", 0, None),
    "expiring": ("Exceptions expiring within 30 days", "count", 0, None),
    "reclassified_up": ("Moved to a higher tier in the period", "count", 0, None),
    # Who answers for the agents (portfolio.accountability): nobody, or nobody has seen
    # them act for INACTIVE_AGENT_DAYS.
    "orphaned": ("Orphaned agents", "count", 0, None),
    "inactive": ("Inactive agents", "count", 0, None),
}
FIGURES = list(DEFAULTS)
UNIT_WORDS = {"count": "", "percent_agents": "% of agents", "percent_assessed": "% of assessed"}


@dataclass(frozen=True)
class Band:
    figure: str
    label: str
    unit: str
    green_up_to: int
    red_above: int | None
    owner: str
    target: str
    set_by_board: bool

    def limit(self, value: int, base: int) -> int:
        """``value`` (a band edge) in the figure's own units for a portfolio of ``base``."""
        return value if self.unit == "count" else base * value // 100

    def status(self, value: int, agents: int, assessed: int) -> str:
        base = agents if self.unit == "percent_agents" else max(assessed, 1)
        if self.red_above is not None and value > self.limit(self.red_above, base):
            return "red"
        return "green" if value <= self.limit(self.green_up_to, base) else "amber"

    @property
    def rule(self) -> str:
        """All three bands in words: "Green ≤ 0; amber 1–10% of agents; red > 10% of agents"."""
        unit = UNIT_WORDS[self.unit]
        green = f"Green ≤ {self.green_up_to}{unit}"
        if self.red_above is None:
            return f"{green}; amber above; never red"
        return f"{green}; amber up to {self.red_above}{unit}; red above {self.red_above}{unit}"


def bands() -> dict[str, Band]:
    """Every headline figure's band: the administrators' where set, else the default."""
    from assessments.models import AppetiteBand

    stored = {b.figure: b for b in AppetiteBand.objects.all()}
    out = {}
    for figure, (label, unit, green, red) in DEFAULTS.items():
        row = stored.get(figure)
        out[figure] = Band(
            figure=figure,
            label=label,
            unit=row.unit if row else unit,
            green_up_to=row.green_up_to if row else green,
            red_above=row.red_above if row else red,
            owner=row.owner if row else "",
            target=row.target if row else "",
            set_by_board=row is not None,
        )
    return out


def judged(headline: dict[str, Any], assessed: int) -> list[dict[str, Any]]:
    """Each headline figure with its status, all three bands, owner and target."""
    out = []
    for figure, band in bands().items():
        value = int(headline[figure])
        out.append(
            {
                "key": figure,
                "label": band.label,
                "value": value,
                "status": band.status(value, int(headline["agents"]), assessed),
                "rule": band.rule,
                "owner": band.owner,
                "target": band.target,
                "set_by_board": band.set_by_board,
            }
        )
    return out
