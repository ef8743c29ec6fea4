"""Ownership actions: who is accountable for an agent, and what happens when they leave.

- ``set_ownership``: the sponsor (an accountable person, never a service account) and
  the owners beside the primary owner, in the order they succeed.
- ``person_left``: a person deactivated (locally, by losing every mapped directory group
  at a sign-in or by SCIM) hands each agent they own or sponsor to the next active
  successor; an agent with none left becomes orphaned: an "Owner left" review opens,
  the team's reviewers are told, and it counts in the orphaned figure until
  ``take_on_agent``.
- ``record_activity`` and ``flag_inactive_agents``: an agent's last activity, and the
  "Decommission?" review of an agent idle for ``INACTIVE_AGENT_DAYS``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone

from assessments.access import scope
from assessments.actions.errors import ActionError, ConflictError
from assessments.actions.inventory import retire_agent
from assessments.actions.notifications import notify_owner_left, reviewers
from assessments.actions.reviews import trigger_review
from assessments.models import (
    Agent,
    AgentOwner,
    DiscoveredIdentity,
    Review,
    ServiceAccount,
)
from assessments.records import audit
from assessments.workflow import reviews

User = get_user_model()

OWNER_LEFT = "owner_left"
INACTIVE = "inactive"
MAX_SUCCESSORS = 3  # the agent page's form has three places


def sponsor_problem(user: Any) -> str | None:
    """Why ``user`` cannot sponsor an agent, or None. A sponsor answers for the agent:
    an active person (not a service account) with an e-mail address, so that the
    reviewers, the reminders and escalations can reach them."""
    if not is_person(user):
        return (
            "The sponsor must be an active person who answers for the agent, not a "
            "service account or a disabled account."
        )
    if not user.email:
        return (
            f"{reviews.person(user)} has no e-mail address: a sponsor must be someone "
            "the reviewers can reach."
        )
    return None


def is_person(user: Any) -> bool:
    """An active human account: not a service account."""
    return bool(
        user is not None
        and user.is_active
        and not ServiceAccount.objects.filter(user_id=user.pk).exists()
    )


def successors(agent: Agent) -> list[Any]:
    """The owners beside the primary owner, in the order they succeed."""
    return [o.person for o in agent.co_owners.select_related("person").order_by("position")]


@transaction.atomic
def set_ownership(
    actor: Any,
    agent: Agent,
    *,
    owner: Any,
    sponsor: Any,
    co_owners: list[Any],
    lock_version: int | None,
    request: HttpRequest | None = None,
) -> Agent:
    """Name the agent's primary owner, sponsor and further owners (in succession order).
    Naming them takes an orphaned agent on."""
    scope.check_actor_edit(actor, agent)
    current = Agent.objects.select_for_update().get(pk=agent.pk)
    if lock_version is None or current.lock_version != lock_version:
        raise ConflictError(
            "Someone changed this agent since you opened the page. Reload it and try again."
        )
    if not is_person(owner):
        raise ActionError("The owner must be an active person, not a service account.")
    # A sponsor kept as they were is not asked again for what a new one must have (an
    # e-mail address); a disabled one or a service account is refused all the same.
    kept = sponsor.pk == current.sponsor_or_owner.pk and is_person(sponsor)
    if not kept and (problem := sponsor_problem(sponsor)):
        raise ActionError(problem)
    ordered: list[Any] = []
    for person in co_owners:
        if person.pk == owner.pk or person.pk in {p.pk for p in ordered}:
            continue
        if not is_person(person):
            raise ActionError(f"{reviews.person(person)} is not an active person.")
        ordered.append(person)
    if len(ordered) > MAX_SUCCESSORS:
        raise ActionError(f"An agent has at most {MAX_SUCCESSORS} successors.")
    before = {
        "owner": reviews.person(current.owner),
        "sponsor": reviews.person(current.sponsor_or_owner),
        "owners": [reviews.person(p) for p in successors(current)],
    }
    current.owner, current.sponsor = owner, sponsor
    taken_on = current.orphaned_at is not None
    current.orphaned_at = None
    current.lock_version += 1
    current.save(update_fields=["owner", "sponsor", "orphaned_at", "lock_version", "updated_at"])
    AgentOwner.objects.filter(agent=current).delete()
    AgentOwner.objects.bulk_create(
        AgentOwner(agent=current, person=p, position=i) for i, p in enumerate(ordered, 1)
    )
    after = {
        "owner": reviews.person(owner),
        "sponsor": reviews.person(sponsor),
        "owners": [reviews.person(p) for p in ordered],
    }
    audit.record(
        "agent.ownership",
        actor=actor,
        obj=current,
        request=request,
        changes={k: [before[k], after[k]] for k in after if before[k] != after[k]}
        | ({"taken_on": True} if taken_on else {}),
    )
    agent.refresh_from_db()
    return current


@transaction.atomic
def take_on_agent(actor: Any, agent: Agent, *, request: HttpRequest | None = None) -> Agent:
    """An orphaned agent taken on by the person acting: they become its owner and sponsor."""
    if agent.orphaned_at is None:
        raise ActionError(f"{agent.name} has an owner and a sponsor already.")
    return set_ownership(
        actor,
        agent,
        owner=actor,
        sponsor=actor,
        co_owners=successors(agent),
        lock_version=agent.lock_version,
        request=request,
    )


@transaction.atomic
def person_left(
    person: Any, *, how: str, actor: Any = None, request: HttpRequest | None = None
) -> list[Agent]:
    """Hand every agent ``person`` owns or sponsors to its next active successor, or
    orphan it. ``how`` says how they left (for the audit trail). Returns the orphaned."""
    # PostgreSQL refuses FOR UPDATE with DISTINCT: find the agents first, then lock them.
    answerable = Agent.objects.filter(
        Q(owner=person) | Q(sponsor=person) | Q(co_owners__person=person)
    ).values("pk")
    agents = (
        Agent.objects.select_for_update()
        .filter(pk__in=answerable, status=Agent.Status.ACTIVE)
        .order_by("pk")
    )
    orphaned = []

    def here(p: Any) -> bool:  # still here to answer for an agent
        return p.pk != person.pk and is_person(p)

    for agent in agents:
        chain = [p for p in successors(agent) if p.pk != person.pk and is_person(p)]
        AgentOwner.objects.filter(agent=agent, person=person).delete()
        changes: dict[str, Any] = {"left": reviews.person(person), "how": how}
        fields = ["lock_version", "updated_at"]
        if agent.owner_id == person.pk and chain:
            agent.owner = chain.pop(0)
            AgentOwner.objects.filter(agent=agent, person=agent.owner).delete()
            changes["owner"] = reviews.person(agent.owner)
            fields.append("owner")
        if agent.sponsor_id is None:
            agent.sponsor = agent.owner  # created in bulk: its owner answered for it
            fields.append("sponsor")
        if agent.sponsor_id == person.pk:
            successor = agent.owner if here(agent.owner) else (chain[0] if chain else None)
            if successor is not None:
                agent.sponsor = successor
                changes["sponsor"] = reviews.person(successor)
                fields.append("sponsor")
        unaccounted = not here(agent.owner) or not here(agent.sponsor)
        if unaccounted and agent.orphaned_at is None:
            agent.orphaned_at = timezone.now()
            fields.append("orphaned_at")
            orphaned.append(agent)
        agent.lock_version += 1
        agent.save(update_fields=fields)
        audit.record(
            "agent.orphaned" if agent in orphaned else "agent.succession",
            actor=actor,
            obj=agent,
            request=request,
            changes=changes,
        )
        if agent in orphaned:
            trigger_review(
                agent,
                [
                    {
                        "code": OWNER_LEFT,
                        "detail": f"{reviews.person(person)} left and nobody was there to "
                        "take the agent on",
                    }
                ],
                actor=actor,
                request=request,
            )
            notify_owner_left(team_reviewers(agent), agent, left=reviews.person(person))
    return orphaned


def team_reviewers(agent: Agent) -> list[Any]:
    """The reviewers of the agent's team, else every administrator."""
    team = list(reviewers().filter(teams=agent.team_id).distinct().order_by("pk"))
    if team:
        return team
    return list(
        reviewers()
        .filter(Q(is_superuser=True) | Q(groups__name="administrator"))
        .distinct()
        .order_by("pk")
    )


