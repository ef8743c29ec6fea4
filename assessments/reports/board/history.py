"""Packs over time: the recorded packs of a scope, the baseline a pack compares with,
the headline figures' changes and their trends."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from assessments import portfolio
from assessments.models import (
    Assessment,
)

from .filters import DEFAULT_PERIOD_DAYS, TIER_ORDER, TREND_PACKS, BoardFilters


def recorded_packs(filters: BoardFilters) -> list[dict[str, Any]]:
    """Earlier packs of the same scope that were *recorded* with a board: signed off
    (``record_board_signoff``) or issued for a meeting (a meeting date), newest first,
    with the headline figures each stated."""
    from assessments.models import ReportRecord

    key = filters.scope_key()
    rows = (
        ReportRecord.objects.filter(kind=ReportRecord.Kind.BOARD, params__has_key="figures")
        .order_by("-created_at", "-pk")
        .values("document_id", "created_at", "params")[:500]
    )
    found = []
    for row in rows:
        params = row["params"]
        same = (
            str(params.get("team") or "") == key["team"]
            and (params.get("tier") or None) == key["tier"]
            and str(params.get("classification") or "") == key["classification"]
        )
        signed = params.get("signed_off") or None
        if not same or not (signed or params.get("meeting_date")):
            continue
        found.append(
            {
                "document_id": row["document_id"],
                "on": timezone.localdate(row["created_at"]),
                "meeting_date": params.get("meeting_date") or "",
                "recorded": "signed off" if signed else "issued to a board",
                "signed_off": signed,
                "figures": params["figures"],
                "status": params.get("status") or {},
                "resolutions": params.get("resolutions") or [],
            }
        )
    return found


def baseline_pack(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pack "change since the previous pack" compares with: the latest signed off,
    or else the last one issued to a board."""
    signed = [h for h in history if h["signed_off"]]
    return signed[0] if signed else (history[0] if history else None)


def previous_packs(filters: BoardFilters) -> list[dict[str, Any]]:
    """The recorded packs of the same scope, newest first (see ``recorded_packs``)."""
    return recorded_packs(filters)


# Headline figures, how each is judged, and what "worse" means (up is worse for all).
HEADLINES = [
    ("never_assessed", "Never assessed"),
    ("undecided", "No approved assessment yet"),
    ("overdue", "Reviews overdue"),
    ("agents_with_open_gaps", "Agents with an open gap"),
    ("critical", "Agents at the critical tier"),
    ("expiring", "Exceptions expiring within 30 days"),
    ("reclassified_up", "Moved to a higher tier in the period"),
    ("orphaned", "Orphaned agents"),
    ("inactive", "Inactive agents"),
]


RAG_LABELS = {"green": "Green", "amber": "Amber", "red": "Red"}


def _changes(headline: dict[str, Any], before: dict[str, Any] | None) -> dict[str, str]:
    """Each headline figure's change since the previous pack of the same scope."""
    if before is None:
        return {}
    out = {}
    for key, _label in HEADLINES:
        if key not in before:
            continue
        delta = headline[key] - int(before[key])
        out[key] = f"+{delta}" if delta > 0 else ("±0" if delta == 0 else f"−{-delta}")
    return out


def _period_ends(today: dt.date, first: dt.date | None) -> tuple[str, list[dt.date]]:
    """The ends of the last ``TREND_PACKS - 1`` months before this one (or quarters, when
    the records go back more than 12 months), oldest first."""
    quarterly = first is not None and (today - first).days > 366
    step = 3 if quarterly else 1
    ends = []
    year, month = today.year, today.month
    if quarterly:
        month = 3 * ((month - 1) // 3) + 1  # the first month of this quarter
    for _ in range(TREND_PACKS - 1):
        month -= step
        while month < 1:
            month += 12
            year -= 1
        last_day = dt.date(
            year + (month + step - 1) // 12, (month + step - 1) % 12 + 1, 1
        ) - dt.timedelta(days=1)
        ends.append(last_day)
    return ("quarter" if quarterly else "month"), sorted(ends)


# Figures the trends show besides the headline ones: what the headline figures rest on.
SUPPORTING = [("open_gaps", "Open gaps"), ("exceptions", "Exceptions in force")]


def _trend(
    headline: dict[str, Any],
    today: dt.date,
    history: list[dict[str, Any]],
    scope: Any = None,
    *,
    period_days: int = DEFAULT_PERIOD_DAYS,
) -> dict[str, Any]:
    """Every headline figure's trend (and the supporting open gaps and exceptions): one
    point per period (month, or quarter beyond 12 months of records), oldest first, then
    this pack. A period's point is the last pack recorded with a board in it; without
    one it is rebuilt from the records as they stood at the period's end
    (``portfolio.figures_as_of``) and marked, as is a figure an older pack did not state."""
    first = (
        Assessment.objects.filter(agent__in=scope)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
        if scope is not None
        else None
    )
    period, ends = _period_ends(today, timezone.localdate(first) if first else None)
    keys = [key for key, _label in [*HEADLINES, *SUPPORTING]]
    points = []
    previous_end = None
    for end in ends:
        in_period = [
            h
            for h in history
            if h["on"] <= end and (previous_end is None or h["on"] > previous_end)
        ]
        previous_end = end
        if in_period:
            newest = max(in_period, key=lambda h: h["on"])
            figures = dict(newest["figures"])
            unstated = {k for k in keys if k not in figures}
            if unstated and scope is not None:  # a pack made before the figure was
                then = portfolio.figures_as_of(newest["on"], scope, period_days=period_days)
                figures.update({k: then[k] for k in unstated})
            points.append(
                {"on": newest["on"], "figures": figures, "rebuilt": False, "unstated": unstated}
            )
        elif scope is not None:
            figures = portfolio.figures_as_of(end, scope, period_days=period_days)
            points.append({"on": end, "figures": figures, "rebuilt": True, "unstated": set()})
    points.append({"on": today, "figures": headline, "rebuilt": False, "unstated": set()})
    series = [
        {
            "key": key,
            "label": label,
            "headline": (key, label) in HEADLINES,
            "points": [
                {
                    "on": p["on"],
                    "value": int(p["figures"][key]) if key in p["figures"] else None,
                    "rebuilt": p["rebuilt"] or key in p["unstated"],
                }
                for p in points
            ],
        }
        for key, label in [*HEADLINES, *SUPPORTING]
    ]
    tiers = [
        {
            "on": p["on"],
            "rebuilt": p["rebuilt"],
            "tiers": [int((p["figures"].get("tiers") or {}).get(str(t), 0)) for t in TIER_ORDER],
        }
        for p in points
    ]
    return {
        "period": period,
        "points": len(points),
        "dates": [p["on"] for p in points],
        "rebuilt": sum(1 for p in points if p["rebuilt"]),
        "series": series,
        "tiers": tiers,
    }
