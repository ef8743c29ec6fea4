"""The dashboard's figures as one stored snapshot: computed together, read back in one query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Window

from assessments.models import Agent, Assessment, GapException, Review
from assessments.workflow import reviews

from . import planner
from .accountability import Accountability, accountability_counts, stored_accountability
from .gaps import AgentGaps, Gaps, index_gaps, open_gaps
from .states import (
    ClassTier,
    assessment_states,
    class_tier,
    expiring_in_force,
    recent_reclassifications,
    review_states,
)

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
SNAPSHOT_FORMAT = 3


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
    accountability: Accountability


def _compute(today: dt.date, agents: Any = None) -> dict[str, Any]:
    """The figures as JSON, each computed by the database as defined above; ``agents``
    (an Agent queryset) narrows them to some agents (a team-scoped reader's teams)."""
    with planner.serial_queries():
        return _figures(today, agents)


def _figures(today: dt.date, agents: Any) -> dict[str, Any]:
    matrix = class_tier(agents)
    index_gaps()
    gaps = open_gaps(today, agents=agents, indexed=True)
    expiring = expiring_in_force(today, 30)
    queue = Review.objects.in_queue(reviews.QUEUE_DAYS, today)
    reclassified = recent_reclassifications()
    if agents is not None:
        expiring = expiring.filter(agent__in=agents)
        queue = queue.filter(agent__in=agents)
        reclassified = recent_reclassifications(agents=agents)
    # The soonest to expire, each with the count of all (a window over the whole set):
    # the exceptions in force are worked out once, not again for their count.
    soonest = list(
        expiring.annotate(total=Window(Count("pk")))
        .order_by("expires_on", "agent__name", "pk")
        .values_list("pk", "total")[:EXPIRING_SHOWN]
    )
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
        "expiring": [pk for pk, _total in soonest],
        "expiring_total": soonest[0][1] if soonest else 0,
        "reclassified": [[a.pk, a.prev_class, a.prev_tier, a.prev_number] for a in reclassified],
        "accountability": accountability_counts(today, agents),
        # The catalogue page's counts are the whole portfolio's (kept with the snapshot).
        **({"catalogue": catalogue_counts()} if agents is None else {}),
    }


def snapshot(today: dt.date, scope: str = "") -> Any:
    """The stored figures of ``scope`` (``figures.Stored``; one query): the last ones
    computed, never computed here (see assessments/portfolio/stored.py)."""
    from assessments.portfolio import stored as figures

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
    listed exceptions, reclassifications and orphans are read fresh by their ids (up to
    three queries)."""
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
        accountability=stored_accountability(data["accountability"]),
    )


# --------------------------------------------------------------------------- accountability
