"""Accountable humans: orphaned agents (their owner or sponsor left) and inactive ones."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from assessments.models import Agent
from assessments.models.inventory import IDLE


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
