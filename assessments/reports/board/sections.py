"""Sections of the pack beyond the headline: key points, framework coverage, discovery,
and the resolutions put to the board with their status."""

from __future__ import annotations

import dataclasses
from typing import Any

from assessments import portfolio

from .figures import _heat, _pct
from .filters import DUE_WITHIN_DAYS, BoardFilters
from .register import REGISTER_HEADERS


def _frameworks(coverage: dict[str, Any]) -> list[dict[str, Any]]:
    out = _framework_rows(coverage)
    for fw in out:
        worst = max(fw["items"], key=lambda it: (it["gap"], it["id"]), default=None)
        fw["addressed"] = sum(1 for it in fw["items"] if it["in_place"])
        fw["mapped"] = len(fw["items"])
        fw["top_gap"] = (
            {"id": worst["id"], "title": worst["title"], "agents": worst["gap"]}
            if worst and worst["gap"]
            else None
        )
    return out


def _framework_rows(coverage: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "key": fw["key"],
            "name": fw["name"],
            "levels": [level.text for level in fw["levels"]],
            "unmapped": fw["unmapped"],
            "items": [
                {
                    "id": it.id,
                    "title": it.title,
                    "depth": it.depth,
                    "in_place": it.in_place,
                    "gap": it.gap_only,
                    "in_place_pct": _pct(it.in_place, coverage["assessed"]),
                    "gap_pct": _pct(it.gap_only, coverage["assessed"]),
                    "in_place_heat": _heat(it.in_place, coverage["assessed"]),
                    "gap_heat": _heat(it.gap_only, coverage["assessed"]),
                }
                for it in fw["items"]
            ],
        }
        for fw in coverage["frameworks"]
    ]


def discovery_section(filters: BoardFilters) -> Any:
    """The discovery figures (portfolio.discovery_figures) for a pack of the whole
    portfolio; None for a pack of one team, tier or class, since discovered identities
    belong to none."""
    if filters.team or filters.tier or filters.classification:
        return None
    figures = portfolio.discovery_figures()
    if not figures.any:
        return None
    return {**dataclasses.asdict(figures), "coverage": figures.coverage}


