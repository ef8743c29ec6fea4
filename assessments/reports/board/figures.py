"""The rows and figures a board pack reads from the database: approved records,
reclassifications, reviews, open gaps, and the charts' geometry."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import dateformat

from assessments import portfolio
from assessments.models import (
    Assessment,
)
from assessments.models.base import start_of_day

from .filters import CLASS_LABELS, COLOURS, DUE_WITHIN_DAYS, UNASSESSED, BoardFilters


def _d(day: dt.date) -> str:
    return dateformat.format(day, "j M Y")


def _name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def _latest_approved(scope: Any) -> Any:
    return (
        Assessment.objects.latest_approved()
        .filter(agent__in=scope)
        .values(
            "agent_id",
            "number",
            "catalogue_id",
            "decided_at",
            "classification",
            "tier",
            flags=F("result__flags"),
            controls=F("result__controls"),
        )
    )


def _reclassifications(scope: Any, filters: BoardFilters) -> list[dict[str, Any]]:
    previous = (
        Assessment.objects.approved()
        .filter(agent_id=OuterRef("agent_id"), number__lt=OuterRef("number"))
        .order_by("-number")
    )
    start = start_of_day(filters.since)
    end = start_of_day(filters.until + dt.timedelta(days=1))
    rows = (
        Assessment.objects.approved()
        .filter(agent__in=scope, decided_at__gte=start, decided_at__lt=end)
        .annotate(
            prev_number=Subquery(previous.values("number")[:1]),
            prev_classification=Subquery(previous.values("classification")[:1]),
            prev_tier=Subquery(previous.values("tier")[:1]),
        )
        .filter(prev_number__isnull=False)
        .filter(~Q(prev_classification=F("classification")) | ~Q(prev_tier=F("tier")))
        .order_by("decided_at", "pk")
        .values(
            "agent__name",
            "agent__slug",
            "agent__team__name",
            "number",
            "decided_at",
            "classification",
            "tier",
            "prev_number",
            "prev_classification",
            "prev_tier",
            "reviewer__first_name",
            "reviewer__last_name",
            "reviewer__username",
        )
    )
    out = []
    for r in rows:
        change = (
            "up"
            if r["tier"] > r["prev_tier"]
            else "down"
            if r["tier"] < r["prev_tier"]
            else "class"
        )
        out.append(
            {
                "agent": r["agent__name"],
                "slug": r["agent__slug"],
                "team": r["agent__team__name"],
                "from": f"{CLASS_LABELS[r['prev_classification']]}, tier {r['prev_tier']}",
                "to": f"{CLASS_LABELS[r['classification']]}, tier {r['tier']}",
                "versions": f"v{r['prev_number']} → v{r['number']}",
                "decided_at": r["decided_at"],
                "reviewer": _name(
                    r["reviewer__first_name"] or "",
                    r["reviewer__last_name"] or "",
                    r["reviewer__username"] or "",
                ),
                "change": change,
                "class_changed": r["classification"] != r["prev_classification"],
            }
        )
    return out


def _reviews(qs: Any, today: dt.date) -> list[dict[str, Any]]:
    rows = qs.order_by("due_on", "agent__name").values(
        "agent_id",
        "agent__name",
        "agent__slug",
        "agent__team__name",
        "agent__current_tier",
        "due_on",
        "triggered_at",
        "reasons",
        "assignee__first_name",
        "assignee__last_name",
        "assignee__username",
    )
    return [
        {
            "agent_id": r["agent_id"],
            "agent": r["agent__name"],
            "slug": r["agent__slug"],
            "team": r["agent__team__name"],
            "tier": r["agent__current_tier"],
            "due_on": r["due_on"],
            "days": (today - r["due_on"]).days,
            "days_left": (r["due_on"] - today).days,
            "triggered": r["triggered_at"] is not None,
            # A scheduled review's reason is its tier's interval; only a trigger is news.
            "reason": (r["reasons"] or [{}])[-1].get("detail", "")
            if r["triggered_at"] is not None
            else "",
            "assignee": _name(
                r["assignee__first_name"] or "",
                r["assignee__last_name"] or "",
                r["assignee__username"] or "",
            )
            if r["assignee__username"]
            else "",
        }
        for r in rows
    ]


def _chart(matrix: dict[Any, dict[str, int]], columns: list[tuple[Any, str]]) -> dict[str, Any]:
    """Geometry of the class-by-tier stacked bar chart (SVG user units)."""
    width, height, left, bottom, top = 640, 250, 44, 34, 18
    plot_h = height - bottom - top
    tallest = max([sum(matrix[key].values()) for key, _ in columns] + [1])
    step = _nice_step(tallest)
    ceiling = step * -(-tallest // step)
    slot = (width - left - 10) / len(columns)
    bar_w = min(70.0, slot * 0.55)
    bars = []
    for index, (key, label) in enumerate(columns):
        x = left + slot * index + (slot - bar_w) / 2
        y: float = height - bottom
        segments = []
        for cls in ("machine_identity", "agent_identity", UNASSESSED):
            count = matrix[key].get(cls, 0)
            if not count:
                continue
            h = plot_h * count / ceiling
            y -= h
            segments.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "w": round(bar_w, 1),
                    "h": round(h, 1),
                    "fill": COLOURS[cls],
                    "count": count,
                    "label_y": round(y + h / 2 + 4, 1),
                    "show": h >= 13,
                }
            )
        total = sum(matrix[key].values())
        bars.append(
            {
                "label": label,
                "cx": round(x + bar_w / 2, 1),
                "segments": segments,
                "total": total,
                "total_y": round(y - 5, 1),
            }
        )
    grid = []
    for v in range(0, ceiling + 1, step):
        line_y = round(height - bottom - plot_h * v / ceiling, 1)
        grid.append({"value": v, "y": line_y, "label_y": round(line_y + 4, 1)})
    return {
        "width": width,
        "height": height,
        "left": left,
        "label_x": left - 8,
        "right": width - 10,
        "axis_y": height - bottom,
        "label_y": height - bottom + 16,
        "bars": bars,
        "grid": grid,
    }


def _nice_step(tallest: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000):
        if tallest / step <= 5:
            return step
    return 10000


def _heat(part: int, whole: int) -> int:
    """0-5: the shade of a coverage cell (0 none, 5 four fifths of agents or more)."""
    if not part or not whole:
        return 0
    return min(5, 1 + int(5 * part / whole))


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "0%"


def _site_url() -> str:
    """``SITE_URL`` when it is an address a reader can reach; "" for a loopback or
    unset one (a board member cannot open 127.0.0.1)."""
    from ipaddress import ip_address
    from urllib.parse import urlsplit

    host = (urlsplit(settings.SITE_URL).hostname or "").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return ""
    try:
        if ip_address(host).is_loopback or ip_address(host).is_unspecified:
            return ""
    except ValueError:
        pass
    return settings.SITE_URL


REVIEW_STATE_LABELS = {
    "overdue": "Overdue",
    "triggered": "Triggered by a change",
    "due": "Due within 30 days",
    "scheduled": "Scheduled",
    "": "No open review",
}


IN_PROGRESS_LABELS = {
    Assessment.Status.SUBMITTED: "awaiting a decision",
    Assessment.Status.RETURNED: "returned to the assessor",
    Assessment.Status.DRAFT: "in draft",
}


# Access a board treats as high risk while nobody has decided how the agent is governed.
HIGH_RISK_ACCESS = ("admin",)


def _review_state(a: dict[str, Any], today: dt.date) -> str:
    """The agent's open review as the queue counts it (``ReviewQuerySet.with_state``)."""
    if a["next_review"] is None:
        return ""
    if a["review_overdue"]:
        return "overdue"
    if a["review_triggered"]:
        return "triggered"
    if a["next_review"] <= today + dt.timedelta(days=DUE_WITHIN_DAYS):
        return "due"
    return "scheduled"


def _open_gap_rows(today: dt.date, scope: Any) -> dict[int, list[str]]:
    """agent id -> its open gaps (control ids), as ``portfolio.open_gaps`` counts them:
    the database expands each latest approved result and leaves out excepted subjects."""
    gaps_sql, params = portfolio._gap_rows_sql(today, scope)
    out: dict[int, list[str]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT agent_id, control_id FROM ({gaps_sql}) g ORDER BY agent_id, control_id",  # noqa: S608
            params,
        )
        for agent_id, control_id in cursor.fetchall():
            out[agent_id].append(control_id)
    return out
