"""Accountable humans: orphaned agents (their owner or sponsor left) and inactive ones."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import CharField, Count, Exists, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from assessments.models import Agent, AuditEvent
from assessments.models.base import end_of_day, start_of_day
from assessments.models.inventory import IDLE

from .states import registered_by


@dataclass
class Accountability:
    """Who answers for the active agents: ``orphaned`` (owner or sponsor left, nobody
    took it on), ``inactive`` (not seen acting for INACTIVE_AGENT_DAYS), ``single_owner``
    (nobody to succeed its one owner), and the ``ORPHANS_SHOWN`` orphaned longest."""

    orphaned: int
    inactive: int
    single_owner: int
    orphaned_agents: list[Any]


ORPHANS_SHOWN = 8
ORPHAN_FIELDS = ("name", "slug", "orphaned_at")


def accountability_counts(today: dt.date, agents: Any = None) -> dict[str, Any]:
    """The three counts and the ids of the orphans shown, as the stored figures keep
    them (three queries on indexed columns)."""
    active = Agent.objects.filter(status=Agent.Status.ACTIVE)
    if agents is not None:
        active = active.filter(pk__in=agents.values("pk"))
    cutoff = today - dt.timedelta(days=settings.INACTIVE_AGENT_DAYS)
    counts = active.aggregate(
        orphaned=Count("pk", filter=Q(orphaned_at__isnull=False)),
        inactive=Count("pk", filter=IDLE(cutoff)),
    )
    counts["single_owner"] = active.filter(co_owners__isnull=True).count()
    counts["orphans"] = list(
        active.filter(orphaned_at__isnull=False)
        .order_by("orphaned_at", "name", "pk")
        .values_list("pk", flat=True)[:ORPHANS_SHOWN]
    )
    return counts


def stored_accountability(data: dict[str, Any]) -> Accountability:
    """``Accountability`` from stored counts (``accountability_counts``); the orphans
    shown are read fresh by their ids (one query, none when there are none)."""
    ids = data["orphans"]
    found = {a.pk: a for a in Agent.objects.filter(pk__in=ids).only(*ORPHAN_FIELDS)} if ids else {}
    return Accountability(
        orphaned=data["orphaned"],
        inactive=data["inactive"],
        single_owner=data["single_owner"],
        orphaned_agents=[found[pk] for pk in ids if pk in found],
    )


def accountability(today: dt.date, agents: Any = None) -> Accountability:
    """The figures as they are now (the dashboard reads them from the stored figures)."""
    return stored_accountability(accountability_counts(today, agents))


def accountability_as_of(day: dt.date, agents: Any) -> dict[str, int]:
    """``orphaned`` and ``inactive`` of ``agents`` as they stood at the end of a past
    ``day``, rebuilt from the records (one query), for the board pack's trends.

    Orphaned then: orphaned on or before the day and not taken on since (``orphaned_at``,
    which taking it on clears), or else its last ownership event by then ("agent.orphaned"
    or "agent.ownership" in the audit log) orphaned it. Inactive then: the last activity
    the records date on or before the day (the agent's own, which only moves forward, or
    an "agent.activity" event's) is before that day's cutoff, and it was not kept
    ("agent.kept") since the cutoff."""
    end = end_of_day(day)
    cutoff = day - dt.timedelta(days=settings.INACTIVE_AGENT_DAYS)
    events = AuditEvent.objects.filter(agent=OuterRef("pk")).order_by()
    owner_verb = (
        events.filter(verb__in=("agent.orphaned", "agent.ownership"), created_at__lte=end)
        .order_by("-created_at", "-pk")
        .values("verb")[:1]
    )
    seen_then = (
        events.filter(verb="agent.activity")
        .annotate(on=Cast(KT("changes__last_activity_on"), CharField()))
        .filter(on__lte=day.isoformat())
        .order_by("-on")
        .values("on")[:1]
    )
    kept_since = events.filter(
        verb="agent.kept",
        created_at__gte=start_of_day(cutoff),
        created_at__lte=end,
    )
    idle = (
        Q(last_activity_on__lte=day, last_activity_on__lt=cutoff)
        | Q(last_activity_on__gt=day, seen_then__lt=cutoff.isoformat())
    ) & ~Q(kept_on__gte=cutoff, kept_on__lte=day)
    return (
        registered_by(end, agents)
        .annotate(
            owner_verb=Subquery(owner_verb),
            seen_then=Subquery(seen_then),
            kept_then=Exists(kept_since),
        )
        .order_by()
        .aggregate(
            orphaned=Count("pk", filter=Q(orphaned_at__lte=end) | Q(owner_verb="agent.orphaned")),
            inactive=Count("pk", filter=idle & Q(kept_then=False)),
        )
    )


# --------------------------------------------------------------------------- discovery
# One definition each for the discovery figures (../shared/discovery.md), read by the
# Discovery page, the dashboard, /figures/, the API and the board pack. Estate-wide:
# identities belong to no team.