def _resolutions(now: dict[str, int], moved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the board is asked, as resolutions: for decision or for noting, what is
    proposed, management's recommendation and where the items are."""
    out: list[dict[str, Any]] = []

    def add(kind: str, figure: str, proposed: str, recommendation: str, items: str) -> None:
        out.append(
            {
                "number": f"R{len(out) + 1}",
                "kind": kind,
                "figure": figure,
                "value": now.get(figure, 0),
                "proposed": proposed,
                "recommendation": recommendation,
                "items": items,
            }
        )

    if now["to_ratify"]:
        add(
            "For decision",
            "to_ratify",
            f"That the board ratifies the {now['to_ratify']:,} reclassification"
            f"{'s' if now['to_ratify'] != 1 else ''} to a higher tier or another class "
            "approved in the period.",
            "Ratify: each was decided by a reviewer other than its assessor.",
            "Section 3, “Reclassifications to ratify”; every one in the register, column "
            f"“{REGISTER_HEADERS['to_ratify']}”.",
        )
    if now["expiring"]:
        add(
            "For decision",
            "expiring",
            f"That the owners of the {now['expiring']:,} exception"
            f"{'s' if now['expiring'] != 1 else ''} expiring within 30 days close the gap, or "
            "that a reviewer renews the exception with a reason.",
            "Close the gap; renew only with a dated plan.",
            "Section 3, “Exceptions expiring within 30 days”; every one in the register, column "
            f"“{REGISTER_HEADERS['expiring']}”.",
        )
    if now["overdue"]:
        add(
            "For noting",
            "overdue",
            f"That {now['overdue']:,} review{'s are' if now['overdue'] != 1 else ' is'} overdue, "
            "with the owners' actions in Top risks.",
            "Note, and ask for each to be completed before the next meeting.",
            "Section 6, “Overdue”; every one in the register, column "
            f"“{REGISTER_HEADERS['review_state']}”.",
        )
    if moved:
        add(
            "For noting",
            "moved_band",
            "That "
            + "; ".join(f"{m['label'].lower()} moved from {m['from']} to {m['to']}" for m in moved)
            + " since the baseline pack.",
            "Note.",
            "Section 1, the status table.",
        )
    return out


def _resolution_status(
    baseline: dict[str, Any] | None, now: dict[str, int]
) -> list[dict[str, Any]]:
    """The baseline pack's resolutions, each with where its figure stands now."""
    if not baseline:
        return []
    out = []
    for r in baseline["resolutions"]:
        then, current = int(r.get("value") or 0), int(now.get(r.get("figure", ""), 0))
        status = "Done" if current == 0 else "Improved" if current < then else "Open"
        out.append({**r, "now": current, "status": status})
    return out


def _key_points(
    *,
    total: int,
    assessed: int,
    agent_ids: int,
    critical: int,
    high: int,
    overdue: list[dict[str, Any]],
    gaps: list[dict[str, Any]],
    agents_with_open_gaps: int,
    expiring: int,
    reclassified: list[dict[str, Any]],
    states: dict[str, int],
) -> list[str]:
    """Plain sentences a board member reads first; each states a figure from the pack.
    ``states``: the assessment states of the agents with no approved assessment."""
    points = []
    if not total:
        return ["No active agents match this pack's filters."]
    points.append(
        f"{assessed:,} of {total:,} agents have an approved assessment; {agent_ids:,} "
        f"({_pct(agent_ids, assessed)}) are governed as agent identities. {critical:,} "
        f"{'are' if critical != 1 else 'is'} at the critical tier and {high:,} at the high tier."
        if assessed
        else f"None of the {total:,} agents has an approved assessment yet."
    )
    if total - assessed:
        parts = [
            f"{states[key]:,} {label}"
            for key, label in (
                ("pending_decision", "awaiting a decision"),
                ("returned", "returned to the assessor"),
                ("in_draft", "in draft"),
            )
            if states[key]
        ]
        never = states["never_started"]
        if never:
            parts.append(
                f"{never:,} never assessed: nobody has started deciding how "
                f"{'they' if never != 1 else 'it'} must be governed"
            )
        undecided = total - assessed
        points.append(
            f"{undecided:,} agent{'s have' if undecided != 1 else ' has'} no "
            f"approved assessment yet: {'; '.join(parts)}."
        )
    if overdue:
        worst = max(overdue, key=lambda r: r["days"])
        points.append(
            f"{len(overdue):,} review{'s are' if len(overdue) != 1 else ' is'} overdue; the "
            f"longest is {worst['days']:,} day{'s' if worst['days'] != 1 else ''} late "
            f"(\u2068{worst['agent']}\u2069)."
        )
    else:
        points.append("No review is overdue.")
    still_open = sorted((g for g in gaps if g["open"]), key=lambda g: (-g["open"], g["id"]))
    if still_open:
        top = still_open[0]
        points.append(
            f"{agents_with_open_gaps:,} agent{'s have' if agents_with_open_gaps != 1 else ' has'} "
            f"at least one control gap without an exception; the most common open gap is "
            f"{top['id']} {top['title']} ({top['open']:,} agent{'s' if top['open'] != 1 else ''})."
        )
    if expiring:
        points.append(
            f"{expiring:,} exception{'s expire' if expiring != 1 else ' expires'} within "
            f"{DUE_WITHIN_DAYS} days; an expired exception re-opens its gap."
        )
    if reclassified:
        up = sum(1 for r in reclassified if r["change"] == "up")
        moved = len({r["slug"] for r in reclassified})
        points.append(
            f"{len(reclassified):,} reclassification{'s' if len(reclassified) != 1 else ''} "
            f"of {moved:,} agent{'s' if moved != 1 else ''} in the period; {up:,} moved "
            "to a higher tier."
        )
    return points
