"""Class, tier, assessment and review states of the portfolio's agents; exceptions in force."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery

from assessments.engine.terms import NO_CLASSIFICATION_TITLE
from assessments.models import Agent, Assessment, GapException, Review
from assessments.models.base import end_of_day, start_of_day
from assessments.workflow import reviews

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
UNASSESSED_LABEL = NO_CLASSIFICATION_TITLE
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
    # Each agent probes the assessments' agent index once (PostgreSQL took three times
    # as long for the distinct agents of every version at 100,000 agents).
    started = agents.filter(Exists(Assessment.objects.filter(agent=OuterRef("pk")))).count()
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
    return GapException.objects.in_force(today).of_active_agents()


def expiring_in_force(today: dt.date, within_days: int = 30) -> Any:
    """Exceptions in force for active agents expiring within ``within_days`` (a
    queryset: the dashboard's figure and list)."""
    return GapException.objects.expiring(today, within_days).of_active_agents()


def expiring_exceptions(today: dt.date, within_days: int = 30) -> list[GapException]:
    """``expiring_in_force`` with what a list shows of each, soonest first (one query)."""
    return list(
        expiring_in_force(today, within_days)
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


def registered_by(end: dt.datetime, agents: Any) -> Any:
    """The agents of ``agents`` that were in the inventory at ``end``: registered by then,
    or assessed by then (an agent loaded in bulk with its history carries assessments
    older than its own record)."""
    assessed = Assessment.objects.filter(agent=OuterRef("pk"), created_at__lte=end)
    return Agent.objects.filter(pk__in=agents.values("pk")).filter(
        Q(created_at__lte=end) | Exists(assessed)
    )


def assessment_states_as_of(day: dt.date, agents: Any) -> dict[str, int]:
    """``never_started`` and ``undecided`` of ``agents`` as they stood at the end of a
    past ``day``, rebuilt from the records: of the agents in the inventory then
    (``registered_by``), those with no assessment started by then, and those with none
    approved by then (one query)."""
    end = end_of_day(day)
    started = Assessment.objects.filter(agent=OuterRef("pk"), created_at__lte=end)
    approved = Assessment.objects.approved().filter(agent=OuterRef("pk"), decided_at__lte=end)
    return (
        registered_by(end, agents)
        .order_by()
        .aggregate(
            never_started=Count("pk", filter=~Exists(started)),
            undecided=Count("pk", filter=~Exists(approved)),
        )
    )


def reclassified_up(since: dt.date, until: dt.date, agents: Any) -> int:
    """Approvals of ``agents`` decided from ``since`` to ``until`` (whole local days) that
    put the agent at a higher tier than its previous approved version: the board pack's
    "Moved to a higher tier in the period" (one query)."""
    previous = (
        Assessment.objects.approved()
        .filter(agent_id=OuterRef("agent_id"), number__lt=OuterRef("number"))
        .order_by("-number")
        .values("tier")[:1]
    )
    return (
        Assessment.objects.approved()
        .filter(
            agent__in=agents,
            decided_at__gte=start_of_day(since),
            decided_at__lte=end_of_day(until),
        )
        .annotate(prev_tier=Subquery(previous))
        .filter(prev_tier__isnull=False, tier__gt=F("prev_tier"))
        .count()
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
    """Agents in one assessment state (a key of ``ASSESSMENT_STATE_LABELS``;
    ``AgentQuerySet.in_assessment_state``); any other value filters nothing."""
    if state not in STATE_FILTERS:
        return agents
    return agents.in_assessment_state(state)


# --------------------------------------------------------------------------- framework coverage