# --------------------------------------------------------------------------- activity


@transaction.atomic
def record_activity(
    actor: Any,
    agent: Agent,
    on: dt.date,
    *,
    source: str,
    request: HttpRequest | None = None,
) -> Agent:
    """The agent was seen acting on ``on`` (by hand, from evidence or discovery). An
    older date than the one known changes nothing."""
    if on > timezone.localdate():
        raise ActionError("The last activity cannot be in the future.")
    if agent.last_activity_on is not None and on <= agent.last_activity_on:
        return agent
    Agent.objects.filter(pk=agent.pk).update(last_activity_on=on, last_activity_source=source)
    agent.last_activity_on, agent.last_activity_source = on, source
    audit.record(
        "agent.activity",
        actor=actor,
        obj=agent,
        request=request,
        changes={"last_activity_on": on.isoformat(), "source": source},
    )
    return agent


def activity_from_discovery(
    agent_ids: Iterable[int], *, actor: Any = None, request: HttpRequest | None = None
) -> list[Agent]:
    """Bring each agent's last activity up to the latest last-used date of its linked
    discovered identities (what the discovery analysers read: AWS RoleLastUsed, Entra
    signInActivity, Google lastAuthenticatedTime ...). A later date already known
    (by hand, from evidence) stays. Returns the agents whose date moved."""
    today = timezone.localdate()
    latest: dict[int, Any] = {}
    for identity in (
        DiscoveredIdentity.objects.filter(
            agent_id__in=list(agent_ids), last_used__isnull=False, last_used__lte=today
        )
        .order_by("agent_id", "-last_used", "pk")
        .only("agent_id", "last_used", "last_used_from", "source", "name", "external_id")
    ):
        if identity.agent_id is not None:  # never None here: the filter names agents
            latest.setdefault(identity.agent_id, identity)
    moved = []
    agents = Agent.objects.filter(pk__in=latest, status=Agent.Status.ACTIVE)
    for agent in agents.only("pk", "slug", "name", "last_activity_on", "last_activity_source"):
        identity = latest[agent.pk]
        if agent.last_activity_on is not None and identity.last_used <= agent.last_activity_on:
            continue
        how = f" ({identity.last_used_from})" if identity.last_used_from else ""
        source = f"discovery: {identity.name or identity.external_id} in {identity.source}{how}"
        moved.append(
            record_activity(actor, agent, identity.last_used, source=source[:120], request=request)
        )
    return moved


