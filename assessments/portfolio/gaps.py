"""Open gaps: counted by the database from each latest approved result, and the trend figures as they stood on a past day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Q

from assessments.models import Agent, ApprovedGap, Assessment, GapException, Review
from assessments.models.base import end_of_day

from . import planner
from .accountability import accountability_as_of
from .states import assessment_states_as_of, exceptions_in_force, reclassified_up


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


def _controls_sql() -> tuple[str, str, str, str]:
    """SQL expanding an assessment ``a``'s ``result.controls`` into rows ``c`` (json_each
    on SQLite, jsonb_array_elements on PostgreSQL), and each control's id, title and
    status: (join, id, title, status)."""
    if connection.vendor == "postgresql":
        each = "CROSS JOIN LATERAL jsonb_array_elements(a.result -> 'controls') AS c(value)"
        field_sql = "(c.value ->> '{}')"
    else:
        each = "CROSS JOIN json_each(a.result, '$.controls') AS c"
        field_sql = "json_extract(c.value, '$.{}')"
    control_id, title, status = (field_sql.format(k) for k in ("id", "title", "status"))
    return each, control_id, title, status


# Approved versions read per statement (within SQLite's 32,766 parameters).
READ_AT_ONCE = 2000


def index_gaps() -> int:
    """Read the gaps of every approved assessment not read yet into ``ApprovedGap``
    (an approved assessment never changes, so each is read once), keeping the gap rows
    of each agent's latest approved version only. Returns the assessments read. Every
    approved assessment read has its mark row, and only those have one: when the two
    counts agree (two index-only counts) there is nothing to read; else the missing
    ones are read, ``READ_AT_ONCE`` at a time."""
    table, gaps = Assessment._meta.db_table, ApprovedGap._meta.db_table
    approved = Assessment.objects.approved().order_by().count()
    if approved == ApprovedGap.objects.filter(control_id="").count():
        return 0
    each, control_id, title, status = _controls_sql()
    # Which versions are unread is found by a read; each write then names its few
    # ids, so it holds the database's write lock (SQLite's one) for milliseconds, not
    # for the scan of every approved version (a page waiting on it after an approval
    # took 345 ms at 100,000 agents).
    unread = list(
        Assessment.objects.approved()
        .order_by("pk")
        .exclude(pk__in=ApprovedGap.objects.filter(control_id="").values("assessment_id"))
        .values_list("pk", flat=True)
    )
    rows = 0
    with connection.cursor() as cursor:
        for start in range(0, len(unread), READ_AT_ONCE):
            ids = unread[start : start + READ_AT_ONCE]
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(
                f"INSERT INTO {gaps} (assessment_id, agent_id, control_id, title) "  # noqa: S608
                f"SELECT a.id, a.agent_id, {control_id}, COALESCE({title}, '') FROM {table} a "
                f"{each} WHERE a.id IN ({marks}) AND {status} = 'gap' "
                f"AND COALESCE({control_id}, '') <> '' ON CONFLICT DO NOTHING",
                ids,
            )
            rows += cursor.rowcount
            cursor.execute(
                f"INSERT INTO {gaps} (assessment_id, agent_id, control_id, title) "  # noqa: S608
                f"SELECT a.id, a.agent_id, '', '' FROM {table} a WHERE a.id IN ({marks}) "
                "ON CONFLICT DO NOTHING",
                ids,
            )
            rows += cursor.rowcount
            rows += _forget_superseded(ids)
    # After a restore or a migration, hundreds of thousands of rows arrive at once.
    planner.after_bulk_write(rows, [ApprovedGap])
    return len(unread)


def _forget_superseded(ids: list[int]) -> int:
    """Delete the gap rows of the versions that are no longer their agent's latest
    approved one, for the agents of the approved versions ``ids`` (just read): only the
    latest version's gaps can be open, so counting them needs no search for it. The
    marks stay (those versions stay read). Returns the rows deleted."""
    agents = Assessment.objects.filter(pk__in=ids).values("agent_id")
    deleted, _ = (
        ApprovedGap.objects.filter(agent_id__in=agents)
        .exclude(control_id="")
        .exclude(assessment__in=Assessment.objects.latest_approved().filter(agent_id__in=agents))
        .delete()
    )
    return deleted


def _sql_of(rows: Any, *fields: str) -> tuple[str, Any] | None:
    """The SQL and parameters of a queryset's ``fields``; None when it can match nothing
    (the ORM then has no SQL: a person in no team when reading is scoped)."""
    try:
        return rows.values(*fields).query.sql_with_params()
    except EmptyResultSet:
        return None


def _gap_rows_sql(
    today: dt.date, agents: Any = None, *, as_of: dt.date | None = None
) -> tuple[str, list[Any]]:
    """SQL for one row per open gap: (agent_id, control_id, title), expanding
    each latest approved result's ``controls`` array in the database (json_each on
    SQLite, jsonb_array_elements on PostgreSQL), less subjects an exception in force
    covers. ``as_of``: the gaps as they stood at the end of that past day."""
    if as_of is None:
        latest = Assessment.objects.latest_approved()
        in_force = exceptions_in_force(today)
    else:
        end = end_of_day(as_of)
        latest = Assessment.objects.latest_approved(end)
        in_force = GapException.objects.in_force_as_of(as_of)
    # No ORDER BY in a subquery: the default orderings would sort every row.
    latest = latest.filter(agent__status=Agent.Status.ACTIVE).order_by()
    in_force = in_force.order_by()
    if agents is not None:
        latest = latest.filter(agent__in=agents)
        in_force = in_force.filter(agent__in=agents)
    # ``agents`` can match nothing (a person in no team when reading is scoped): then
    # there are no gap rows. Typed constants, not NULL: PostgreSQL reads a bare NULL
    # column as text.
    ids_sql, ids_params = _sql_of(latest, "pk") or ("SELECT 0 WHERE 1 = 0", [])
    exc_sql, exc_params = _sql_of(in_force, "agent_id", "subject") or (
        "SELECT 0 AS agent_id, '' AS subject WHERE 1 = 0",
        [],
    )
    each, control_id, title, status = _controls_sql()
    table = Assessment._meta.db_table
    # Only code-made SQL is interpolated (table names, the ORM's own SQL); every value
    # is a parameter.
    sql = (
        f"SELECT a.agent_id AS agent_id, {control_id} AS control_id, "  # noqa: S608
        f"{title} AS title FROM {table} a {each} "
        f"LEFT JOIN ({exc_sql}) e ON e.agent_id = a.agent_id AND e.subject = {control_id} "
        f"WHERE a.id IN ({ids_sql}) AND {status} = 'gap' AND e.agent_id IS NULL"
    )
    return sql, [*exc_params, *ids_params]


# The temporary tables ``open_gaps`` counts in (dropped before it returns).
ROWS_TABLE, AGENTS_TABLE, NOT_COUNTED_TABLE, NOT_COUNTED_AGENTS_TABLE = (
    "portfolio_gap_rows",
    "portfolio_gap_agents",
    "portfolio_gap_not_counted",
    "portfolio_gap_not_counted_agents",
)
TEMPORARY_TABLES = (ROWS_TABLE, AGENTS_TABLE, NOT_COUNTED_TABLE, NOT_COUNTED_AGENTS_TABLE)


def _count_expanded(cursor: Any, today: dt.date, agents: Any) -> tuple[list[Any], Any]:
    """The open gap rows once into a temporary table, then grouped by control (returned)
    and by agent (into ``AGENTS_TABLE``); and how to read the rows of some agents."""
    gaps_sql, params = _gap_rows_sql(today, agents)
    cursor.execute(f"CREATE TEMPORARY TABLE {ROWS_TABLE} AS {gaps_sql}", params)
    cursor.execute(
        f"SELECT control_id, MAX(title), COUNT(*) AS n FROM {ROWS_TABLE} "  # noqa: S608
        "GROUP BY control_id ORDER BY n DESC, control_id"
    )
    by_control = [(c, t or "", n) for c, t, n in cursor.fetchall()]
    cursor.execute(
        f"CREATE TEMPORARY TABLE {AGENTS_TABLE} AS "  # noqa: S608
        f"SELECT agent_id, COUNT(*) AS n FROM {ROWS_TABLE} GROUP BY agent_id"
    )

    def rows_of(ids: list[int]) -> list[tuple[Any, ...]]:
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"SELECT agent_id, control_id, title FROM {ROWS_TABLE} "  # noqa: S608
            f"WHERE agent_id IN ({marks}) ORDER BY control_id",
            ids,
        )
        return cursor.fetchall()

    return by_control, rows_of


def _count_indexed(cursor: Any, today: dt.date, agents: Any) -> tuple[list[Any], Any]:
    """As ``_count_expanded``, from ``ApprovedGap`` (``index_gaps`` keeps the gap rows of
    the latest approved versions only): every gap row is counted by control and by
    agent, then the rows that do not count (covered by an exception in force, or of an
    agent no longer active: a few thousand against hundreds of thousands) are counted
    apart and subtracted, instead of being looked for from every row. Narrowed to
    ``agents``, the rows of those agents alone are read (by the agent index)."""
    gaps = ApprovedGap._meta.db_table
    counted, counted_params = f"FROM {gaps} c WHERE c.control_id <> ''", []
    in_force = exceptions_in_force(today).order_by()
    if agents is not None:
        live = Agent.objects.filter(status=Agent.Status.ACTIVE, pk__in=agents).order_by()
        live_sql, counted_params = _sql_of(live, "pk") or ("SELECT 0 WHERE 1 = 0", [])
        counted += f" AND c.agent_id IN ({live_sql})"
        in_force = in_force.filter(agent__in=agents)
    # The rows that do not count, as (the join or filter on the gap rows c, params). An
    # exception in force is of an active agent, one per agent and subject (a renewal
    # supersedes): each matches at most one gap row.
    not_counted = []
    if exc := _sql_of(in_force, "agent_id", "subject"):
        join = f"JOIN ({exc[0]}) e ON e.agent_id = c.agent_id AND e.subject = c.control_id WHERE"
        not_counted.append((join, exc[1]))
    if agents is None and (
        gone := _sql_of(Agent.objects.exclude(status=Agent.Status.ACTIVE).order_by(), "pk")
    ):
        not_counted.append((f"WHERE c.agent_id IN ({gone[0]}) AND", gone[1]))
    cursor.execute(
        f"CREATE TEMPORARY TABLE {NOT_COUNTED_TABLE} (agent_id bigint, control_id varchar(64))"
    )
    for join, params in not_counted:
        cursor.execute(
            f"INSERT INTO {NOT_COUNTED_TABLE} (agent_id, control_id) "  # noqa: S608
            f"SELECT c.agent_id, c.control_id FROM {gaps} c {join} c.control_id <> ''",
            params,
        )
    cursor.execute(
        f"SELECT c.control_id, MAX(c.title), COUNT(*) {counted} GROUP BY c.control_id",  # noqa: S608
        counted_params,
    )
    counts = {c: [t or "", n] for c, t, n in cursor.fetchall()}
    cursor.execute(f"SELECT control_id, COUNT(*) FROM {NOT_COUNTED_TABLE} GROUP BY control_id")  # noqa: S608
    for control_id, n in cursor.fetchall():
        counts[control_id][1] -= n
    by_control = sorted(
        ((c, t, n) for c, (t, n) in counts.items() if n > 0), key=lambda r: (-r[2], r[0])
    )
    cursor.execute(
        f"CREATE TEMPORARY TABLE {AGENTS_TABLE} AS "  # noqa: S608
        f"SELECT c.agent_id AS agent_id, COUNT(*) AS n {counted} GROUP BY c.agent_id",
        counted_params,
    )
    cursor.execute(
        f"CREATE TEMPORARY TABLE {NOT_COUNTED_AGENTS_TABLE} AS "  # noqa: S608
        f"SELECT agent_id, COUNT(*) AS n FROM {NOT_COUNTED_TABLE} GROUP BY agent_id"
    )
    cursor.execute(
        f"UPDATE {AGENTS_TABLE} SET n = {AGENTS_TABLE}.n - e.n "  # noqa: S608
        f"FROM {NOT_COUNTED_AGENTS_TABLE} e WHERE {AGENTS_TABLE}.agent_id = e.agent_id"
    )
    cursor.execute(f"DELETE FROM {AGENTS_TABLE} WHERE n = 0")  # noqa: S608

    def rows_of(ids: list[int]) -> list[tuple[Any, ...]]:
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"SELECT agent_id, control_id FROM {NOT_COUNTED_TABLE} "  # noqa: S608
            f"WHERE agent_id IN ({marks})",
            ids,
        )
        not_counted = set(cursor.fetchall())
        cursor.execute(
            f"SELECT agent_id, control_id, title FROM {gaps} "  # noqa: S608
            f"WHERE agent_id IN ({marks}) AND control_id <> '' ORDER BY control_id",
            ids,
        )
        return [r for r in cursor.fetchall() if (r[0], r[1]) not in not_counted]

    return by_control, rows_of


def open_gaps(today: dt.date, *, top: int = 8, agents: Any = None, indexed: bool = False) -> Gaps:
    """Required controls with status ``gap`` in each active agent's latest approved
    assessment, less those covered by an exception in force; ``agents`` narrows the
    scope (an Agent queryset). Counted by the database whatever the number of agents,
    grouped by control and by agent (an agent has one row per control: a result lists
    each control once); only the ``top`` agents with the most gaps are listed.
    ``indexed``: read from ``ApprovedGap`` (the caller ran ``index_gaps()``), else from
    the results themselves."""
    agent_table = Agent._meta.db_table
    top_ids: list[int] = []
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for name in TEMPORARY_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
        count = _count_indexed if indexed else _count_expanded
        by_control, rows_of = count(cursor, today, agents)
        cursor.execute(f"SELECT COALESCE(SUM(n), 0), COUNT(*) FROM {AGENTS_TABLE}")  # noqa: S608
        total, agent_count = cursor.fetchone()
        total = int(total)  # PostgreSQL sums integers as numeric (a Decimal)
        if top > 0 and agent_count:
            # Only the agents with at least the top-th largest count are ordered.
            cursor.execute(
                f"SELECT g.agent_id FROM {AGENTS_TABLE} g "  # noqa: S608
                f"JOIN {agent_table} ag ON ag.id = g.agent_id "
                f"WHERE g.n >= (SELECT MIN(n) FROM (SELECT n FROM {AGENTS_TABLE} "
                "ORDER BY n DESC LIMIT %s) t) "
                "ORDER BY g.n DESC, COALESCE(ag.current_tier, 0) DESC, ag.name LIMIT %s",
                [top, top],
            )
            top_ids = [row[0] for row in cursor.fetchall()]
            rows = rows_of(top_ids)
        for name in TEMPORARY_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    people = {
        a["pk"]: a
        for a in Agent.objects.filter(pk__in=top_ids).values("pk", "name", "slug", "current_tier")
    }
    numbers = dict(
        Assessment.objects.latest_approved()
        .filter(agent_id__in=top_ids)
        .order_by()
        .values_list("agent_id", "number")
    )
    listed: dict[int, AgentGaps] = {}
    for agent_id, control_id, title in rows:
        a = people[agent_id]
        entry = listed.setdefault(
            agent_id, AgentGaps(a["name"], a["slug"], a["current_tier"], numbers[agent_id])
        )
        entry.gaps.append((control_id, title or ""))
    return Gaps(
        total=total,
        agent_count=agent_count,
        agents=[listed[i] for i in top_ids if i in listed],
        by_control=by_control,
    )


def figures_as_of(
    day: dt.date, agents: Any, *, period_days: int = 90, expiring_within: int = 30
) -> dict[str, Any]:
    """The board pack's trend figures of ``agents`` (an Agent queryset) as they stood at
    the end of a past ``day``, rebuilt from the records (approvals, reviews, exceptions,
    ownership and activity events), for packs with fewer earlier packs than their trend
    shows: every headline figure (``reclassified_up`` over the ``period_days`` up to the
    day, as a pack of that period made that day counts it), with the open gaps and the
    exceptions in force. Eight queries."""
    end = end_of_day(day)
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
    in_force = GapException.objects.in_force_as_of(day).filter(agent__in=agents).order_by()
    exceptions = in_force.aggregate(
        n=Count("pk"),
        expiring=Count("pk", filter=Q(expires_on__lte=day + dt.timedelta(days=expiring_within))),
    )
    gaps_sql, params = _gap_rows_sql(day, agents, as_of=day)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT agent_id) FROM ({gaps_sql}) g",  # noqa: S608
            params,
        )
        open_gap_total, agents_with_gaps = cursor.fetchone()
    states = assessment_states_as_of(day, agents)
    owners = accountability_as_of(day, agents)
    since = day - dt.timedelta(days=period_days)
    return {
        "tiers": {str(t): tiers.get(t, 0) for t in (4, 3, 2, 1)},
        "never_assessed": states["never_started"],
        "undecided": states["undecided"],
        "overdue": overdue,
        "agents_with_open_gaps": agents_with_gaps,
        "critical": tiers.get(4, 0),
        "expiring": exceptions["expiring"],
        "reclassified_up": reclassified_up(since, day, agents),
        "orphaned": owners["orphaned"],
        "inactive": owners["inactive"],
        "exceptions": exceptions["n"],
        "open_gaps": open_gap_total,
    }
