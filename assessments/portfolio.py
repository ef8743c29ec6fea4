"""The one home of portfolio figures: every count or date a person reads about the
portfolio is defined here (or in the QuerySet method named here) and nowhere else. The
dashboard, the queue, the agent list, the CSV exports, ``review_queue --format json``,
the board pack and the assessment report all read them from here.

Each figure is computed by the database in a constant number of queries, whatever the
number of agents. The definitions, in words, are on the page "How these figures are
counted" (templates/assessments/figures.html); keep the two in step.

Scope: figures about the portfolio count **active** agents. A retired agent keeps its
history (assessments, exceptions) but is in no figure.

Assessment state of an agent (``AgentQuerySet.with_assessment_state``):
  pending decision: its assessment in progress is submitted, awaiting a reviewer;
  returned: its assessment in progress was returned to the assessor;
  in draft: its assessment in progress is a draft;
  never started: it has no assessment of any state;
  decided: it has an approved assessment and nothing in progress.
  "Not assessed" (no approved assessment, so no class) is pending + returned + in draft
  + never started, restricted to agents never approved.

Review state (``ReviewQuerySet.with_state``, ``AgentQuerySet.with_review_state``): an agent
has at most one open review; its due date is the earliest open reason (a trigger moves
it to the trigger's day, never later). Overdue: the due date has passed, triggered or
not ("overdue since" the due date). Triggered: a change asked for it and it is not
overdue yet. Due: scheduled, due within 30 days.

Exceptions in force (``ExceptionQuerySet.in_force``): the latest exception per agent and
subject (a renewal supersedes the one before it), not revoked and not expired.
Expiring: in force and expiring within 30 days.

Open gaps: required controls recorded as a gap in each active agent's latest approved
assessment, less those covered by an exception in force.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery

from assessments import reviews
from assessments.models import Agent, ApprovedGap, Assessment, GapException, Review
from assessments.models.inventory import IDLE

TIERS = (4, 3, 2, 1)
CLASSES = ("agent_identity", "machine_identity")


@dataclass
class ClassTier:
    counts: dict[tuple[str, int], int]
    unassessed: int
    total: int

    def count(self, classification: str, tier: int) -> int:
        return self.counts.get((classification, tier), 0)

    def by_class(self, classification: str) -> int:
        return sum(n for (c, _t), n in self.counts.items() if c == classification)


def class_tier(agents: Any = None) -> ClassTier:
    """Active agents (of ``agents``, an Agent queryset, when given) by current class and
    tier (one query)."""
    rows = (
        (Agent.objects.all() if agents is None else agents)
        .filter(status=Agent.Status.ACTIVE)
        .values("current_classification", "current_tier")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[tuple[str, int], int] = {}
    unassessed = total = 0
    for row in rows:
        total += row["n"]
        if not row["current_classification"] or row["current_tier"] is None:
            unassessed += row["n"]
        else:
            key = (row["current_classification"], row["current_tier"])
            counts[key] = counts.get(key, 0) + row["n"]
    return ClassTier(counts=counts, unassessed=unassessed, total=total)


# Agents with no approved assessment, so no class and tier yet (``ClassTier.unassessed``,
# ``assessment_states()["undecided"]``, the lists' "unassessed" filter): one name
# everywhere, kept apart from "Never assessed" (no assessment of any state), which is
# one of the four reasons an agent has no class yet.
UNASSESSED_LABEL = "No class yet"
# An open review a change of evidence asked for (``actions.evidence.DRIFT_CODE``).
EVIDENCE_CHANGED = "evidence_changed"
EVIDENCE_CHANGED_LABEL = "Evidence changed"

ASSESSMENT_STATES = ("pending_decision", "returned", "in_draft", "never_started")
STATE_FILTERS = (*ASSESSMENT_STATES, "decided")
ASSESSMENT_STATE_LABELS = {
    "pending_decision": "Awaiting a decision",
    "returned": "Returned to the assessor",
    "in_draft": "In draft",
    "never_started": "Never assessed",
    "decided": "Decided, nothing in progress",
}


def assessment_states(agents: Any = None) -> dict[str, int]:
    """Active agents by assessment state (see the module docstring), plus ``undecided``:
    agents with no approved assessment yet, and ``total`` (one query)."""
    agents = Agent.objects.active() if agents is None else agents
    # Three aggregates instead of a state worked out per agent: an agent has at most one
    # assessment in progress (the one_open_assessment_per_agent constraint), so the
    # states in progress are the open assessments counted by status; never started is
    # no assessment at all; decided is the rest (some assessment, none in progress).
    counts = agents.aggregate(
        total=Count("pk"), undecided=Count("pk", filter=Q(current_classification=""))
    )
    mine = Assessment.objects.filter(agent__in=agents.values("pk")).order_by()
    by_status = dict(mine.open().values_list("status").annotate(n=Count("pk")))
    started = mine.values("agent_id").distinct().count()
    counts["pending_decision"] = by_status.get(Assessment.Status.SUBMITTED, 0)
    counts["returned"] = by_status.get(Assessment.Status.RETURNED, 0)
    counts["in_draft"] = by_status.get(Assessment.Status.DRAFT, 0)
    counts["never_started"] = counts["total"] - started
    counts["decided"] = started - sum(by_status.values())
    return counts


def review_states(today: dt.date, reviews_qs: Any = None) -> dict[str, int]:
    """Overdue, triggered (not yet overdue) and due-within-30-days open reviews of
    active agents, a partition of the queue (one query)."""
    qs = Review.objects.in_queue(reviews.QUEUE_DAYS, today) if reviews_qs is None else reviews_qs
    return reviews.state_counts(qs, today)


def overdue_reviews(today: dt.date) -> Any:
    """Open reviews of active agents whose due date has passed, triggered or not."""
    return Review.objects.overdue(today).filter(agent__status=Agent.Status.ACTIVE)


def exceptions_in_force(today: dt.date) -> Any:
    """Exceptions in force for active agents (renewals supersede, see the docstring)."""
    return GapException.objects.in_force(today).filter(agent__status=Agent.Status.ACTIVE)


@dataclass
class AgentGaps:
    name: str
    slug: str
    tier: int | None
    number: int
    gaps: list[tuple[str, str]] = field(default_factory=list)  # (control id, title)


@dataclass
class Gaps:
    total: int  # open gaps across the portfolio
    agent_count: int  # agents with at least one open gap
    agents: list[AgentGaps]  # the ``top`` agents with the most open gaps
    by_control: list[tuple[str, str, int]]  # (control id, title, agents with the gap)


def index_gaps() -> int:
    """Read the gaps of every approved assessment not read yet into ``ApprovedGap``
    (two statements; an approved assessment never changes, so each is read once).
    Returns the assessments read."""
    table, gaps = Assessment._meta.db_table, ApprovedGap._meta.db_table
    if connection.vendor == "postgresql":
        each = "CROSS JOIN LATERAL jsonb_array_elements(a.result -> 'controls') AS c(value)"
        field_sql = "(c.value ->> '{}')"
    else:
        each = "CROSS JOIN json_each(a.result, '$.controls') AS c"
        field_sql = "json_extract(c.value, '$.{}')"
    control_id, title, status = (field_sql.format(k) for k in ("id", "title", "status"))
    unread = (
        f"a.status = 'approved' AND NOT EXISTS (SELECT 1 FROM {gaps} r "  # noqa: S608
        "WHERE r.assessment_id = a.id AND r.control_id = '')"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {gaps} (assessment_id, control_id, title) "  # noqa: S608
            f"SELECT a.id, {control_id}, COALESCE({title}, '') FROM {table} a {each} "
            f"WHERE {unread} AND {status} = 'gap' AND COALESCE({control_id}, '') <> '' "
            "ON CONFLICT DO NOTHING"
        )
        cursor.execute(
            f"INSERT INTO {gaps} (assessment_id, control_id, title) "  # noqa: S608
            f"SELECT a.id, '', '' FROM {table} a WHERE {unread} ON CONFLICT DO NOTHING"
        )
        return cursor.rowcount


def _gap_rows_sql(
    today: dt.date, agents: Any = None, *, as_of: dt.date | None = None, indexed: bool = False
) -> tuple[str, list[Any]]:
    """SQL for one row per open gap: (agent_id, number, control_id, title), expanding
    each latest approved result's ``controls`` array in the database (json_each on
    SQLite, jsonb_array_elements on PostgreSQL), less subjects an exception in force
    covers. ``as_of``: the gaps as they stood at the end of that past day. ``indexed``:
    read the gaps from ``ApprovedGap`` instead (after ``index_gaps()``): the same rows
    without parsing any result."""
    if as_of is None:
        latest = Assessment.objects.latest_approved()
        in_force = exceptions_in_force(today)
    else:
        end = dt.datetime.combine(as_of, dt.time.max, tzinfo=dt.UTC)
        latest = Assessment.objects.latest_approved(end)
        in_force = GapException.objects.in_force_as_of(as_of)
    latest = latest.filter(agent__status=Agent.Status.ACTIVE)
    if agents is not None:
        latest = latest.filter(agent__in=agents)
        in_force = in_force.filter(agent__in=agents)
    try:
        ids_sql, ids_params = latest.values("pk").query.sql_with_params()
        exc_sql, exc_params = in_force.values("agent_id", "subject").query.sql_with_params()
    except EmptyResultSet:
        # ``agents`` can match nothing (a person in no team when reading is scoped):
        # then there are no gap rows, and the ORM has no SQL for the empty subquery.
        # Typed constants, not NULL: PostgreSQL reads a bare NULL column as text.
        ids_sql, ids_params = "SELECT 0 WHERE 1 = 0", []
        exc_sql, exc_params = "SELECT 0 AS agent_id, '' AS subject WHERE 1 = 0", []
    if connection.vendor == "postgresql":
        each = "CROSS JOIN LATERAL jsonb_array_elements(a.result -> 'controls') AS c(value)"
        field_sql = "(c.value ->> '{}')"
    else:
        each = "CROSS JOIN json_each(a.result, '$.controls') AS c"
        field_sql = "json_extract(c.value, '$.{}')"
    control_id, title, status = (field_sql.format(k) for k in ("id", "title", "status"))
    table = Assessment._meta.db_table
    if indexed:
        sql = (
            f"SELECT a.agent_id AS agent_id, a.number AS number, c.control_id AS control_id, "  # noqa: S608
            f"c.title AS title FROM {ApprovedGap._meta.db_table} c "
            f"JOIN {table} a ON a.id = c.assessment_id "
            f"LEFT JOIN ({exc_sql}) e ON e.agent_id = a.agent_id AND e.subject = c.control_id "
            f"WHERE c.assessment_id IN ({ids_sql}) AND c.control_id <> '' AND e.agent_id IS NULL"
        )
        return sql, [*exc_params, *ids_params]
    # Only code-made SQL is interpolated (table names, the ORM's own SQL); every value
    # is a parameter.
    sql = (
        f"SELECT a.agent_id AS agent_id, a.number AS number, {control_id} AS control_id, "  # noqa: S608
        f"{title} AS title FROM {table} a {each} "
        f"LEFT JOIN ({exc_sql}) e ON e.agent_id = a.agent_id AND e.subject = {control_id} "
        f"WHERE a.id IN ({ids_sql}) AND {status} = 'gap' AND e.agent_id IS NULL"
    )
    return sql, [*exc_params, *ids_params]


def open_gaps(today: dt.date, *, top: int = 8, agents: Any = None, indexed: bool = False) -> Gaps:
    """Required controls with status ``gap`` in each active agent's latest approved
    assessment, less those covered by an exception in force; ``agents`` narrows the
    scope (an Agent queryset). Counted by the database in four queries, whatever the
    number of agents; only the ``top`` agents with the most gaps are listed.
    ``indexed``: read from ``ApprovedGap`` (the caller ran ``index_gaps()``)."""
    gaps_sql, params = _gap_rows_sql(today, agents, indexed=indexed)
    with connection.cursor() as cursor:
        if indexed:  # the rows once, then the four queries read them
            cursor.execute("DROP TABLE IF EXISTS portfolio_gap_rows")
            cursor.execute(f"CREATE TEMPORARY TABLE portfolio_gap_rows AS {gaps_sql}", params)
            gaps_sql, params = "SELECT * FROM portfolio_gap_rows", []
        cursor.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT agent_id) FROM ({gaps_sql}) g",  # noqa: S608
            params,
        )
        total, agent_count = cursor.fetchone()
        cursor.execute(
            f"SELECT control_id, MAX(title), COUNT(DISTINCT agent_id) AS n "  # noqa: S608
            f"FROM ({gaps_sql}) g "
            "GROUP BY control_id ORDER BY n DESC, control_id",
            params,
        )
        by_control = [(c, t or "", n) for c, t, n in cursor.fetchall()]
        agent_table = Agent._meta.db_table
        cursor.execute(
            f"SELECT g.agent_id, COUNT(*) AS n FROM ({gaps_sql}) g "  # noqa: S608
            f"JOIN {agent_table} ag ON ag.id = g.agent_id "
            "GROUP BY g.agent_id, ag.current_tier, ag.name "
            "ORDER BY n DESC, COALESCE(ag.current_tier, 0) DESC, ag.name LIMIT %s",
            [*params, top],
        )
        top_ids = [row[0] for row in cursor.fetchall()]
        rows: list[tuple[Any, ...]] = []
        if top_ids:
            marks = ", ".join(["%s"] * len(top_ids))
            cursor.execute(
                f"SELECT g.agent_id, g.number, g.control_id, g.title "  # noqa: S608
                f"FROM ({gaps_sql}) g "
                f"WHERE g.agent_id IN ({marks}) ORDER BY g.control_id",
                [*params, *top_ids],
            )
            rows = cursor.fetchall()
        if indexed:
            cursor.execute("DROP TABLE portfolio_gap_rows")
    people = {
        a["pk"]: a
        for a in Agent.objects.filter(pk__in=top_ids).values("pk", "name", "slug", "current_tier")
    }
    listed: dict[int, AgentGaps] = {}
    for agent_id, number, control_id, title in rows:
        a = people[agent_id]
        entry = listed.setdefault(
            agent_id, AgentGaps(a["name"], a["slug"], a["current_tier"], number)
        )
        entry.gaps.append((control_id, title or ""))
    return Gaps(
        total=total,
        agent_count=agent_count,
        agents=[listed[i] for i in top_ids if i in listed],
        by_control=by_control,
    )


def figures_as_of(day: dt.date, agents: Any) -> dict[str, Any]:
    """The trend figures of ``agents`` (an Agent queryset) as they stood at the end of a
    past ``day``, rebuilt from the records (approvals, reviews, exceptions), for board
    packs with fewer earlier packs than their trend shows. Four queries."""
    end = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
    tiers = dict(
        Assessment.objects.latest_approved(end)
        .filter(agent__in=agents)
        .order_by()
        .values_list("tier")
        .annotate(n=Count("pk"))
        .values_list("tier", "n")
    )
    overdue = (
        Review.objects.filter(agent__in=agents, created_at__lte=end, due_on__lt=day)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=end))
        .count()
    )
    exceptions = GapException.objects.in_force_as_of(day).filter(agent__in=agents).count()
    gaps_sql, params = _gap_rows_sql(day, agents, as_of=day)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({gaps_sql}) g", params)  # noqa: S608
        (open_gap_total,) = cursor.fetchone()
    return {
        "tiers": {str(t): tiers.get(t, 0) for t in (4, 3, 2, 1)},
        "critical": tiers.get(4, 0),
        "overdue": overdue,
        "exceptions": exceptions,
        "open_gaps": open_gap_total,
    }


def expiring_exceptions(today: dt.date, within_days: int = 30) -> list[GapException]:
    """Exceptions in force for active agents expiring within ``within_days`` (one query)."""
    return list(
        GapException.objects.expiring(today, within_days)
        .filter(agent__status=Agent.Status.ACTIVE)
        .select_related("agent", "assessment", "accepted_by")
        .order_by("expires_on", "agent__name")
    )


def recent_reclassifications(limit: int = 8, agents: Any = None) -> list[Any]:
    """Approved assessments (of ``agents`` when given) whose class or tier differs from
    the agent's previous approved version, newest first (one query). The previous
    version is looked up for each approved assessment, newest decision first, until
    ``limit`` are found (the (status, decided_at) index), instead of ordering every
    approved version of the portfolio."""

    def previous(field: str) -> Subquery:
        earlier = (
            Assessment.objects.approved()
            .filter(agent_id=OuterRef("agent_id"), number__lt=OuterRef("number"))
            .order_by("-number")
            .values(field)[:1]
        )
        return Subquery(earlier)

    return list(
        Assessment.objects.approved()
        .filter(number__gt=1)
        .filter(Q() if agents is None else Q(agent__in=agents))
        .annotate(
            prev_class=previous("classification"),
            prev_tier=previous("tier"),
            prev_number=previous("number"),
        )
        .filter(prev_number__isnull=False)
        .filter(~Q(prev_class=F("classification")) | ~Q(prev_tier=F("tier")))
        .select_related("agent")
        .order_by("-decided_at", "-pk")[:limit]
    )


def agents_for_list(agents: Any, today: dt.date) -> Any:
    """What a row of the agent list shows about an agent's figures: its assessment state
    and its open review (next review date, overdue, triggered, and ``evidence_changed``:
    see ``evidence_changed_reviews``), annotated by the database so the page keeps a
    constant number of queries."""
    drift = evidence_changed_reviews().filter(agent=OuterRef("pk"))
    return (
        agents.with_assessment_state()
        .with_review_state(today)
        .annotate(evidence_changed=Exists(drift))
    )


def evidence_changed_reviews() -> Any:
    """Open reviews that new evidence asked for ("Evidence changed"): the agent's class
    may no longer be true, so every page that shows the class says so beside it."""
    return Review.objects.open().filter(reasons__icontains=f'"{EVIDENCE_CHANGED}"')


def review_evidence_changed(review: Review | None) -> bool:
    """``evidence_changed_reviews`` for one review already read (the agent page)."""
    if review is None or review.state != Review.State.OPEN:
        return False
    return any(
        isinstance(r, dict) and r.get("code") == EVIDENCE_CHANGED for r in review.reasons or []
    )


def triggered_past_due_words(states: dict[str, int]) -> str:
    """How many overdue reviews a change also triggered ("1 triggered, past due"): said
    beside the overdue count, since they are counted there and not as triggered."""
    n = states.get("triggered_overdue", 0)
    return f"{n} triggered, past due" if n else ""


def filter_assessment_state(agents: Any, state: str) -> Any:
    """Agents in one assessment state (a key of ``ASSESSMENT_STATE_LABELS``)."""
    if state not in STATE_FILTERS:
        return agents
    return agents.with_assessment_state().filter(assessment_state=state)


# --------------------------------------------------------------------------- framework coverage


@dataclass(frozen=True)
class LevelCoverage:
    """One level of one framework: how many of its items are addressed, out of the
    framework's real number of items at that level (catalogue ``levels``)."""

    name: str
    addressed: int
    total: int

    @property
    def text(self) -> str:
        return f"{self.name} {self.addressed} of {self.total}"


