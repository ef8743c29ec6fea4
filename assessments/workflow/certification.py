"""Access certification, the read side: which agents a campaign covers, who requested
each access (four eyes), who may certify an item, and the figures every page, export,
API answer and the board pack read (one function each).

State changes are in ``actions/certification.py``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from assessments.access import scope
from assessments.access.roles import has_role
from assessments.models import (
    Access,
    Agent,
    AuditEvent,
    CertificationCampaign,
    CertificationItem,
    Review,
    Role,
)
from assessments.models.base import start_of_day

# Reminders go out from this many days before the deadline (the smallest that covers
# the days left applies, as for reviews); the sponsor is told the day after it.
REMINDER_DAYS: tuple[tuple[str, int], ...] = (("1", 1), ("7", 7))
RANK: dict[str, int] = {Access.READ: 1, Access.WRITE: 2, Access.ADMIN: 3}


def lower_levels(access: str) -> list[str]:
    """The access levels an item at ``access`` may be reduced to (none below read)."""
    return [level for level in Access.values if RANK[level] < RANK.get(access, 0)]


def reminder_threshold(deadline: dt.date, today: dt.date) -> str | None:
    if today > deadline:
        return None
    days = (deadline - today).days
    for label, limit in REMINDER_DAYS:
        if days <= limit:
            return label
    return None


# --------------------------------------------------------------------------- scope


def agents_in_scope(
    scope_kind: str, *, team: Any = None, tier: int | None = None, today: dt.date | None = None
) -> QuerySet[Agent]:
    """The active agents a campaign of this scope covers."""
    agents = Agent.objects.active()
    if scope_kind == CertificationCampaign.Scope.TEAM:
        agents = agents.filter(team=team)
    elif scope_kind == CertificationCampaign.Scope.TIER:
        agents = agents.filter(current_tier=tier)
    elif scope_kind == CertificationCampaign.Scope.DUE:
        # The review queue's agents: a review triggered, overdue or due within 30 days.
        due = Review.objects.in_queue(today=today).filter(agent=OuterRef("pk"))
        agents = agents.filter(Exists(due))
    return agents.order_by("name", "pk")


def requesters(agent_ids: Iterable[int]) -> dict[tuple[int, str], set[int]]:
    """Who asked for each system of these agents, from the audit log: the people who
    registered an agent with the system, added it, or raised its access. Keyed by
    (agent id, casefolded system name)."""
    found: dict[tuple[int, str], set[int]] = defaultdict(set)
    events = AuditEvent.objects.filter(
        agent_id__in=list(agent_ids),
        verb__in=("agent.create", "agent.update"),
        actor__isnull=False,
    ).values_list("agent_id", "actor_id", "changes")
    for agent_id, actor_id, changes in events.iterator(chunk_size=2000):
        changes = changes or {}
        rows = [*(changes.get("systems") or []), *(changes.get("systems_added") or [])]
        for row in changes.get("systems_changed") or []:
            if RANK.get(row.get("new"), 0) > RANK.get(row.get("old"), 0):
                rows.append(row)
        for row in rows:
            if isinstance(row, dict) and row.get("name"):
                found[agent_id, str(row["name"]).casefold()].add(actor_id)
    return found


# --------------------------------------------------------------------------- who certifies


@dataclass(frozen=True)
class Certifiers:
    """Who may certify an item, and why them (``route``: owners, sponsor or reviewers)."""

    ids: frozenset[int]
    route: str
    late_sponsor: int | None = None  # after the deadline the sponsor may certify too

    def allows(self, user: Any) -> bool:
        return user.pk in self.ids or (
            self.late_sponsor is not None and user.pk == self.late_sponsor
        )

    def label(self) -> str:
        return {
            "owners": "the agent's owners",
            "sponsor": "the sponsor (the owners requested this access)",
            "reviewers": "a reviewer (the owners and the sponsor requested this access)",
        }[self.route]


def owners_of(agent: Agent) -> list[Any]:
    """The owner and the co-owners (successors), in order; reads ``co_owners`` (prefetch
    ``co_owners__person``)."""
    return [agent.owner, *(row.person for row in agent.co_owners.all())]


def certifiers(
    item: CertificationItem,
    *,
    today: dt.date | None = None,
    team_reviewers: dict[int, list[Any]] | None = None,
) -> Certifiers:
    """The owners who did not request the access; else the sponsor; else the team's
    reviewers (or the administrators), never a requester. After the deadline the
    sponsor, who was told, may certify too."""
    from assessments.actions.ownership import team_reviewers as reviewers_of

    agent = item.agent
    requested = {u.pk for u in item.requested_by.all()}
    owners = frozenset(p.pk for p in owners_of(agent) if p.is_active and p.pk not in requested)
    sponsor = agent.sponsor_or_owner
    sponsor_ok = sponsor.is_active and sponsor.pk not in requested
    late = sponsor.pk if sponsor_ok and item.campaign.past_deadline(today) else None
    if owners:
        return Certifiers(owners, "owners", late)
    if sponsor_ok:
        return Certifiers(frozenset({sponsor.pk}), "sponsor")
    if team_reviewers is not None and agent.team_id in team_reviewers:
        people = team_reviewers[agent.team_id]
    else:
        people = reviewers_of(agent)
        if team_reviewers is not None:
            team_reviewers[agent.team_id] = people
    return Certifiers(frozenset(p.pk for p in people if p.pk not in requested), "reviewers")


def for_certifying(items: QuerySet[CertificationItem]) -> QuerySet[CertificationItem]:
    """What ``certifiers`` and an item's form read, without a query per item."""
    return items.select_related(
        "campaign", "agent", "agent__owner", "agent__sponsor", "agent__team", "decided_by"
    ).prefetch_related("requested_by", "agent__co_owners__person")


