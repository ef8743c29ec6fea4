"""Access certification actions: start a campaign, attest an item, remind and escalate.

A reduce or revoke is not an edit of the inventory: it opens (or adds a reason to) the
agent's review through ``trigger_review``, so the change is planned there and the class
is re-examined when it lands.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from assessments.access import scope
from assessments.access.roles import has_role
from assessments.actions.errors import ActionError
from assessments.actions.notifications import _create
from assessments.actions.reviews import trigger_review
from assessments.models import (
    Agent,
    CertificationCampaign,
    CertificationItem,
    Notification,
    Role,
    Team,
)
from assessments.records import audit
from assessments.workflow import certification, reviews

MAX_NAME = 200
MAX_TEXT = 2000
REASON_CODE = "access_certification"

Decision = CertificationItem.Decision


def _when(day: dt.date) -> str:
    return f"{day:%d %b %Y}".lstrip("0")


# --------------------------------------------------------------------------- start


@transaction.atomic
def start_campaign(
    actor: Any,
    *,
    name: str,
    scope_kind: str,
    deadline: dt.date,
    team: Team | None = None,
    tier: int | None = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> CertificationCampaign:
    """Start a campaign over ``scope_kind`` and make its items; tell each certifier."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not has_role(actor, Role.REVIEWER):
        raise PermissionDenied("Only reviewers and administrators start access certifications.")
    name = " ".join((name or "").split())[:MAX_NAME]
    if not name:
        raise ActionError("Name the campaign, e.g. “Quarterly access review”.")
    if scope_kind not in CertificationCampaign.Scope.values:
        raise ActionError("Choose what the campaign covers.")
    if deadline <= today:
        raise ActionError("The deadline must be after today.")
    if scope_kind == CertificationCampaign.Scope.TEAM and team is None:
        raise ActionError("Choose the team the campaign covers.")
    if scope_kind == CertificationCampaign.Scope.TIER and tier not in (1, 2, 3, 4):
        raise ActionError("Choose the tier the campaign covers.")
    # A reviewer certifies for their own teams: a wider campaign is an administrator's.
    own_team = scope_kind == CertificationCampaign.Scope.TEAM and scope.in_team(actor, team)
    if scope.editing_scoped() and not scope.all_teams(actor) and not own_team:
        raise scope.OutOfTeam(
            "You review only for your teams: start the campaign over one of your teams."
        )
    agents = list(
        certification.agents_in_scope(scope_kind, team=team, tier=tier, today=today)
        .select_related("owner", "sponsor", "team")
        .prefetch_related("systems", "co_owners__person")
    )
    if not agents:
        raise ActionError("No active agent is in this scope: there is nothing to certify.")
    campaign = CertificationCampaign.objects.create(
        name=name,
        scope=scope_kind,
        team=team if scope_kind == CertificationCampaign.Scope.TEAM else None,
        tier=tier if scope_kind == CertificationCampaign.Scope.TIER else None,
        deadline=deadline,
        started_by=actor,
        started_at=now,
    )
    asked_by = certification.requesters(a.pk for a in agents)
    rows: list[CertificationItem] = []
    for agent in agents:
        rows.extend(
            CertificationItem(
                campaign=campaign,
                agent=agent,
                kind=CertificationItem.Kind.ACCESS,
                system_name=system.name,
                access=system.access,
            )
            for system in agent.systems.all()
        )
        rows.append(
            CertificationItem(campaign=campaign, agent=agent, kind=CertificationItem.Kind.INVOKERS)
        )
    items = CertificationItem.objects.bulk_create(rows)
    through = CertificationItem.requested_by.through
    through.objects.bulk_create(
        through(certificationitem_id=item.pk, user_id=person)
        for item in items
        if item.kind == CertificationItem.Kind.ACCESS
        for person in sorted(asked_by.get((item.agent_id, item.system_name.casefold()), ()))
    )
    audit.record(
        "certification.start",
        actor=actor,
        obj=campaign,
        request=request,
        changes={
            "name": name,
            "scope": campaign.scope_label(),
            "deadline": deadline.isoformat(),
            "agents": len(agents),
            "items": len(items),
        },
    )
    _tell_certifiers(campaign, "start", now=now)
    return campaign


