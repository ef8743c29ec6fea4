"""The board pack: the whole portfolio for a governance board, in one PDF.

``board_content`` reads the portfolio in a fixed number of queries whatever its size
(agents, systems, latest approved results, reclassifications, reviews, exceptions, one
catalogue per version in use) and returns plain data; the template renders only that,
and its canonical JSON is the pack's fingerprint. Figures come from each agent's latest
approved assessment; agents never approved count as not assessed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import dateformat, timezone

from assessments import decisions, portfolio
from assessments.engine import BLOCKING_FLAGS, FLAG_DESCRIPTIONS, FLAG_TITLES
from assessments.models import (
    Agent,
    Assessment,
    CatalogueVersion,
    Classification,
    GapException,
    Review,
    System,
    Team,
    Tier,
)
from assessments.reports.pdf import PdfMeta, RenderedPdf, canonical_json, render_pdf, sha256_hex

TEMPLATE = "reports/pdf/board.html"
DEFAULT_PERIOD_DAYS = 90
DUE_WITHIN_DAYS = 30
# Reviews due soon are listed in full up to this many; beyond it the pack lists the
# soonest and counts the rest by team (every agent's next review is in the appendix).
DUE_LIST_LIMIT = 40
# Long lists (overdue reviews, expiring exceptions, reclassifications) print this many
# rows and count the rest; the attached register has every agent.
LIST_LIMIT = 40
# The printed appendix lists the agents that most need attention, this many by default.
DEFAULT_TOP = 25
MAX_TOP = 200
REGISTER_ATTACHMENT = "agent-register.csv"
TIER_LABELS: dict[int, str] = dict(Tier.choices)
# Every table and chart in the pack runs the tiers in one order: most critical first.
TIER_ORDER = (4, 3, 2, 1)
CLASS_LABELS: dict[str, str] = dict(Classification.choices)
UNASSESSED = "unassessed"
COLOURS = {"agent_identity": "#6f2dbd", "machine_identity": "#0f766e", UNASSESSED: "#cbd5e1"}


class FilterError(ValueError):
    """A board-pack filter that cannot be used; the message is for the user."""


@dataclass(frozen=True)
class BoardFilters:
    """Which agents the pack covers, and the period for reclassifications."""

    since: dt.date
    until: dt.date
    team: str = ""  # team slug
    tier: int | None = None
    classification: str = ""  # agent_identity | machine_identity | unassessed
    top: int = DEFAULT_TOP  # agents listed in the printed appendix
    # The sign-off block printed on the last page (from the request form).
    prepared_by: str = ""
    reviewed_by: str = ""
    meeting_date: dt.date | None = None
    decision: str = ""

    @classmethod
    def from_params(cls, params: dict[str, Any], today: dt.date | None = None) -> BoardFilters:
        today = today or timezone.localdate()
        try:
            until = dt.date.fromisoformat(params["until"]) if params.get("until") else today
            since = (
                dt.date.fromisoformat(params["since"])
                if params.get("since")
                else until - dt.timedelta(days=DEFAULT_PERIOD_DAYS)
            )
        except (TypeError, ValueError) as exc:
            raise FilterError("Dates must be written as YYYY-MM-DD.") from exc
        except OverflowError as exc:  # a period that would start before year 1
            raise FilterError("Choose a period end after 1900.") from exc
        if since.year < 1900 or until.year > 2999:
            raise FilterError("Choose dates between 1900 and 2999.")
        if since > until:
            raise FilterError("The period must start on or before the day it ends.")
        team = str(params.get("team") or "")
        if team and not Team.objects.filter(slug=team).exists():
            raise FilterError(f"There is no team “{team}”.")
        tier = params.get("tier")
        if tier in ("", None):
            tier = None
        else:
            try:
                tier = int(tier)
            except (TypeError, ValueError) as exc:
                raise FilterError("The tier must be 1, 2, 3 or 4.") from exc
            if tier not in TIER_LABELS:
                raise FilterError("The tier must be 1, 2, 3 or 4.")
        classification = str(params.get("classification") or "")
        if classification and classification not in (*CLASS_LABELS, UNASSESSED):
            raise FilterError("The class must be agent_identity, machine_identity or unassessed.")
        top = params.get("top")
        if top in ("", None):
            top = DEFAULT_TOP
        else:
            try:
                top = int(top)
            except (TypeError, ValueError) as exc:
                raise FilterError(f"The appendix lists 1 to {MAX_TOP} agents.") from exc
            if not 1 <= top <= MAX_TOP:
                raise FilterError(f"The appendix lists 1 to {MAX_TOP} agents.")
        try:
            meeting = (
                dt.date.fromisoformat(params["meeting_date"])
                if params.get("meeting_date")
                else None
            )
        except (TypeError, ValueError) as exc:
            raise FilterError("Dates must be written as YYYY-MM-DD.") from exc
        return cls(
            since=since,
            until=until,
            team=team,
            tier=tier,
            classification=classification,
            top=top,
            prepared_by=str(params.get("prepared_by") or "").strip()[:200],
            reviewed_by=str(params.get("reviewed_by") or "").strip()[:200],
            meeting_date=meeting,
            decision=str(params.get("decision") or "").strip()[:2000],
        )

    def to_params(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "team": self.team,
            "tier": self.tier,
            "classification": self.classification,
            "top": self.top,
            "prepared_by": self.prepared_by,
            "reviewed_by": self.reviewed_by,
            "meeting_date": self.meeting_date.isoformat() if self.meeting_date else "",
            "decision": self.decision,
        }

    def scope_key(self) -> dict[str, Any]:
        """What makes two packs comparable: the same agents filter."""
        return {"team": self.team, "tier": self.tier, "classification": self.classification}

    def describe(self) -> list[str]:
        parts = []
        if self.team:
            team = Team.objects.filter(slug=self.team).values_list("name", flat=True).first()
            parts.append(f"team {team or self.team}")
        if self.tier:
            parts.append(f"tier {TIER_LABELS[self.tier]}")
        if self.classification:
            parts.append(CLASS_LABELS.get(self.classification, "not assessed").lower())
        return parts

    def agents(self) -> Any:
        qs = Agent.objects.active()
        if self.team:
            qs = qs.filter(team__slug=self.team)
        if self.tier:
            qs = qs.filter(current_tier=self.tier)
        if self.classification == UNASSESSED:
            qs = qs.filter(current_classification="")
        elif self.classification:
            qs = qs.filter(current_classification=self.classification)
        return qs


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
    start = dt.datetime.combine(filters.since, dt.time.min, tzinfo=timezone.get_current_timezone())
    end = dt.datetime.combine(
        filters.until + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone()
    )
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


def board_content(filters: BoardFilters, *, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the board pack states, as plain data."""
    today = today or timezone.localdate()
    scope = filters.agents()
    agents = list(
        portfolio.agents_for_list(scope, today)
        .order_by("team__name", "name", "pk")
        .values(
            "pk",
            "name",
            "slug",
            "platform",
            "environments",
            "current_classification",
            "current_tier",
            "next_review",
            "review_triggered",
            "team__name",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
        )
    )
    ids = scope.values("pk")
    # Reach, as a board reads it: what each agent can change; read access is counted.
    writes: dict[int, list[str]] = defaultdict(list)
    reads: Counter[int] = Counter()
    for agent_id, name, access in (
        System.objects.filter(agent__in=ids)
        .order_by("name")
        .values_list("agent_id", "name", "access")
    ):
        if access == "read":
            reads[agent_id] += 1
        else:
            writes[agent_id].append(f"{name} ({access})")
    latest: dict[int, dict[str, Any]] = {row["agent_id"]: row for row in _latest_approved(ids)}
    active_exceptions: dict[int, dict[str, dt.date]] = defaultdict(dict)
    exceptions: list[dict[str, Any]] = []
    expired: list[dict[str, Any]] = []
    # Renewed exceptions are superseded: neither in force nor "expired" (portfolio.py).
    for e in (
        GapException.objects.not_superseded()
        .filter(agent__in=ids, revoked_at__isnull=True)
        .filter(Q(expires_on__gte=today) | Q(expires_on__gte=filters.since))
        .order_by("expires_on", "agent__name")
        .values(
            "agent_id",
            "agent__name",
            "agent__slug",
            "subject",
            "reason",
            "expires_on",
            "assessment__number",
            "accepted_by__first_name",
            "accepted_by__last_name",
            "accepted_by__username",
        )
    ):
        listed: dict[str, Any] = {
            "agent": e["agent__name"],
            "slug": e["agent__slug"],
            "subject": e["subject"],
            "reason": e["reason"],
            "expires_on": e["expires_on"],
            "days_left": (e["expires_on"] - today).days,
            "version": e["assessment__number"],
            "accepted_by": _name(
                e["accepted_by__first_name"],
                e["accepted_by__last_name"],
                e["accepted_by__username"],
            ),
        }
        if e["expires_on"] >= today:
            exceptions.append(listed)
            known = active_exceptions[e["agent_id"]].get(e["subject"])
            if known is None or e["expires_on"] > known:
                active_exceptions[e["agent_id"]][e["subject"]] = e["expires_on"]
        else:
            expired.append(listed)

    overdue = _reviews(Review.objects.overdue(today).filter(agent__in=ids), today)
    review_counts = portfolio.review_states(
        today, Review.objects.in_queue(DUE_WITHIN_DAYS, today).filter(agent__in=ids)
    )
    states = portfolio.assessment_states(scope)
    open_gaps = portfolio.open_gaps(today, top=0, agents=scope)
    due = _reviews(Review.objects.due(DUE_WITHIN_DAYS, today).filter(agent__in=ids), today)
    reclassified = _reclassifications(ids, filters)
    first_decisions = (
        Assessment.objects.approved()
        .filter(
            agent__in=ids,
            number=1,
            decided_at__date__gte=filters.since,
            decided_at__date__lte=filters.until,
        )
        .count()
    )

    # Catalogues in use: control -> mapped items, and titles for the matrix.
    versions = {row["catalogue_id"] for row in latest.values()}
    in_force = decisions.current_catalogue()
    versions.add(in_force.pk)
    catalogues = {
        v.pk: decisions.catalogue_data(v) for v in CatalogueVersion.objects.filter(pk__in=versions)
    }
    gaps_by_control: dict[str, dict[str, Any]] = {}
    flag_counts: Counter[str] = Counter()
    matrix: dict[Any, dict[str, int]] = {t: Counter() for t in (*TIER_LABELS, None)}
    team_rows: dict[str, Counter[str]] = defaultdict(Counter)
    overdue_slugs = {r["slug"] for r in overdue}
    overdue_days = {r["agent_id"]: r["days"] for r in overdue}
    register: list[dict[str, Any]] = []
    for a in agents:
        cls = a["current_classification"] or UNASSESSED
        tier = a["current_tier"] if a["current_classification"] else None
        matrix[tier][cls] += 1
        team = team_rows[a["team__name"]]
        team["total"] += 1
        team[f"tier{tier}" if tier else UNASSESSED] += 1
        if a["slug"] in overdue_slugs:
            team["overdue"] += 1
        approved_row = latest.get(a["pk"])
        gap_parts: list[str] = []
        flags: list[str] = []
        if approved_row is not None:
            flags = list(approved_row["flags"] or [])
            flag_counts.update(flags)
            agent_exceptions = active_exceptions.get(a["pk"], {})
            for control in approved_row["controls"] or []:
                if control["status"] != "gap":
                    continue
                entry = gaps_by_control.setdefault(
                    control["id"],
                    {"id": control["id"], "title": control["title"], "agents": 0, "excepted": 0},
                )
                entry["agents"] += 1
                until = agent_exceptions.get(control["id"])
                if until:
                    entry["excepted"] += 1
                    gap_parts.append(f"{control['id']} (exception until {_d(until)})")
                else:
                    gap_parts.append(control["id"])
        owner = _name(a["owner__first_name"], a["owner__last_name"], a["owner__username"])
        open_ids = [g.split(" ", 1)[0] for g in gap_parts if "(exception" not in g]
        excepted = [g for g in gap_parts if "(exception" in g]
        excepted_flags = active_exceptions.get(a["pk"], {})
        blocking = [f for f in flags if f in BLOCKING_FLAGS and f not in excepted_flags]
        late = overdue_days.get(a["pk"], 0)
        register.append(
            {
                "team": a["team__name"],
                "agent": a["name"],
                "slug": a["slug"],
                "class": CLASS_LABELS[cls] if approved_row is not None and tier else "Not assessed",
                "tier": tier if approved_row is not None else None,
                "version": approved_row["number"] if approved_row is not None else None,
                "approved_on": timezone.localdate(approved_row["decided_at"])
                if approved_row is not None
                else None,
                "next_review": a["next_review"],  # the open review's due date
                "days_overdue": late,
                "owner": owner,
                "open_gaps": open_ids,
                "excepted_gaps": excepted,
                "flags": [FLAG_TITLES.get(f, f) for f in flags],
                "blocking_flags": [FLAG_TITLES.get(f, f) for f in blocking],
                "can_change": writes.get(a["pk"], []),
                "read_only": reads[a["pk"]],
            }
        )

    total = len(agents)
    assessed = sum(1 for a in agents if a["current_classification"])
    agent_ids = sum(matrix[t]["agent_identity"] for t in matrix)
    machine_ids = sum(matrix[t]["machine_identity"] for t in matrix)
    critical = sum(matrix[4].values())
    high = sum(matrix[3].values())
    expiring = sum(1 for e in exceptions if e["days_left"] <= DUE_WITHIN_DAYS)

    # Coverage matrix: the current catalogue's items, in its order (portfolio.py).
    coverage = portfolio.portfolio_coverage(list(latest.values()), catalogues, in_force.pk)
    frameworks = [
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

    tier_columns: list[tuple[Any, str]] = [(t, TIER_LABELS[t]) for t in TIER_ORDER]
    tier_columns.append((None, "Not assessed"))
    distribution = [
        {
            "label": label,
            "agent_identity": matrix[key]["agent_identity"],
            "machine_identity": matrix[key]["machine_identity"],
            "unassessed": matrix[key][UNASSESSED],
            "total": sum(matrix[key].values()),
        }
        for key, label in tier_columns
    ]
    gaps = sorted(gaps_by_control.values(), key=lambda g: (-g["agents"], g["id"]))
    for g in gaps:
        g["open"] = g["agents"] - g["excepted"]
    control_titles = {c["id"]: c["title"] for data in catalogues.values() for c in data["controls"]}
    by_subject: dict[str, dict[str, Any]] = {}
    for x in exceptions:
        entry = by_subject.setdefault(
            x["subject"],
            {
                "subject": x["subject"],
                "title": control_titles.get(x["subject"])
                or FLAG_TITLES.get(x["subject"], x["subject"]),
                "count": 0,
                "expiring": 0,
                "next_expiry": x["expires_on"],
            },
        )
        entry["count"] += 1
        entry["expiring"] += int(x["days_left"] <= DUE_WITHIN_DAYS)
        entry["next_expiry"] = min(entry["next_expiry"], x["expires_on"])

    expiring_list = [x for x in exceptions if x["days_left"] <= DUE_WITHIN_DAYS]
    points = _key_points(
        total=total,
        assessed=assessed,
        agent_ids=agent_ids,
        critical=critical,
        high=high,
        overdue=overdue,
        gaps=gaps,
        agents_with_open_gaps=open_gaps.agent_count,
        expiring=expiring,
        reclassified=reclassified,
        states=portfolio.assessment_states(scope.filter(current_classification="")),
    )
    headline = {
        "agents": total,
        "unassessed": total - assessed,
        "critical": critical,
        "high": high,
        "overdue": review_counts["overdue"],
        "agents_with_open_gaps": open_gaps.agent_count,
        "open_gaps": open_gaps.total,
        "exceptions": len(exceptions),
        "expiring": expiring,
        "reclassified_up": sum(1 for r in reclassified if r["change"] == "up"),
        "tiers": {str(t): sum(matrix[t].values()) for t in TIER_LABELS},
    }
    history = previous_packs(filters)
    awaiting = list(
        Assessment.objects.filter(agent__in=ids, status=Assessment.Status.SUBMITTED)
        .order_by("submitted_at", "pk")
        .values(
            "agent__name",
            "agent__slug",
            "number",
            "submitted_at",
            "classification",
            "tier",
            "agent__current_tier",
        )
    )
    return {
        # -- discovery (helper `discovery`): estate-wide figures, see discovery_section
        "discovery": discovery_section(filters),
        "report": "board",
        "headline": headline,
        "status": _rag(headline, assessed),
        "previous": history[0] if history else None,
        "changes": _changes(headline, history[0]["figures"] if history else None),
        "trend": _trend(headline, today, history, scope),
        "top_risks": needing_attention(register, TOP_RISKS),
        "decisions": {
            "awaiting": [
                {
                    "agent": a["agent__name"],
                    "slug": a["agent__slug"],
                    "version": a["number"],
                    "submitted_on": timezone.localdate(a["submitted_at"])
                    if a["submitted_at"]
                    else None,
                    "proposed": f"{CLASS_LABELS.get(a['classification'], 'Not decided')}, "
                    f"tier {a['tier']}"
                    if a["classification"] and a["tier"]
                    else "Not decided",
                }
                for a in awaiting[:LIST_LIMIT]
            ],
            "awaiting_total": len(awaiting),
            "expiring": len(expiring_list),
            "ratify": [r for r in reclassified if r["change"] == "up" or r["class_changed"]][
                -LIST_LIMIT:
            ],
            "ratify_total": sum(
                1 for r in reclassified if r["change"] == "up" or r["class_changed"]
            ),
        },
        "signoff": {
            "prepared_by": filters.prepared_by,
            "reviewed_by": filters.reviewed_by,
            "meeting_date": filters.meeting_date,
            "decision": filters.decision,
        },
        "today": today,
        "period": {"since": filters.since, "until": filters.until},
        "filters": filters.describe(),
        "catalogue_version": in_force.version,
        # Where each figure's definition is written (the "How these figures are counted" page).
        "figures_url": settings.SITE_URL + reverse("assessments:figures"),
        "figures": {
            "agents": total,
            "assessed": assessed,
            "unassessed": total - assessed,
            "agent_identity": agent_ids,
            "agent_identity_pct": _pct(agent_ids, assessed),
            "machine_identity": machine_ids,
            "critical": critical,
            "high": high,
            "overdue": review_counts["overdue"],
            "due": review_counts["due"],
            "triggered": review_counts["triggered"],
            "triggered_overdue": review_counts["triggered_overdue"],
            "pending_decision": states["pending_decision"],
            "returned": states["returned"],
            "in_draft": states["in_draft"],
            "never_started": states["never_started"],
            "agents_with_open_gaps": open_gaps.agent_count,
            "open_gaps": open_gaps.total,
            "exceptions": len(exceptions),
            "expiring": expiring,
            "expired": len(expired),
            "reclassified": len(reclassified),
            "first_decisions": first_decisions,
        },
        "key_points": points,
        "distribution": distribution,
        "teams": [
            {
                "name": name,
                "total": c["total"],
                "tiers": [c[f"tier{t}"] for t in TIER_ORDER],
                "unassessed": c[UNASSESSED],
                "overdue": c["overdue"],
            }
            for name, c in sorted(team_rows.items())
        ],
        "flags": [
            {
                "id": f,
                "title": FLAG_TITLES.get(f, f),
                "description": FLAG_DESCRIPTIONS.get(f, ""),
                "agents": n,
            }
            for f, n in sorted(flag_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "overdue": overdue[:LIST_LIMIT],
        "overdue_more": max(0, len(overdue) - LIST_LIMIT),
        "overdue_by_team": _due_by_team(overdue),
        "due": due[:DUE_LIST_LIMIT],
        "due_more": max(0, len(due) - DUE_LIST_LIMIT),
        "due_by_team": _due_by_team(due),
        "gaps": gaps,
        "exceptions_by_subject": sorted(
            by_subject.values(), key=lambda x: (-x["count"], x["subject"])
        ),
        "expiring_exceptions": expiring_list[:LIST_LIMIT],
        "expiring_more": max(0, len(expiring_list) - LIST_LIMIT),
        "expired_exceptions": expired[:LIST_LIMIT],
        "expired_more": max(0, len(expired) - LIST_LIMIT),
        "reclassifications": reclassified[-LIST_LIMIT:],
        "reclassifications_more": max(0, len(reclassified) - LIST_LIMIT),
        "frameworks": frameworks,
        "top": filters.top,
        "attention": needing_attention(register, filters.top),
        "attention_total": sum(1 for r in register if _needs_attention(r)),
        "register": register,
    }


TOP_RISKS = 10
TREND_PACKS = 6


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


def previous_packs(filters: BoardFilters) -> list[dict[str, Any]]:
    """The latest earlier packs of the same scope (newest first, at most five), with the
    headline figures each recorded when it was issued."""
    from assessments.models import ReportRecord

    key = filters.scope_key()
    rows = (
        ReportRecord.objects.filter(kind=ReportRecord.Kind.BOARD, params__has_key="figures")
        .order_by("-created_at", "-pk")
        .values("document_id", "created_at", "params")[:200]
    )
    found = []
    for row in rows:
        params = row["params"]
        same = (
            str(params.get("team") or "") == key["team"]
            and (params.get("tier") or None) == key["tier"]
            and str(params.get("classification") or "") == key["classification"]
        )
        if same:
            found.append(
                {
                    "document_id": row["document_id"],
                    "on": timezone.localdate(row["created_at"]),
                    "figures": params["figures"],
                }
            )
        if len(found) == TREND_PACKS - 1:
            break
    return found


# Headline figures, how each is judged, and what "worse" means (up is worse for all).
HEADLINES = [
    ("unassessed", "Never assessed"),
    ("overdue", "Reviews overdue"),
    ("agents_with_open_gaps", "Agents with an open gap"),
    ("critical", "Agents at the critical tier"),
    ("expiring", "Exceptions expiring within 30 days"),
    ("reclassified_up", "Moved to a higher tier in the period"),
]
RAG_LABELS = {"green": "Green", "amber": "Amber", "red": "Red"}


def _rag(headline: dict[str, Any], assessed: int) -> list[dict[str, Any]]:
    """Red, amber or green for each headline figure, with the rule that decided it."""
    total = max(headline["agents"], 1)
    rules = {
        # (amber when above, red when above, the rule in words)
        "unassessed": (0, total // 10, "red when more than 10% of agents"),
        "overdue": (0, max(assessed, 1) // 20, "red when more than 5% of assessed agents"),
        "agents_with_open_gaps": (0, max(assessed, 1) // 10, "red when more than 10%"),
        "critical": (0, 10**9, "amber when any: each needs the strongest controls"),
        "expiring": (0, 10**9, "amber when any: an expired exception re-opens its gap"),
        "reclassified_up": (0, 10**9, "amber when any: the board ratifies each"),
    }
    out = []
    for key, label in HEADLINES:
        value = headline[key]
        amber, red, rule = rules[key]
        status = "red" if value > red else "amber" if value > amber else "green"
        out.append({"key": key, "label": label, "value": value, "status": status, "rule": rule})
    return out


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


def _trend(
    headline: dict[str, Any],
    today: dt.date,
    history: list[dict[str, Any]],
    scope: Any = None,
) -> dict[str, Any]:
    """Small bar charts over this pack and up to five earlier ones of the same scope.
    With fewer earlier packs, the missing points are rebuilt from the records at 30-day
    steps before the earliest (``portfolio.figures_as_of``) and marked as such."""
    points = [{"on": h["on"], "figures": h["figures"], "rebuilt": False} for h in history]
    if scope is not None:
        earliest = min([p["on"] for p in points] + [today])
        step = 1
        while len(points) < TREND_PACKS - 1:
            day = earliest - dt.timedelta(days=30 * step)
            points.append(
                {"on": day, "figures": portfolio.figures_as_of(day, scope), "rebuilt": True}
            )
            step += 1
    points = sorted(points, key=lambda p: p["on"]) + [
        {"on": today, "figures": headline, "rebuilt": False}
    ]
    series = [
        ("overdue", "Reviews overdue", "#b91c1c"),
        ("open_gaps", "Open gaps", "#b45309"),
        ("exceptions", "Exceptions in force", "#6f2dbd"),
        ("critical", "Critical tier agents", "#14213d"),
    ]
    charts = []
    width, height, bottom = 170, 70, 14
    for key, label, colour in series:
        values = [int(p["figures"].get(key, 0)) for p in points]
        tallest = max([*values, 1])
        slot = width / TREND_PACKS
        bars = []
        for i, (value, point) in enumerate(zip(values, points, strict=True)):
            h = (height - bottom - 12) * value / tallest
            bars.append(
                {
                    "x": round(i * slot + slot * 0.2, 1),
                    "w": round(slot * 0.6, 1),
                    "y": round(height - bottom - h, 1),
                    "h": round(h, 1),
                    "value": value,
                    "value_y": round(height - bottom - h - 2, 1),
                    "cx": round(i * slot + slot / 2, 1),
                    "label": point["on"].strftime("%-d %b") + ("*" if point["rebuilt"] else ""),
                }
            )
        charts.append(
            {
                "label": label,
                "colour": colour,
                "bars": bars,
                "width": width,
                "height": height,
                "axis_y": height - bottom,
                "label_y": height - 3,
            }
        )
    tiers = [
        {
            "on": p["on"],
            "rebuilt": p["rebuilt"],
            "tiers": [int((p["figures"].get("tiers") or {}).get(str(t), 0)) for t in TIER_ORDER],
        }
        for p in points
    ]
    return {
        "points": len(points),
        "rebuilt": sum(1 for p in points if p["rebuilt"]),
        "charts": charts,
        "tiers": tiers,
    }


def _needs_attention(row: dict[str, Any]) -> bool:
    return bool(
        row["version"] is None or row["open_gaps"] or row["blocking_flags"] or row["days_overdue"]
    )


def risk_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Most at risk first: tier, then blocking flags, open gaps and days overdue."""
    return (
        -(row["tier"] or 0),
        -len(row["blocking_flags"]),
        -len(row["open_gaps"]),
        -row["days_overdue"],
        row["agent"],
        row["slug"],
    )


def required_action(row: dict[str, Any]) -> str:
    """What the owner must do, most urgent first, in a sentence."""
    actions = []
    if row["version"] is None:
        actions.append("Assess it: nobody has decided how it must be governed")
    if row["days_overdue"]:
        n = row["days_overdue"]
        actions.append(f"Complete the overdue review ({n} day{'s' if n != 1 else ''} late)")
    if row["blocking_flags"]:
        actions.append("Resolve " + ", ".join(f.lower() for f in row["blocking_flags"]))
    if row["open_gaps"]:
        n = len(row["open_gaps"])
        actions.append(f"Close {n} gap{'s' if n != 1 else ''}: {', '.join(row['open_gaps'])}")
    return "; ".join(actions) + "." if actions else ""


def needing_attention(register: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """The ``top`` agents most at risk among those with something to act on."""
    rows = sorted((r for r in register if _needs_attention(r)), key=risk_key)[:top]
    return [
        {
            **r,
            "action": required_action(r),
            # The review date is when it must be done by; an overdue one is already late.
            "due_on": r["next_review"],
        }
        for r in rows
    ]


REGISTER_HEADER = [
    "team",
    "agent",
    "slug",
    "class",
    "tier",
    "approved version",
    "approved on",
    "next review",
    "days overdue",
    "owner",
    "open gaps",
    "gaps under exception",
    "flags",
    "blocking flags without exception",
    "systems it can change",
    "read-only systems",
]


def register_csv(register: list[dict[str, Any]]) -> bytes:
    """Every agent in scope, one row each: the pack's register (attached, and a download)."""
    from assessments.reports.exports import csv_lines

    rows = (
        [
            r["team"],
            r["agent"],
            r["slug"],
            r["class"],
            r["tier"],
            r["version"],
            r["approved_on"],
            r["next_review"],
            r["days_overdue"],
            r["owner"],
            "; ".join(r["open_gaps"]),
            "; ".join(r["excepted_gaps"]),
            "; ".join(r["flags"]),
            "; ".join(r["blocking_flags"]),
            "; ".join(r["can_change"]),
            r["read_only"],
        ]
        for r in register
    )
    return "".join(csv_lines(REGISTER_HEADER, rows)).encode("utf-8")


def _due_by_team(due: list[dict[str, Any]]) -> list[dict[str, Any]]:
    teams: dict[str, dict[str, Any]] = {}
    for r in due:
        row = teams.setdefault(
            r["team"], {"team": r["team"], "count": 0, "tiers": Counter(), "first": r["due_on"]}
        )
        row["count"] += 1
        row["tiers"][r["tier"] or 0] += 1
        row["first"] = min(row["first"], r["due_on"])
    return [
        {
            "team": row["team"],
            "count": row["count"],
            "tiers": [row["tiers"][t] for t in TIER_ORDER],
            "first": row["first"],
        }
        for row in sorted(teams.values(), key=lambda r: (-r["count"], r["team"]))
    ]


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
    """``states``: the assessment states of the agents with no approved assessment."""
    """Plain sentences a board member reads first; each states a figure from the pack."""
    points = []
    if not total:
        return ["No active agents match this pack's filters."]
    points.append(
        f"{assessed} of {total} agents have an approved assessment; {agent_ids} "
        f"({_pct(agent_ids, assessed)}) are governed as agent identities. {critical} "
        f"{'are' if critical != 1 else 'is'} at the critical tier and {high} at the high tier."
        if assessed
        else f"None of the {total} agents has an approved assessment yet."
    )
    if total - assessed:
        parts = [
            f"{states[key]} {label}"
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
                f"{never} never assessed: nobody has started deciding how "
                f"{'they' if never != 1 else 'it'} must be governed"
            )
        points.append(
            f"{total - assessed} agent{'s have' if total - assessed != 1 else ' has'} no "
            f"approved assessment yet: {'; '.join(parts)}."
        )
    if overdue:
        worst = max(overdue, key=lambda r: r["days"])
        points.append(
            f"{len(overdue)} review{'s are' if len(overdue) != 1 else ' is'} overdue; the "
            f"longest is {worst['days']} day{'s' if worst['days'] != 1 else ''} late "
            f"({worst['agent']})."
        )
    else:
        points.append("No review is overdue.")
    if gaps:
        top = gaps[0]
        points.append(
            f"{agents_with_open_gaps} agent{'s have' if agents_with_open_gaps != 1 else ' has'} "
            f"at least one control gap without an exception; the most common gap is "
            f"{top['id']} {top['title']} ({top['agents']} agent{'s' if top['agents'] != 1 else ''})."
        )
    if expiring:
        points.append(
            f"{expiring} exception{'s expire' if expiring != 1 else ' expires'} within "
            f"{DUE_WITHIN_DAYS} days; an expired exception re-opens its gap."
        )
    if reclassified:
        up = sum(1 for r in reclassified if r["change"] == "up")
        points.append(
            f"{len(reclassified)} agent{'s were' if len(reclassified) != 1 else ' was'} "
            f"reclassified in the period; {up} moved to a higher tier."
        )
    return points


def _estimated_pages(content: dict[str, Any]) -> int:
    rows = (
        len(content["overdue"])
        + len(content["due"])
        + len(content["due_by_team"])
        + len(content["expiring_exceptions"])
        + len(content["expired_exceptions"])
        + len(content["reclassifications"])
        + len(content["gaps"])
        + sum(len(fw["items"]) for fw in content["frameworks"])
        + len(content["attention"])
    )
    return 6 + rows // 28


@dataclass(frozen=True)
class BoardPack:
    rendered: RenderedPdf
    content: bytes
    content_sha256: str
    headline: dict[str, Any]  # kept on the pack's record: the next pack's trend and change


def render_board_pack(
    filters: BoardFilters,
    *,
    document_id: str,
    generated_at: dt.datetime,
    generated_by: str,
    progress: Any = None,
) -> BoardPack:
    """Render the pack. ``progress(percent, message)`` is called as the work advances."""

    reached = [0]

    def report(percent: int, message: str) -> None:
        # WeasyPrint lays the pages out again when the contents' page numbers settle;
        # the bar never goes back.
        if progress and percent >= reached[0]:
            reached[0] = percent
            progress(percent, message)

    report(5, "Reading the portfolio")
    content = board_content(filters)
    data = canonical_json(content)
    digest = sha256_hex(data)
    report(20, "Laying out the pages")
    expected = max(_estimated_pages(content), 1)

    def on_step(step: str, page: int) -> None:
        if step == "layout":
            report(20 + min(65, 65 * page // expected), f"Laying out page {page}")
        elif step == "pdf":
            report(88, "Writing the PDF")

    scope = ", ".join(content["filters"]) or "all active agents"
    context = {
        "c": content,
        "doc": {
            "id": document_id,
            "generated_at": generated_at,
            "generated_by": generated_by,
            "content_sha256": digest,
            "scope": scope,
        },
        "chart": _chart(
            {
                key: {cls: row[cls] for cls in ("agent_identity", "machine_identity", UNASSESSED)}
                for key, row in zip((*TIER_ORDER, None), content["distribution"], strict=True)
            },
            [(t, TIER_LABELS[t]) for t in TIER_ORDER] + [(None, "Not assessed")],
        ),
    }
    meta = PdfMeta(
        document_id=document_id,
        title=f"Board pack: agent identity governance, {_d(filters.until)}",
        subject=f"{document_id} · {scope} · content SHA-256 {digest}",
        author=generated_by,
        created=generated_at,
        content=data,
        attachments=(
            (
                REGISTER_ATTACHMENT,
                register_csv(content["register"]),
                f"Every agent in scope of {document_id}, one row each (UTF-8 CSV)",
            ),
        ),
    )
    rendered = render_pdf(TEMPLATE, context, meta, progress=on_step)
    report(95, "Recording the pack")
    return BoardPack(rendered, data, digest, content["headline"])
