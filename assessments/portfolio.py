"""Portfolio figures for the dashboard: each a constant number of queries, whatever the
number of agents. Plain data, so the board pack can use the same numbers."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import Lag

from assessments import reviews
from assessments.models import Agent, Assessment, GapException, Review

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


def class_tier() -> ClassTier:
    """Active agents by current class and tier (one query)."""
    rows = (
        Agent.objects.active()
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


def review_states(today: dt.date) -> dict[str, int]:
    """Overdue, triggered and due-within-30-days reviews of active agents (one query)."""
    return reviews.state_counts(Review.objects.in_queue(reviews.QUEUE_DAYS, today), today)


@dataclass
class AgentGaps:
    name: str
    slug: str
    tier: int | None
    number: int
    gaps: list[tuple[str, str]] = field(default_factory=list)  # (control id, title)


@dataclass
class Gaps:
    agents: list[AgentGaps]
    by_control: list[tuple[str, str, int]]  # (control id, title, agents with the gap)

    @property
    def total(self) -> int:
        return sum(len(a.gaps) for a in self.agents)


def open_gaps(today: dt.date) -> Gaps:
    """Required controls with status ``gap`` in each active agent's latest approved
    assessment, less those covered by an active exception (two queries)."""
    latest = (
        Assessment.objects.approved()
        .filter(agent=OuterRef("agent"))
        .order_by("-number")
        .values("pk")[:1]
    )
    rows = (
        Assessment.objects.filter(pk=Subquery(latest), agent__status=Agent.Status.ACTIVE)
        .values("agent_id", "number", "agent__name", "agent__slug", "agent__current_tier")
        .annotate(controls=F("result__controls"))
    )
    excepted = set(GapException.objects.active(today).values_list("agent_id", "subject"))
    agents = []
    per_control: Counter[str] = Counter()
    titles: dict[str, str] = {}
    for row in rows:
        gaps = [
            (c["id"], c.get("title", ""))
            for c in row["controls"] or []
            if c.get("status") == "gap" and (row["agent_id"], c["id"]) not in excepted
        ]
        if not gaps:
            continue
        for control_id, title in gaps:
            per_control[control_id] += 1
            titles[control_id] = title
        agents.append(
            AgentGaps(
                name=row["agent__name"],
                slug=row["agent__slug"],
                tier=row["agent__current_tier"],
                number=row["number"],
                gaps=gaps,
            )
        )
    agents.sort(key=lambda a: (-len(a.gaps), -(a.tier or 0), a.name))
    by_control = [
        (control_id, titles[control_id], n)
        for control_id, n in sorted(per_control.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return Gaps(agents=agents, by_control=by_control)


def expiring_exceptions(today: dt.date, within_days: int = 30) -> list[GapException]:
    """Active exceptions expiring within ``within_days`` (one query)."""
    return list(
        GapException.objects.active(today)
        .filter(expires_on__lte=today + dt.timedelta(days=within_days), agent__status="active")
        .select_related("agent", "assessment", "accepted_by")
        .order_by("expires_on", "agent__name")
    )


def recent_reclassifications(limit: int = 8) -> list[Any]:
    """Approved assessments whose class or tier differs from the agent's previous approved
    version, newest first (one query)."""

    def previous(field: str) -> Window:
        return Window(Lag(field), partition_by=[F("agent_id")], order_by=F("number").asc())

    return list(
        Assessment.objects.approved()
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