def _pending_by_person(
    campaign: CertificationCampaign, today: dt.date
) -> dict[int, tuple[Any, int]]:
    """Each person who has items of ``campaign`` to certify, with how many."""
    items = certification.for_certifying(
        campaign.items.pending().filter(agent__status=Agent.Status.ACTIVE)
    )
    cache: dict[int, list[Any]] = {}
    people: dict[int, Any] = {}
    counts: dict[int, int] = defaultdict(int)
    for item in items:
        who = certification.certifiers(item, today=today, team_reviewers=cache)
        ids = set(who.ids)
        for person in [*certification.owners_of(item.agent), item.agent.sponsor_or_owner]:
            people.setdefault(person.pk, person)
        for person in cache.get(item.agent.team_id, []):
            people.setdefault(person.pk, person)
        for pk in ids:
            counts[pk] += 1
    return {pk: (people[pk], n) for pk, n in counts.items() if pk in people}


def _tell_certifiers(
    campaign: CertificationCampaign, threshold: str, *, now: dt.datetime
) -> list[Notification]:
    today = timezone.localdate(now)
    url = reverse("assessments:certification_mine")
    created: list[Notification] = []
    for person, n in _pending_by_person(campaign, today).values():
        noun = "item" if n == 1 else "items"
        if threshold == "start":
            title = f"Access certification “{campaign.name}”: {n} {noun} to certify"
        else:
            title = f"Reminder: {n} {noun} of “{campaign.name}” to certify"
        created += _create(
            [person],
            Notification.Kind.CERTIFICATION,
            title=title,
            body=(
                f"Confirm what your agents may reach and who may invoke them by "
                f"{_when(campaign.deadline)}: keep, reduce or revoke each."
            ),
            url=url,
            dedupe_key=f"certification:{campaign.pk}:{threshold}",
            immediate=threshold == "start",
            now=now,
        )
    return created


# --------------------------------------------------------------------------- attest


def _clean(text: str) -> str:
    return (text or "").strip()[:MAX_TEXT]


