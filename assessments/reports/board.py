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
from django.db import connection
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import dateformat, timezone

from assessments import portfolio
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
from assessments.reports import appetite, board_owners
from assessments.reports import certification as certification_results
from assessments.reports.pdf import PdfMeta, RenderedPdf, canonical_json, render_pdf, sha256_hex
from assessments.workflow import decisions

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
    chair: str = ""
    attendees: str = ""
    commentary: str = ""  # management's commentary, entered when the pack is made

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
            chair=str(params.get("chair") or "").strip()[:200],
            attendees=str(params.get("attendees") or "").strip()[:1000],
            commentary=str(params.get("commentary") or "").strip()[:4000],
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
            "chair": self.chair,
            "attendees": self.attendees,
            "commentary": self.commentary,
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


def board_content(filters: BoardFilters, *, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the board pack states, as plain data. Every figure is a portfolio
    definition (assessments/portfolio/) applied to the pack's scope; the register
    (one row per agent) carries what each figure counts, so each can be recounted."""
    today = today or timezone.localdate()
    scope = filters.agents()
    in_progress = Assessment.objects.open().filter(agent=OuterRef("pk")).order_by("-number")
    agents = list(
        portfolio.agents_for_list(scope, today)
        .annotate(
            open_number=Subquery(in_progress.values("number")[:1]),
            open_status=Subquery(in_progress.values("status")[:1]),
            open_classification=Subquery(in_progress.values("classification")[:1]),
            open_tier=Subquery(in_progress.values("tier")[:1]),
            open_since=Subquery(in_progress.values("submitted_at")[:1]),
        )
        .order_by("team__name", "name", "pk")
        .values(
            "pk",
            "name",
            "slug",
            "current_classification",
            "current_tier",
            "next_review",
            "review_triggered",
            "review_overdue",
            "assessment_state",
            "open_number",
            "open_status",
            "open_classification",
            "open_tier",
            "open_since",
            "team__name",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
        )
    )
    ids = scope.values("pk")
    answerable = board_owners.answerable_by_agent(ids, today)
    accountability = board_owners.accountability_section(scope, today)
    # Reach, as a board reads it: what each agent can change; read access is counted.
    writes: dict[int, list[str]] = defaultdict(list)
    reads: Counter[int] = Counter()
    high_risk: dict[int, list[str]] = defaultdict(list)
    for agent_id, name, access in (
        System.objects.filter(agent__in=ids)
        .order_by("name")
        .values_list("agent_id", "name", "access")
    ):
        if access == "read":
            reads[agent_id] += 1
        else:
            writes[agent_id].append(f"{name} ({access})")
            if access in HIGH_RISK_ACCESS:
                high_risk[agent_id].append(f"{name} ({access})")
    latest: dict[int, dict[str, Any]] = {row["agent_id"]: row for row in _latest_approved(ids)}

    # Exceptions in force (controls and flags alike: portfolio.exceptions_in_force), and
    # those that expired in the period (not renewed, not revoked): their gaps re-opened.
    exception_fields = (
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

    def listed(e: dict[str, Any]) -> dict[str, Any]:
        return {
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

    in_force_rows = list(
        portfolio.exceptions_in_force(today)
        .filter(agent__in=ids)
        .order_by("expires_on", "agent__name", "subject", "pk")
        .values(*exception_fields)
    )
    exceptions = [listed(e) for e in in_force_rows]
    by_agent_exceptions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e, x in zip(in_force_rows, exceptions, strict=True):
        by_agent_exceptions[e["agent_id"]].append(x)
    expired_rows = list(
        GapException.objects.not_superseded()
        .filter(
            agent__in=ids,
            revoked_at__isnull=True,
            expires_on__gte=filters.since,
            expires_on__lt=today,
        )
        .order_by("expires_on", "agent__name", "subject", "pk")
        .values(*exception_fields)
    )
    expired = [listed(e) for e in expired_rows]
    expired_by_agent: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e, x in zip(expired_rows, expired, strict=True):
        expired_by_agent[e["agent_id"]].append(x)
    expiring_list = [x for x in exceptions if x["days_left"] <= DUE_WITHIN_DAYS]

    overdue = _reviews(Review.objects.overdue(today).filter(agent__in=ids), today)
    review_counts = portfolio.review_states(
        today, Review.objects.in_queue(DUE_WITHIN_DAYS, today).filter(agent__in=ids)
    )
    states = portfolio.assessment_states(scope)
    open_gaps = portfolio.open_gaps(today, top=0, agents=scope)
    open_by_agent = _open_gap_rows(today, scope)
    due = _reviews(Review.objects.due(DUE_WITHIN_DAYS, today).filter(agent__in=ids), today)
    reclassified = _reclassifications(ids, filters)
    reclassified_by_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in reclassified:
        reclassified_by_agent[r["slug"]].append(r)
    first_decided = set(
        Assessment.objects.approved()
        .filter(
            agent__in=ids,
            number=1,
            decided_at__date__gte=filters.since,
            decided_at__date__lte=filters.until,
        )
        .values_list("agent_id", flat=True)
    )
    first_decisions = len(first_decided)

    # Catalogues in use: control -> mapped items, and titles for the matrix.
    versions = {row["catalogue_id"] for row in latest.values()}
    in_force = decisions.current_catalogue()
    versions.add(in_force.pk)
    catalogues = {
        v.pk: decisions.catalogue_data(v) for v in CatalogueVersion.objects.filter(pk__in=versions)
    }
    control_titles = {c["id"]: c["title"] for data in catalogues.values() for c in data["controls"]}

    def subject_title(subject: str) -> str:
        return control_titles.get(subject) or FLAG_TITLES.get(subject, subject)

    gaps_by_control: dict[str, dict[str, Any]] = {}
    flag_counts: Counter[str] = Counter()
    matrix: dict[Any, dict[str, int]] = {t: Counter() for t in (*TIER_LABELS, None)}
    team_rows: dict[str, Counter[str]] = defaultdict(Counter)
    register: list[dict[str, Any]] = []
    for a in agents:
        cls = a["current_classification"] or UNASSESSED
        tier = a["current_tier"] if a["current_classification"] else None
        matrix[tier][cls] += 1
        team = team_rows[a["team__name"]]
        team["total"] += 1
        team[f"tier{tier}" if tier else UNASSESSED] += 1
        review_state = _review_state(a, today)
        if review_state == "overdue":
            team["overdue"] += 1
        approved_row = latest.get(a["pk"])
        agent_exceptions = by_agent_exceptions.get(a["pk"], [])
        excepted_subjects = {x["subject"] for x in agent_exceptions}
        flags: list[str] = []
        if approved_row is not None:
            flags = list(approved_row["flags"] or [])
            flag_counts.update(flags)
            for control in approved_row["controls"] or []:
                if control["status"] != "gap":
                    continue
                entry = gaps_by_control.setdefault(
                    control["id"],
                    {"id": control["id"], "title": control["title"], "agents": 0, "excepted": 0},
                )
                entry["agents"] += 1
                entry["excepted"] += int(control["id"] in excepted_subjects)
        open_ids = open_by_agent.get(a["pk"], [])
        blocking = [f for f in flags if f in BLOCKING_FLAGS and f not in excepted_subjects]
        late = (today - a["next_review"]).days if review_state == "overdue" else 0
        moves = reclassified_by_agent.get(a["slug"], [])
        state = a["assessment_state"]
        register.append(
            {
                "team": a["team__name"],
                "agent": a["name"],
                "slug": a["slug"],
                "owner": _name(a["owner__first_name"], a["owner__last_name"], a["owner__username"]),
                **answerable.get(a["pk"], board_owners.NOBODY),
                "state": state,
                "state_label": portfolio.ASSESSMENT_STATE_LABELS[state],
                "class": CLASS_LABELS[cls] if tier else "Not assessed",
                "classification": a["current_classification"] if tier else "",
                "tier": tier,
                "version": approved_row["number"] if approved_row is not None else None,
                "approved_on": timezone.localdate(approved_row["decided_at"])
                if approved_row is not None
                else None,
                "in_progress": {
                    "version": a["open_number"],
                    "status": a["open_status"],
                    "label": IN_PROGRESS_LABELS.get(a["open_status"], ""),
                    "proposed_tier": a["open_tier"],
                    "proposed_class": a["open_classification"] or "",
                    "since": timezone.localdate(a["open_since"]) if a["open_since"] else None,
                }
                if a["open_number"]
                else None,
                "review_state": review_state,
                "review_state_label": REVIEW_STATE_LABELS[review_state],
                "review_triggered": bool(a["review_triggered"]),
                "next_review": a["next_review"],  # the open review's due date
                "days_overdue": late,
                "open_gaps": open_ids,
                "open_gap_titles": [subject_title(g) for g in open_ids],
                "exceptions": [
                    {
                        "subject": x["subject"],
                        "title": subject_title(x["subject"]),
                        "kind": "flag" if x["subject"] in FLAG_TITLES else "control",
                        "expires_on": x["expires_on"],
                        "expiring": x["days_left"] <= DUE_WITHIN_DAYS,
                    }
                    for x in agent_exceptions
                ],
                "expired": [
                    {"subject": x["subject"], "expires_on": x["expires_on"]}
                    for x in expired_by_agent.get(a["pk"], [])
                ],
                "first_decision": a["pk"] in first_decided,
                "flags": [FLAG_TITLES.get(f, f) for f in flags],
                "flag_codes": flags,
                "blocking_flags": [FLAG_TITLES.get(f, f) for f in blocking],
                "reclassified": [
                    {
                        "from": r["from"],
                        "to": r["to"],
                        "on": timezone.localdate(r["decided_at"]),
                        "change": r["change"],
                        "class_changed": r["class_changed"],
                    }
                    for r in moves
                ],
                "can_change": writes.get(a["pk"], []),
                "high_risk_access": high_risk.get(a["pk"], []),
                "read_only": reads[a["pk"]],
            }
        )

    total = len(agents)
    assessed = total - states["undecided"]
    agent_ids = sum(matrix[t]["agent_identity"] for t in matrix)
    machine_ids = sum(matrix[t]["machine_identity"] for t in matrix)
    critical = sum(matrix[4].values())
    high = sum(matrix[3].values())
    expiring = len(expiring_list)

    # Coverage matrix: the current catalogue's items, in its order (portfolio.py).
    coverage = portfolio.portfolio_coverage(list(latest.values()), catalogues, in_force.pk)
    frameworks = _frameworks(coverage)

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
    by_subject: dict[str, dict[str, Any]] = {}
    for x in exceptions:
        entry = by_subject.setdefault(
            x["subject"],
            {
                "subject": x["subject"],
                "title": subject_title(x["subject"]),
                "count": 0,
                "expiring": 0,
                "next_expiry": x["expires_on"],
            },
        )
        entry["count"] += 1
        entry["expiring"] += int(x["days_left"] <= DUE_WITHIN_DAYS)
        entry["next_expiry"] = min(entry["next_expiry"], x["expires_on"])

    ratify = [r for r in reclassified if r["change"] == "up" or r["class_changed"]]
    headline = {
        "agents": total,
        "never_assessed": states["never_started"],
        "undecided": states["undecided"],
        "critical": critical,
        "high": high,
        "overdue": review_counts["overdue"],
        "agents_with_open_gaps": open_gaps.agent_count,
        "open_gaps": open_gaps.total,
        "exceptions": len(exceptions),
        "expiring": expiring,
        "reclassified_up": sum(1 for r in reclassified if r["change"] == "up"),
        "orphaned": accountability["orphaned"],
        "inactive": accountability["inactive"],
        "tiers": {str(t): sum(matrix[t].values()) for t in TIER_LABELS},
    }
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
    history = previous_packs(filters)
    baseline = baseline_pack(history)
    status = appetite.judged(headline, assessed)
    moved = [
        {
            "key": f["key"],
            "label": f["label"],
            "from": baseline["status"][f["key"]],
            "to": f["status"],
        }
        for f in status
        if baseline and baseline["status"].get(f["key"]) not in (None, f["status"])
    ]
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
    attention_total = sum(1 for r in register if _needs_attention(r))
    figures_now = {
        "to_ratify": len(ratify),
        "expiring": expiring,
        "overdue": review_counts["overdue"],
        "awaiting": len(awaiting),
        "moved_band": len(moved),
    }
    resolutions = _resolutions(figures_now, moved)
    # The codes the pack prints (control ids such as AIC-01); flags are printed in words,
    # so their keys (audit_gap) are never a reader's to look up.
    used = {g["id"] for g in gaps} | {x["subject"] for x in exceptions}
    glossary = [
        {"code": code, "title": subject_title(code)}
        for code in sorted(used)
        if subject_title(code) != code and code not in flag_counts and not code.islower()
    ]
    top_risks = needing_attention(register, TOP_RISKS, today)
    return {
        # -- discovery (helper `discovery`): estate-wide figures, see discovery_section
        "discovery": discovery_section(filters),
        # -- access certification (issue 26): campaigns of the period, see reports/certification
        "certification": certification_results.board_summary(
            filters.since, filters.until, filters.agents()
        ),
        "report": "board",
        "headline": headline,
        "accountability": accountability,
        "status": status,
        "previous": baseline,
        "moved_band": moved,
        "changes": _changes(headline, baseline["figures"] if baseline else None),
        "trend": _trend(headline, today, history, scope),
        "top_risks": top_risks,
        "top_risks_total": attention_total,
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
            "expiring_listed": [
                {**x, "title": subject_title(x["subject"])} for x in expiring_list[:LIST_LIMIT]
            ],
            "ratify": ratify[-LIST_LIMIT:],
            "ratify_total": len(ratify),
        },
        "commentary": filters.commentary,
        "resolutions": resolutions,
        "previous_resolutions": _resolution_status(baseline, figures_now),
        "glossary": glossary,
        "signoff": {
            "chair": filters.chair,
            "attendees": [a.strip() for a in filters.attendees.split(",") if a.strip()],
            "prepared_by": filters.prepared_by,
            "reviewed_by": filters.reviewed_by,
            "meeting_date": filters.meeting_date,
            "decision": filters.decision,
        },
        "today": today,
        "period": {"since": filters.since, "until": filters.until},
        "filters": filters.describe(),
        "catalogue_version": in_force.version,
        # Where each figure's definition is written (the "How these figures are counted"
        # page): at SITE_URL, or named only when the site has no address a reader can reach.
        "figures_url": _site_url() + reverse("assessments:figures") if _site_url() else "",
        "site_url": _site_url(),
        "figures": {
            "agents": total,
            "assessed": assessed,
            "undecided": states["undecided"],
            "never_assessed": states["never_started"],
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
            "exceptions_on_flags": sum(1 for x in exceptions if x["subject"] in FLAG_TITLES),
            "expiring": expiring,
            "expired": len(expired),
            "reclassified": len(reclassified),
            "reclassified_agents": len(reclassified_by_agent),
            "reclassified_up": headline["reclassified_up"],
            "to_ratify": len(ratify),
            "first_decisions": first_decisions,
            "awaiting": len(awaiting),
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
        "due_total": len(due),
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
        "attention": needing_attention(register, filters.top, today),
        "attention_total": attention_total,
        "register": register,
        # The register's column headers, for "all M in the register, column …".
        "columns": REGISTER_HEADERS,
    }


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


def _trend(
    headline: dict[str, Any],
    today: dt.date,
    history: list[dict[str, Any]],
    scope: Any = None,
) -> dict[str, Any]:
    """One point per period (month, or quarter beyond 12 months of records), oldest
    first, then this pack. A period's point is the last pack recorded with a board in it;
    without one it is rebuilt from the records as they stood at the period's end
    (``portfolio.figures_as_of``) and marked."""
    first = (
        Assessment.objects.filter(agent__in=scope)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
        if scope is not None
        else None
    )
    period, ends = _period_ends(today, timezone.localdate(first) if first else None)
    points = []
    previous_end = None
    for end in ends:
        in_period = [
            h
            for h in history
            if h["on"] <= end and (previous_end is None or h["on"] > previous_end)
        ]
        if in_period:
            newest = max(in_period, key=lambda h: h["on"])
            points.append({"on": newest["on"], "figures": newest["figures"], "rebuilt": False})
        elif scope is not None:
            points.append(
                {"on": end, "figures": portfolio.figures_as_of(end, scope), "rebuilt": True}
            )
        previous_end = end
    points.append({"on": today, "figures": headline, "rebuilt": False})
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
        slot = width / len(points)
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
                    "label": point["on"].strftime("%b %y" if point["rebuilt"] else "%-d %b")
                    + ("*" if point["rebuilt"] else ""),
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
        "period": period,
        "points": len(points),
        "dates": [p["on"] for p in points],
        "rebuilt": sum(1 for p in points if p["rebuilt"]),
        "charts": charts,
        "tiers": tiers,
    }


def _undecided_high_risk(row: dict[str, Any]) -> bool:
    """Awaiting a decision or returned, with access a board treats as high risk."""
    progress = row["in_progress"]
    return bool(
        row["version"] is None
        and progress
        and progress["status"] in (Assessment.Status.SUBMITTED, Assessment.Status.RETURNED)
        and (row["high_risk_access"] or (progress["proposed_tier"] or 0) >= 3)
    )


def _needs_attention(row: dict[str, Any]) -> bool:
    return bool(
        row["version"] is None or row["open_gaps"] or row["blocking_flags"] or row["days_overdue"]
    )


def _rank_tier(row: dict[str, Any]) -> int:
    """The tier a row is ranked by: its approved tier; for an agent nobody has decided
    yet, the tier its assessment in progress proposes, and critical when it has high-risk
    access (a missing decision is never read as the safe value)."""
    if row["tier"]:
        return int(row["tier"])
    if _undecided_high_risk(row):
        return 4
    progress = row["in_progress"]
    return int(progress["proposed_tier"] or 0) if progress else 0


def risk_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Most at risk first: tier, then blocking flags, open gaps and days overdue."""
    return (
        -_rank_tier(row),
        -len(row["blocking_flags"]),
        -len(row["open_gaps"]),
        -row["days_overdue"],
        row["agent"],
        row["slug"],
    )


def required_action(row: dict[str, Any]) -> str:
    """What the owner must do, most urgent first, in a sentence."""
    actions = []
    progress = row["in_progress"]
    if row["version"] is None:
        if progress and progress["status"] == Assessment.Status.SUBMITTED:
            actions.append(f"Decide v{progress['version']}: it awaits a reviewer")
        elif progress and progress["status"] == Assessment.Status.RETURNED:
            actions.append(f"Answer the review of v{progress['version']} and submit it again")
        elif progress:
            actions.append(f"Finish and submit the draft v{progress['version']}")
        else:
            actions.append("Assess it: nobody has decided how it must be governed")
        if row["high_risk_access"]:
            actions.append("meanwhile it can administer " + ", ".join(row["high_risk_access"]))
    if row["days_overdue"]:
        n = row["days_overdue"]
        actions.append(f"Complete the overdue review ({n:,} day{'s' if n != 1 else ''} late)")
    if row["blocking_flags"]:
        actions.append("Resolve " + ", ".join(f.lower() for f in row["blocking_flags"]))
    if row["open_gaps"]:
        n = len(row["open_gaps"])
        named = ", ".join(
            f"{code} {title}" if title != code else code
            for code, title in zip(row["open_gaps"], row["open_gap_titles"], strict=True)
        )
        actions.append(f"Close {n} gap{'s' if n != 1 else ''}: {named}")
    return "; ".join(actions) + "." if actions else ""


def due_of(row: dict[str, Any], today: dt.date) -> tuple[dt.date | None, str]:
    """When the row's action is due, and what that date is: the overdue review's date,
    an exception's end, the review the gaps must be closed by, or now."""
    progress = row["in_progress"]
    if row["version"] is None:
        if progress and progress["since"] and progress["status"] == Assessment.Status.SUBMITTED:
            return progress["since"], "Awaiting a decision since"
        return None, "Now: no approved assessment"
    if row["days_overdue"]:
        return row["next_review"], "Review overdue since"
    ending = [x for x in row["exceptions"] if x["expiring"]]
    if ending:
        first = min(ending, key=lambda x: x["expires_on"])
        subject = FLAG_TITLES.get(first["subject"], first["subject"])  # a flag in words
        return first["expires_on"], f"Exception on {subject} ends"
    if row["next_review"]:
        return row["next_review"], "By the review due"
    return None, "Now"


def needing_attention(
    register: list[dict[str, Any]], top: int, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """The ``top`` agents most at risk among those with something to act on."""
    today = today or timezone.localdate()
    rows = sorted((r for r in register if _needs_attention(r)), key=risk_key)[:top]
    out = []
    for r in rows:
        due_on, due_what = due_of(r, today)
        out.append(
            {
                **r,
                "rank_tier": _rank_tier(r),
                "action": required_action(r),
                "due_on": due_on,
                "due_what": due_what,
            }
        )
    return out


# The register's columns: (key, header). Codes stay in their cells as before; a column
# whose header ends in "(words)" says the same for a person.
REGISTER_COLUMNS = [
    ("team", "team"),
    ("agent", "agent"),
    ("slug", "slug"),
    ("owner", "owner"),
    ("sponsor", "sponsor"),
    ("successors", "successors"),
    ("orphaned_on", "orphaned since"),
    ("inactive", "inactive"),
    ("state", "assessment state"),
    ("state_label", "assessment state (words)"),
    ("classification", "class"),
    ("class", "class (words)"),
    ("tier", "tier"),
    ("version", "approved version"),
    ("approved_on", "approved on"),
    ("in_progress_version", "version in progress"),
    ("in_progress_status", "in progress status"),
    ("in_progress_label", "in progress (words)"),
    ("in_progress_proposed", "in progress proposes"),
    ("review_state", "review state"),
    ("review_state_label", "review state (words)"),
    ("review_triggered", "review triggered by a change"),
    ("next_review", "next review"),
    ("overdue_since", "review overdue since"),
    ("days_overdue", "days overdue"),
    ("open_gaps", "open gaps"),
    ("open_gap_titles", "open gaps (words)"),
    ("exceptions", "exceptions in force"),
    ("exception_titles", "exceptions in force (words)"),
    ("expiring", "exceptions expiring within 30 days"),
    ("expired", "exceptions expired in the period"),
    ("flag_codes", "flags"),
    ("flags", "flags (words)"),
    ("blocking_flags", "blocking flags without exception"),
    ("first_decision", "first approved in the period"),
    ("reclassified", "reclassified in the period"),
    ("reclassified_up", "moved to a higher tier in the period"),
    ("to_ratify", "to ratify"),
    ("high_risk_access", "high-risk access"),
    ("can_change", "systems it can change"),
    ("read_only", "read-only systems"),
]
REGISTER_HEADER = [header for _key, header in REGISTER_COLUMNS]
REGISTER_HEADERS = dict(REGISTER_COLUMNS)


def register_cells(r: dict[str, Any]) -> dict[str, Any]:
    """One register row's cells by column key (lists joined with "; ")."""
    progress = r["in_progress"] or {}
    moves = r["reclassified"]
    return {
        "team": r["team"],
        "agent": r["agent"],
        "slug": r["slug"],
        "owner": r["owner"],
        "sponsor": r["sponsor"],
        "successors": "; ".join(r["successors"]),
        "orphaned_on": r["orphaned_on"],
        "inactive": "yes" if r["inactive"] else "no",
        "state": r["state"],
        "state_label": r["state_label"],
        "classification": r["classification"],
        "class": r["class"],
        "tier": r["tier"],
        "version": r["version"],
        "approved_on": r["approved_on"],
        "in_progress_version": progress.get("version"),
        "in_progress_status": progress.get("status", ""),
        "in_progress_label": progress.get("label", ""),
        "in_progress_proposed": (
            f"{CLASS_LABELS.get(progress['proposed_class'], 'class not decided')}, "
            f"tier {progress['proposed_tier']}"
            if progress and progress.get("proposed_tier")
            else ""
        ),
        "review_state": r["review_state"],
        "review_state_label": r["review_state_label"],
        "review_triggered": "yes" if r["review_triggered"] else "no",
        "next_review": r["next_review"],
        "overdue_since": r["next_review"] if r["review_state"] == "overdue" else None,
        "days_overdue": r["days_overdue"],
        "open_gaps": "; ".join(r["open_gaps"]),
        "open_gap_titles": "; ".join(r["open_gap_titles"]),
        "exceptions": "; ".join(
            f"{x['subject']} until {x['expires_on'].isoformat()}" for x in r["exceptions"]
        ),
        "exception_titles": "; ".join(
            f"{x['title']} until {_d(x['expires_on'])}" for x in r["exceptions"]
        ),
        "expiring": sum(1 for x in r["exceptions"] if x["expiring"]),
        "expired": "; ".join(
            f"{x['subject']} on {x['expires_on'].isoformat()}" for x in r["expired"]
        ),
        "first_decision": "yes" if r["first_decision"] else "no",
        "flag_codes": "; ".join(r["flag_codes"]),
        "flags": "; ".join(r["flags"]),
        "blocking_flags": "; ".join(r["blocking_flags"]),
        "reclassified": "; ".join(
            f"{m['from']} → {m['to']} on {m['on'].isoformat()}" for m in moves
        ),
        "reclassified_up": sum(1 for m in moves if m["change"] == "up"),
        "to_ratify": sum(1 for m in moves if m["change"] == "up" or m["class_changed"]),
        "high_risk_access": "; ".join(r["high_risk_access"]),
        "can_change": "; ".join(r["can_change"]),
        "read_only": r["read_only"],
    }


def register_csv(register: list[dict[str, Any]]) -> bytes:
    """Every agent in scope, one row each: the pack's register (attached, and a download).
    Each headline figure can be recounted from it (tests/test_consistency.py does)."""
    from assessments.reports.exports import csv_lines

    keys = [key for key, _header in REGISTER_COLUMNS]
    rows = ([register_cells(r)[k] for k in keys] for r in register)
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
    recorded: dict[str, Any]  # also kept: each figure's band and the resolutions asked


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
    recorded = {
        "status": {f["key"]: f["status"] for f in content["status"]},
        "resolutions": content["resolutions"],
    }
    return BoardPack(rendered, data, digest, content["headline"], recorded)