def to_certify(user: Any, today: dt.date | None = None) -> list[CertificationItem]:
    """The items waiting for ``user``'s attestation, in every campaign, by deadline."""
    if not has_role(user, Role.VIEWER):
        return []
    mine = (
        Q(agent__owner=user)
        | Q(agent__co_owners__person=user)
        | Q(agent__sponsor=user)
        | Q(agent__sponsor__isnull=True, agent__owner=user)
    )
    if has_role(user, Role.REVIEWER):
        # An item reaches a reviewer only when its owners and sponsor requested it, or
        # are gone.
        mine |= Q(requested_by__isnull=False) | Q(agent__owner__is_active=False)
        mine |= Q(agent__sponsor__is_active=False)
    ids = (
        CertificationItem.objects.pending()
        .filter(mine, agent__status=Agent.Status.ACTIVE)
        .values("pk")
        .distinct()
    )
    candidates = for_certifying(CertificationItem.objects.filter(pk__in=ids)).order_by(
        "campaign__deadline", "campaign_id", "agent__name", "kind", "system_name"
    )
    cache: dict[int, list[Any]] = {}
    return [
        item
        for item in candidates
        if certifiers(item, today=today, team_reviewers=cache).allows(user)
    ]


# --------------------------------------------------------------------------- figures


def readable_items(campaign: CertificationCampaign, user: Any) -> QuerySet[CertificationItem]:
    """A campaign's items ``user`` may read (their teams' when reading is scoped)."""
    return scope.readable(campaign.items.all(), user, "agent__team")


def readable_campaigns(user: Any) -> QuerySet[CertificationCampaign]:
    """Campaigns with an item ``user`` may read (all when reading is not scoped)."""
    campaigns = CertificationCampaign.objects.all()
    if scope.reads_all(user):
        return campaigns
    items = CertificationItem.objects.filter(
        campaign=OuterRef("pk"), agent__team__in=scope.team_ids(user)
    )
    return campaigns.filter(Exists(items))