@transaction.atomic
def attest_item(
    actor: Any,
    item: CertificationItem,
    *,
    decision: str,
    reduce_to: str = "",
    reason: str = "",
    invokers: str = "",
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> CertificationItem:
    """Record one attestation. Keep needs nothing more (who may invoke it: the invokers
    named); reduce and revoke need a reason and open the agent's review."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    locked = CertificationItem.objects.select_for_update(of=("self",)).get(pk=item.pk)
    item = certification.for_certifying(CertificationItem.objects.filter(pk=locked.pk)).get()
    if item.decided_at is not None:
        who = reviews.person(item.decided_by) or "someone"
        raise ActionError(
            f"This item was already certified ({item.outcome().lower()}) by {who}: "
            "nothing was changed."
        )
    agent = item.agent
    if agent.is_retired:
        raise ActionError("This agent is retired: there is nothing left to certify.")
    if not certification.certifiers(item, today=today).allows(actor):
        if actor.pk in {u.pk for u in item.requested_by.all()}:
            raise PermissionDenied(
                "Four eyes: you added or raised this access, so someone else certifies it."
            )
        raise PermissionDenied("This item is not yours to certify.")
    reason, invokers = _clean(reason), _clean(invokers)
    if decision not in Decision.values:
        raise ActionError("Choose keep, reduce or revoke.")
    if decision != Decision.KEEP and not reason:
        raise ActionError("Give a reason: it is required for anything but keep.")
    if item.kind == CertificationItem.Kind.ACCESS:
        if decision == Decision.REDUCE:
            lower = certification.lower_levels(item.access)
            if not lower:
                raise ActionError("Read access cannot be reduced further: keep or revoke it.")
            if reduce_to not in lower:
                raise ActionError(f"Choose the lower access level: {' or '.join(lower)}.")
        else:
            reduce_to = ""
        invokers = ""
    else:
        reduce_to = ""
        if decision in (Decision.KEEP, Decision.REDUCE) and not invokers:
            raise ActionError("Name who may invoke the agent: people, teams or systems.")
        if decision == Decision.REVOKE:
            invokers = ""
    item.decision = decision
    item.reduce_to = reduce_to
    item.reason = reason
    item.invokers = invokers
    item.decided_by = actor
    item.decided_at = now
    audit.record(
        "certification.attest",
        actor=actor,
        obj=item,
        agent=agent,
        request=request,
        object_repr=f"{agent.name}: {item.subject()}",
        changes={
            "campaign": item.campaign.name,
            "item": item.subject(),
            "decision": item.outcome(),
            **({"reason": reason} if reason else {}),
            **({"invokers": invokers} if invokers else {}),
        },
    )
    if decision != Decision.KEEP:
        item.review = trigger_review(
            agent,
            [
                {
                    "code": REASON_CODE,
                    "detail": _planned_change(item),
                    "subject": f"certification:{item.pk}",
                }
            ],
            actor=actor,
            request=request,
            now=now,
        )
    item.save()
    return item


def _planned_change(item: CertificationItem) -> str:
    campaign = item.campaign
    if item.kind == CertificationItem.Kind.INVOKERS:
        what = (
            f"narrow who may invoke it to: {item.invokers}"
            if item.decision == Decision.REDUCE
            else "nobody should invoke it any more"
        )
    elif item.decision == Decision.REDUCE:
        what = f"reduce {item.system_name} from {item.access} to {item.reduce_to} access"
    else:
        what = f"revoke its {item.access} access to {item.system_name}"
    return f"Access certification “{campaign.name}”: {what} ({item.reason})."


# --------------------------------------------------------------------------- reminders


def send_certification_reminders(*, now: dt.datetime | None = None) -> list[Notification]:
    """The daily run: remind the certifiers of open campaigns 7 and 1 days before the
    deadline (each once), and the day after it tell the sponsor of every agent not
    certified (once per campaign). Safe to run any number of times."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    created: list[Notification] = []
    open_campaigns = CertificationCampaign.objects.filter(
        deadline__gte=today, deadline__lte=today + dt.timedelta(days=7)
    ).order_by("deadline", "pk")
    for campaign in open_campaigns:
        threshold = certification.reminder_threshold(campaign.deadline, today)
        if threshold is None or not campaign.items.pending().exists():
            continue
        with transaction.atomic():
            sent = _tell_certifiers(campaign, threshold, now=now)
            if sent:
                audit.record(
                    "certification.remind",
                    obj=campaign,
                    changes={
                        "threshold_days": int(threshold),
                        "people": sorted(n.recipient.get_username() for n in sent),
                    },
                )
            created += sent
    for campaign in CertificationCampaign.objects.filter(
        deadline__lt=today, escalated_at__isnull=True
    ).order_by("deadline", "pk"):
        created += _escalate(campaign, now)
    return created


@transaction.atomic
def _escalate(campaign: CertificationCampaign, now: dt.datetime) -> list[Notification]:
    campaign = CertificationCampaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.escalated_at is not None:  # another run got there first
        return []
    late = (
        campaign.items.filter(agent__status=Agent.Status.ACTIVE)
        .exclude(decided_at__lt=campaign.cutoff())
        .values_list("agent_id", flat=True)
        .distinct()
    )
    agents = Agent.objects.filter(pk__in=late).select_related("owner", "sponsor").order_by("name")
    created: list[Notification] = []
    for agent in agents:
        pending = campaign.items.pending().filter(agent=agent).count()
        sponsor = agent.sponsor_or_owner
        created += _create(
            [sponsor],
            Notification.Kind.CERTIFICATION_OVERDUE,
            title=f"{agent.name} was not certified by {_when(campaign.deadline)}",
            body=(
                f"The access certification “{campaign.name}” ended on "
                f"{_when(campaign.deadline)} with {pending} item{'s' if pending != 1 else ''} "
                f"of {agent.name} ({agent.slug}) not certified. As its sponsor you may "
                "certify them now, or ask its owners to."
            ),
            url=reverse("assessments:certification_mine"),
            agent=agent,
            dedupe_key=f"certification:{campaign.pk}:overdue:{agent.pk}",
            now=now,
        )
    campaign.escalated_at = now
    campaign.save(update_fields=["escalated_at"])
    audit.record(
        "certification.escalate",
        obj=campaign,
        changes={
            "overdue_agents": [a.slug for a in agents],
            "sponsors_told": sorted({n.recipient.get_username() for n in created}),
        },
    )
    return created
