"""Who answers for the agents, in the board pack: the orphaned and inactive figures (the
one definition, ``portfolio.accountability``, applied to the pack's scope), the orphaned
agents listed, and each register row's sponsor and successors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from assessments import portfolio
from assessments.models import Agent, AgentOwner
from assessments.workflow import reviews


def accountability_section(scope: Any, today: dt.date) -> dict[str, Any]:
    """The headline figures ``orphaned`` and ``inactive``, and the orphaned agents
    (longest orphaned first, as many as the dashboard shows)."""
    figures = portfolio.accountability(today, scope)
    return {
        "orphaned": figures.orphaned,
        "inactive": figures.inactive,
        "single_owner": figures.single_owner,
        "inactive_days": settings.INACTIVE_AGENT_DAYS,
        "orphaned_agents": [
            {
                "agent": a.name,
                "slug": a.slug,
                "since": timezone.localdate(a.orphaned_at),
            }
            for a in figures.orphaned_agents
        ],
    }


def answerable_by_agent(ids: Any, today: dt.date) -> dict[int, dict[str, Any]]:
    """Each agent's sponsor (its owner until one is named), successors in order (by
    name), when it was orphaned and whether it is inactive, in three queries: the
    register's columns, from which the two headline figures can be recounted."""
    cutoff = today - dt.timedelta(days=settings.INACTIVE_AGENT_DAYS)
    idle = set(
        Agent.objects.filter(pk__in=ids, status=Agent.Status.ACTIVE)
        .idle_before(cutoff)
        .values_list("pk", flat=True)
    )
    out: dict[int, dict[str, Any]] = {}
    for agent in (
        Agent.objects.filter(pk__in=ids)
        .select_related("owner", "sponsor")
        .only(
            "pk",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
            "sponsor__first_name",
            "sponsor__last_name",
            "sponsor__username",
            "orphaned_at",
            "status",
        )
    ):
        out[agent.pk] = {
            "sponsor": reviews.person(agent.sponsor_or_owner),
            "successors": [],
            "orphaned_on": timezone.localdate(agent.orphaned_at)
            if agent.orphaned_at and agent.status == Agent.Status.ACTIVE
            else None,
            "inactive": agent.pk in idle,
        }
    for row in (
        AgentOwner.objects.filter(agent__in=ids)
        .select_related("person")
        .only("agent_id", "position", "person__first_name", "person__last_name", "person__username")
        .order_by("agent_id", "position")
    ):
        if row.agent_id in out:
            out[row.agent_id]["successors"].append(reviews.person(row.person))
    return out


NOBODY: dict[str, Any] = {"sponsor": "", "successors": [], "orphaned_on": None, "inactive": False}