# --------------------------------------------------------------------------- "Decommission?"

KEEP, RETIRE, DECOMMISSION = "keep", "retire", "decommission"
OUTCOMES = {
    KEEP: "Keep it: it is still needed",
    RETIRE: "Retire it",
    DECOMMISSION: "Decommission it: retire it and remove its identity and access",
}


def decommission_question(agent: Agent) -> Review | None:
    """The agent's open review when it asks "Decommission?"."""
    review = Review.objects.open().filter(agent=agent).first()
    if review is not None and any(r.get("code") == INACTIVE for r in review.reasons):
        return review
    return None


@transaction.atomic
def answer_decommission(
    actor: Any,
    agent: Agent,
    outcome: str,
    *,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Agent:
    """Answer an inactive agent's "Decommission?" review.

    - keep (a reason is required): the question leaves the review (closed when nothing
      else is asked) and the inactive clock restarts today (``Agent.kept_on``);
    - retire: the agent is retired (``retire_agent``, which closes its open review);
    - decommission: retired too, with a decommission event naming its linked
      discovered identities, whose access is to be removed where they live.
    """
    agent = Agent.objects.select_for_update(of=("self",)).select_related("team").get(pk=agent.pk)
    scope.check_actor_edit(actor, agent)
    reason = " ".join((reason or "").split())[:1000]
    if outcome not in OUTCOMES:
        raise ActionError("Choose keep, retire or decommission.")
    review = Review.objects.select_for_update(of=("self",)).open().filter(agent=agent).first()
    if review is None or not any(r.get("code") == INACTIVE for r in review.reasons):
        raise ActionError(f"{agent.name} has no open “Decommission?” review.")
    if outcome != KEEP:
        retired = retire_agent(actor, agent, request=request)
        if outcome == DECOMMISSION:
            identities = list(
                DiscoveredIdentity.objects.filter(agent=agent)
                .order_by("source", "external_id")
                .values_list("source", "external_id")
            )
            audit.record(
                "agent.decommission",
                actor=actor,
                obj=retired,
                request=request,
                changes={
                    "reason": reason,
                    "last_activity_on": agent.last_activity_on.isoformat()
                    if agent.last_activity_on
                    else None,
                    "identities": [f"{ext} in {src}" for src, ext in identities],
                },
            )
        return retired
    if not reason:
        raise ActionError("Say why the agent is kept although nobody has seen it act.")
    today = timezone.localdate()
    remaining = [r for r in review.reasons if r.get("code") != INACTIVE]
    if remaining:
        review.reasons = remaining
        if all(r.get("code") == "interval" for r in remaining):
            # Only the scheduled reassessment is left: back to its own date.
            review.triggered_at = None
            review.due_on = agent.next_review_on or review.due_on
        review.save(update_fields=["reasons", "triggered_at", "due_on"])
    else:
        review.state, review.closed_at = Review.State.CLOSED, timezone.now()
        review.save(update_fields=["state", "closed_at"])
    Agent.objects.filter(pk=agent.pk).update(kept_on=today, lock_version=F("lock_version") + 1)
    agent.refresh_from_db()
    audit.record(
        "agent.kept",
        actor=actor,
        obj=agent,
        request=request,
        changes={
            "reason": reason,
            "review": "still open" if remaining else "closed",
            "inactive_clock_from": today.isoformat(),
        },
    )
    return agent


def inactive_agents(today: dt.date | None = None) -> Any:
    """Active agents whose last known activity is older than INACTIVE_AGENT_DAYS."""
    today = today or timezone.localdate()
    cutoff = today - dt.timedelta(days=settings.INACTIVE_AGENT_DAYS)
    return Agent.objects.filter(status=Agent.Status.ACTIVE).idle_before(cutoff)


def flag_inactive_agents(*, today: dt.date | None = None) -> list[Review]:
    """Open a "Decommission?" review for each inactive agent that has none open yet."""
    today = today or timezone.localdate()
    flagged = reviews.with_reason_code(Review.objects.open(), INACTIVE).values("agent_id")
    opened = []
    for agent in inactive_agents(today).exclude(pk__in=flagged):
        idle = (today - agent.last_activity_on).days
        opened.append(
            trigger_review(
                agent,
                [
                    {
                        "code": INACTIVE,
                        "detail": f"Decommission? Not seen acting for {idle} days "
                        f"(last on {agent.last_activity_on:%-d %b %Y}, "
                        f"{agent.last_activity_source or 'recorded by hand'})",
                    }
                ],
            )
        )
    return opened