@dataclass
class Progress:
    """How far a campaign (or one team's part of it) has come."""

    items: int = 0
    decided: int = 0
    agents: int = 0
    agents_certified: int = 0
    overdue_agents: int = 0
    keep: int = 0
    reduce: int = 0
    revoke: int = 0
    _agents: dict[int, list[bool]] = field(default_factory=dict, repr=False)

    @property
    def percent(self) -> int:
        """Items certified, as a whole percentage (100 only when all are)."""
        if not self.items:
            return 0
        return self.decided * 100 // self.items

    @property
    def pending(self) -> int:
        return self.items - self.decided


@dataclass
class CampaignFigures:
    campaign: CertificationCampaign
    total: Progress
    teams: list[tuple[str, Progress]]
    overdue: list[str]  # names of the agents not certified by the deadline

    @property
    def past_deadline(self) -> bool:
        return self.campaign.past_deadline()


def figures(
    campaign: CertificationCampaign,
    items: QuerySet[CertificationItem] | None = None,
    today: dt.date | None = None,
) -> CampaignFigures:
    """Progress of ``campaign`` (over ``items``, its readable items, when given): items
    and agents certified, outcomes, and per team. An agent counts as overdue when the
    deadline has passed and one of its items was not certified by then (certified late,
    it stays overdue: the figure is about the deadline)."""
    today = today or timezone.localdate()
    items = campaign.items.all() if items is None else items
    past = campaign.past_deadline(today)
    cutoff = campaign.cutoff()
    total = Progress()
    by_team: dict[str, Progress] = {}
    late_agents: dict[int, str] = {}
    rows = items.order_by().values_list(
        "agent_id", "agent__name", "agent__team__name", "decision", "decided_at"
    )
    for agent_id, agent_name, team_name, decision, decided_at in rows:
        on_time = decided_at is not None and decided_at < cutoff
        for progress in (total, by_team.setdefault(team_name, Progress())):
            progress.items += 1
            if decided_at is not None:
                progress.decided += 1
                if decision in ("keep", "reduce", "revoke"):
                    setattr(progress, decision, getattr(progress, decision) + 1)
            progress._agents.setdefault(agent_id, []).append(decided_at is not None)
        if past and not on_time:
            late_agents[agent_id] = agent_name
    for progress in (total, *by_team.values()):
        progress.agents = len(progress._agents)
        progress.agents_certified = sum(1 for done in progress._agents.values() if all(done))
        progress.overdue_agents = sum(1 for agent_id in progress._agents if agent_id in late_agents)
    return CampaignFigures(
        campaign=campaign,
        total=total,
        teams=sorted(by_team.items(), key=lambda pair: pair[0].casefold()),
        overdue=sorted(late_agents.values(), key=str.casefold),
    )


def agent_rows(
    items: Iterable[CertificationItem], today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Items grouped by agent for the campaign page: done, pending, overdue."""
    grouped: dict[int, dict[str, Any]] = {}
    for item in items:
        row = grouped.setdefault(
            item.agent_id,
            {"agent": item.agent, "items": [], "done": 0, "overdue": False},
        )
        row["items"].append(item)
        if item.decided_at is not None:
            row["done"] += 1
    for row in grouped.values():
        campaign = row["items"][0].campaign
        row["overdue"] = campaign.past_deadline(today) and any(
            i.decided_at is None or i.decided_at >= campaign.cutoff() for i in row["items"]
        )
        row["total"] = len(row["items"])
    return list(grouped.values())


def in_period(since: dt.date, until: dt.date) -> QuerySet[CertificationCampaign]:
    """Campaigns of a reporting period: started in it, or with their deadline in it."""
    start = start_of_day(since)
    end = start_of_day(until + dt.timedelta(days=1))
    return CertificationCampaign.objects.filter(
        Q(started_at__gte=start, started_at__lt=end) | Q(deadline__gte=since, deadline__lte=until)
    ).order_by("started_at", "pk")