def item_depths(framework: dict[str, Any]) -> dict[str, int]:
    """Each item's level in its framework: 0 for a top-level item, 1 for its children..."""
    parents = {i["id"]: i.get("parent") for i in framework["items"]}
    depths: dict[str, int] = {}
    for item_id in parents:
        depth, seen, parent = 0, {item_id}, parents[item_id]
        while parent is not None and parent in parents and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = parents[parent]
        depths[item_id] = depth
    return depths


def with_ancestors(framework: dict[str, Any], item_ids: set[str]) -> set[str]:
    """``item_ids`` and every parent above them: a parent is addressed when any child is."""
    parents = {i["id"]: i.get("parent") for i in framework["items"]}
    out: set[str] = set()
    for start in item_ids:
        item_id: str | None = start
        while item_id is not None and item_id not in out:
            out.add(item_id)
            item_id = parents.get(item_id)
    return out


def control_items(catalogue: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """control id -> framework key -> the items it maps to (from catalogue data)."""
    out: dict[str, dict[str, set[str]]] = {}
    for control in catalogue["controls"]:
        by_framework: dict[str, set[str]] = {}
        for m in control.get("mappings") or []:
            by_framework.setdefault(m["framework"], set()).add(m["item"])
        out[control["id"]] = by_framework
    return out


def addressed_items(
    catalogue: dict[str, Any], controls: list[dict[str, Any]], status: str = "in_place"
) -> dict[str, set[str]]:
    """framework key -> items addressed by the controls whose status is ``status``
    (``in_place``: addressed), with their parents. A gap or unknown control addresses
    nothing."""
    mapped = control_items(catalogue)
    frameworks = {fw["key"]: fw for fw in catalogue["frameworks"]}
    direct: dict[str, set[str]] = {}
    for control in controls:
        if control.get("status") != status:
            continue
        for key, items in mapped.get(control["id"], {}).items():
            direct.setdefault(key, set()).update(items)
    return {
        key: with_ancestors(frameworks[key], items)
        for key, items in direct.items()
        if key in frameworks
    }


def level_coverage(framework: dict[str, Any], addressed: set[str]) -> list[LevelCoverage]:
    """Coverage of one framework one level at a time: distinct addressed items at each
    level, out of the framework's real total at that level (never more than it)."""
    depths = item_depths(framework)
    levels = framework.get("levels") or [
        {"name": "items", "total": sum(1 for d in depths.values() if d == 0)}
    ]
    out = []
    for depth, level in enumerate(levels):
        n = sum(1 for i in addressed if depths.get(i) == depth)
        out.append(LevelCoverage(str(level["name"]), min(n, int(level["total"])), level["total"]))
    return out


@dataclass
class ItemCoverage:
    """One framework item across the portfolio: distinct agents for which a mapped
    control (on it or a child) is in place, and those with only gaps there."""

    id: str
    title: str
    depth: int
    in_place: int = 0
    gap_only: int = 0


def portfolio_coverage(
    latest: list[dict[str, Any]], catalogues: dict[int, dict[str, Any]], current: int
) -> dict[str, Any]:
    """Coverage across the latest approved assessments ``latest`` (rows with
    ``agent_id``, ``catalogue_id`` and ``controls``), on the items of the current
    catalogue (``catalogues[current]``); agents decided under an older catalogue count
    through that version's mappings, matched by framework key and item id.

    Returns ``{"assessed": n, "frameworks": [{key, name, items: [ItemCoverage],
    levels: [LevelCoverage], unmapped: [ids]}]}``; per item, ``in_place + gap_only`` is
    at most ``assessed``. A level counts items addressed for at least one agent."""
    current_data = catalogues[current]
    in_place: dict[tuple[str, str], int] = {}
    gap: dict[tuple[str, str], int] = {}
    for row in latest:
        data = catalogues.get(row["catalogue_id"]) or current_data
        controls = row.get("controls") or []
        good = addressed_items(data, controls, "in_place")
        bad = addressed_items(data, controls, "gap")
        for key, reached in good.items():
            for item in reached:
                in_place[(key, item)] = in_place.get((key, item), 0) + 1
        for key, reached in bad.items():
            for item in reached - good.get(key, set()):
                gap[(key, item)] = gap.get((key, item), 0) + 1
    mapped_anywhere: set[tuple[str, str]] = set()
    for data in catalogues.values():
        frameworks = {fw["key"]: fw for fw in data["frameworks"]}
        for by_framework in control_items(data).values():
            for key, mapped in by_framework.items():
                if key in frameworks:
                    mapped_anywhere |= {(key, i) for i in with_ancestors(frameworks[key], mapped)}
    out = []
    for fw in current_data["frameworks"]:
        depths = item_depths(fw)
        items: list[ItemCoverage] = []
        unmapped: list[str] = []
        for it in fw["items"]:
            item_key = (fw["key"], it["id"])
            if item_key not in mapped_anywhere:
                unmapped.append(it["id"])
                continue
            items.append(
                ItemCoverage(
                    it["id"],
                    it["title"],
                    depths[it["id"]],
                    in_place.get(item_key, 0),
                    gap.get(item_key, 0),
                )
            )
        addressed = {i.id for i in items if i.in_place}
        out.append(
            {
                "key": fw["key"],
                "name": fw["short_name"],
                "items": items,
                "levels": level_coverage(fw, addressed),
                "unmapped": unmapped,
            }
        )
    return {"assessed": len(latest), "frameworks": out}


# --------------------------------------------------------------------------- dashboard snapshot

EXPIRING_SHOWN = 8
# What the dashboard lists of an expiring exception and of a reclassification: not, for
# instance, the assessment's answers and engine result (kilobytes of JSON each).
EXPIRING_FIELDS = (
    "subject",
    "expires_on",
    "agent__name",
    "agent__slug",
    "assessment__number",
    "assessment__agent_id",
    "accepted_by__username",
    "accepted_by__first_name",
    "accepted_by__last_name",
)
RECLASSIFIED_FIELDS = (
    "number",
    "classification",
    "tier",
    "decided_at",
    "agent__name",
    "agent__slug",
)
# The shape of a stored snapshot: a snapshot of another shape (an older release) is
# computed again.
SNAPSHOT_FORMAT = 2


@dataclass
class Figures:
    """Every portfolio-wide figure the dashboard shows, for one day."""

    matrix: ClassTier
    states: dict[str, int]
    assessment_states: dict[str, int]
    gaps: Gaps
    expiring: list[GapException]  # the EXPIRING_SHOWN expiring soonest
    expiring_total: int
    reclassified: list[Any]


def _compute(today: dt.date, agents: Any = None) -> dict[str, Any]:
    """The figures as JSON, each computed by the database as defined above; ``agents``
    (an Agent queryset) narrows them to some agents (a team-scoped reader's teams)."""
    matrix = class_tier(agents)
    index_gaps()
    gaps = open_gaps(today, agents=agents, indexed=True)
    expiring = GapException.objects.expiring(today, 30).filter(agent__status=Agent.Status.ACTIVE)
    queue = Review.objects.in_queue(reviews.QUEUE_DAYS, today)
    reclassified = recent_reclassifications()
    if agents is not None:
        expiring = expiring.filter(agent__in=agents)
        queue = queue.filter(agent__in=agents)
        reclassified = recent_reclassifications(agents=agents)
    return {
        "format": SNAPSHOT_FORMAT,
        "matrix": {
            "counts": [[c, t, n] for (c, t), n in matrix.counts.items()],
            "unassessed": matrix.unassessed,
            "total": matrix.total,
        },
        "states": review_states(today, queue),
        "assessment_states": assessment_states(
            None if agents is None else agents.filter(status=Agent.Status.ACTIVE)
        ),
        "gaps": {
            "total": gaps.total,
            "agent_count": gaps.agent_count,
            "agents": [[a.name, a.slug, a.tier, a.number, a.gaps] for a in gaps.agents],
            "by_control": gaps.by_control,
        },
        "expiring": list(
            expiring.order_by("expires_on", "agent__name", "pk").values_list("pk", flat=True)[
                :EXPIRING_SHOWN
            ]
        ),
        "expiring_total": expiring.count(),
        "reclassified": [[a.pk, a.prev_class, a.prev_tier, a.prev_number] for a in reclassified],
        # The catalogue page's counts are the whole portfolio's (kept with the snapshot).
        **({"catalogue": catalogue_counts()} if agents is None else {}),
    }


def snapshot(today: dt.date, scope: str = "") -> Any:
    """The stored figures of ``scope`` (``figures.Stored``; one query): the last ones
    computed, never computed here (see assessments/figures.py)."""
    from assessments import figures

    return figures.read(today, scope)


def catalogue_counts() -> dict[str, dict[str, int]]:
    """Assessments made under each catalogue version (by its id, as text), of any agent:
    ``assessments`` in all, ``decided`` (no longer drafts: what locks a version),
    ``approved`` and ``drafts``. One query, on the (catalogue, status) index."""
    counts: dict[str, dict[str, int]] = {}
    rows = (
        Assessment.objects.order_by().values_list("catalogue_id", "status").annotate(n=Count("pk"))
    )
    for catalogue_id, status, n in rows:
        if catalogue_id is None:
            continue
        c = counts.setdefault(
            str(catalogue_id), {"assessments": 0, "decided": 0, "approved": 0, "drafts": 0}
        )
        c["assessments"] += n
        if status == Assessment.Status.DRAFT:
            c["drafts"] += n
        else:
            c["decided"] += n
        if status == Assessment.Status.APPROVED:
            c["approved"] += n
    return counts


def stored_catalogue_counts(today: dt.date) -> dict[str, dict[str, int]] | None:
    """``catalogue_counts()`` from the snapshot (one query); None before the first
    computation."""
    stored = snapshot(today)
    return stored.figures["catalogue"] if stored.ready else None


def queue_states(today: dt.date) -> dict[str, int] | None:
    """``review_states(today)`` of the whole queue, from the snapshot (one query); None
    before the first computation."""
    stored = snapshot(today)
    return stored.figures["states"] if stored.ready else None


def dashboard_figures(data: dict[str, Any]) -> Figures:
    """The dashboard's figures from stored ``data`` (``snapshot(...).figures``); the
    listed exceptions and reclassifications are read fresh by their ids (two queries)."""
    m, g = data["matrix"], data["gaps"]
    expiring_ids = data["expiring"]
    expiring = sorted(
        GapException.objects.filter(pk__in=expiring_ids)
        .select_related("agent", "assessment", "accepted_by")
        .only(*EXPIRING_FIELDS),
        key=lambda e: expiring_ids.index(e.pk),
    )
    previous = {pk: rest for pk, *rest in data["reclassified"]}
    reclassified = sorted(
        Assessment.objects.filter(pk__in=previous)
        .select_related("agent")
        .only(*RECLASSIFIED_FIELDS),
        key=lambda a: list(previous).index(a.pk),
    )
    for a in reclassified:
        a.prev_class, a.prev_tier, a.prev_number = previous[a.pk]  # type: ignore[attr-defined]
    return Figures(
        matrix=ClassTier(
            counts={(c, t): n for c, t, n in m["counts"]},
            unassessed=m["unassessed"],
            total=m["total"],
        ),
        states=data["states"],
        assessment_states=data["assessment_states"],
        gaps=Gaps(
            total=g["total"],
            agent_count=g["agent_count"],
            agents=[
                AgentGaps(name, slug, tier, number, [tuple(x) for x in listed])
                for name, slug, tier, number, listed in g["agents"]
            ],
            by_control=[tuple(row) for row in g["by_control"]],
        ),
        expiring=expiring,
        expiring_total=data["expiring_total"],
        reclassified=reclassified,
    )


# --------------------------------------------------------------------------- accountability


@dataclass
class Accountability:
    """Who answers for the active agents: ``orphaned`` (owner or sponsor left, nobody
    took it on), ``inactive`` (not seen acting for INACTIVE_AGENT_DAYS), ``single_owner``
    (nobody to succeed its one owner). Three counts on indexed columns, not kept in the
    snapshot."""

    orphaned: int
    inactive: int
    single_owner: int
    orphaned_agents: list[Any]


ORPHANS_SHOWN = 8


def accountability(today: dt.date, agents: Any = None) -> Accountability:
    active = Agent.objects.filter(status=Agent.Status.ACTIVE)
    if agents is not None:
        active = active.filter(pk__in=agents.values("pk"))
    cutoff = today - dt.timedelta(days=settings.INACTIVE_AGENT_DAYS)
    counts = active.aggregate(
        orphaned=Count("pk", filter=Q(orphaned_at__isnull=False)),
        inactive=Count("pk", filter=IDLE(cutoff)),
    )
    single = active.filter(co_owners__isnull=True).count()
    orphans = list(
        active.filter(orphaned_at__isnull=False)
        .order_by("orphaned_at", "name")
        .only("name", "slug", "orphaned_at")[:ORPHANS_SHOWN]
    )
    return Accountability(
        orphaned=counts["orphaned"],
        inactive=counts["inactive"],
        single_owner=single,
        orphaned_agents=orphans,
    )


# --------------------------------------------------------------------------- discovery
# One definition each for the discovery figures (../shared/discovery.md), read by the
# Discovery page, the dashboard, /figures/, the API and the board pack. Estate-wide:
# identities belong to no team.


@dataclass(frozen=True)
class DiscoveryFigures:
    identities: int  # found by the latest run of their source
    agent_like: int  # likely or possibly agents, found by the latest run
    linked: int  # of those, linked to an inventory agent
    shadow: int  # agent-like, neither linked nor triaged
    machine: int  # triaged as remaining machine identities
    decommission_pending: int
    per_source: list[dict[str, Any]] = field(default_factory=list)

    @property
    def coverage(self) -> int | None:
        """Inventory coverage: agent-like identities linked to an agent, in percent."""
        if not self.agent_like:
            return None
        return round(100 * self.linked / self.agent_like)

    @property
    def any(self) -> bool:
        return bool(self.identities or self.decommission_pending)


def discovery_figures() -> DiscoveryFigures:
    """Every discovery figure, per source and in all, in one query."""
    from assessments import models as m

    rows = list(
        m.DiscoveredIdentity.objects.values("kind", "source")
        .annotate(
            count=Count("pk", filter=m.IDENTITY_PRESENT),
            likely=Count("pk", filter=m.IDENTITY_PRESENT & Q(agent_like="likely")),
            possible=Count("pk", filter=m.IDENTITY_PRESENT & Q(agent_like="possible")),
            agent_like_total=Count("pk", filter=m.IDENTITY_AGENT_LIKE),
            linked=Count("pk", filter=m.IDENTITY_LINKED),
            shadow=Count("pk", filter=m.IDENTITY_SHADOW),
            machine=Count("pk", filter=m.IDENTITY_MACHINE),
            decommission_pending=Count("pk", filter=m.IDENTITY_DECOMMISSION_PENDING),
        )
        .order_by("kind", "source")
    )
    rows = [r for r in rows if r["count"] or r["decommission_pending"]]

    def total(key: str) -> int:
        return sum(r[key] for r in rows)

    return DiscoveryFigures(
        identities=total("count"),
        agent_like=total("agent_like_total"),
        linked=total("linked"),
        shadow=total("shadow"),
        machine=total("machine"),
        decommission_pending=total("decommission_pending"),
        per_source=rows,
    )


def discovery_latest_runs(limit: int = 200) -> list[Any]:
    """The latest run of each source (and runs still being read or that failed, newest
    first), for the Discovery page's runs table."""
    from assessments.models import DiscoveryRun

    seen: set[tuple[str, str]] = set()
    out = []
    for run in DiscoveryRun.objects.select_related("started_by").defer("files_summary")[:limit]:
        if run.status != DiscoveryRun.Status.DONE:
            if len(out) < 20:
                out.append(run)
            continue
        key = (run.kind, run.source)
        if key in seen:
            continue
        seen.add(key)
        out.append(run)
    return out
