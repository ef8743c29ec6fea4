"""Reclassification reviews: reason codes, composite reach and the queue's read side.

State changes live in ``actions.py`` (the "review queue" section); this module only
reads and computes. Composite reach follows the engine's ``composite_escalation`` rule:
an agent's reach through the agents it is linked to, read from the inventory with
``decisions.inventory_answers`` so the queue and the engine see the same links.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast
from django.utils import timezone

from assessments.models import Agent, Assessment, Review, ReviewQuerySet, Role
from assessments.workflow import decisions

QUEUE_DAYS = 30

# Every reason code a review can carry, with the label the queue filters by.
REASON_LABELS: dict[str, str] = {
    "interval": "Scheduled",
    "system_access": "Write or admin access",
    "new_link": "New linked agent",
    "credential_change": "Credential change",
    "platform_change": "Platform change",
    "planned_change": "Planned change landed",
    "exception_expired": "Exception expired",
    "composite_escalation": "Composite escalation",
    "reactivated": "Reactivated",
    "evidence_changed": "Evidence changed",
    "owner_left": "Owner left",
    "inactive": "Decommission?",
    "identity_vanished": "Identity gone: retire?",
    "access_certification": "Access certification",
}

STATE_LABELS: dict[str, str] = {
    "overdue": "Overdue",
    "triggered": "Triggered",
    "due": f"Due within {QUEUE_DAYS} days",
}

_RANK = {"read": 1, "write": 2, "admin": 3}
_ACCESS_NAME = {rank: name for name, rank in _RANK.items()}


def reason_label(code: str) -> str:
    return REASON_LABELS.get(code, code.replace("_", " ").capitalize())


def with_reason_code(reviews: ReviewQuerySet, code: str) -> ReviewQuerySet:
    """Reviews with a reason of ``code``.

    JSON containment is not portable (SQLite has none), but both SQLite's stored text
    and PostgreSQL's jsonb text form write a key as ``"code": "value"``; a quote inside
    a detail is escaped, so this cannot match free text."""
    needle = f'"code": "{code}"'
    return reviews.alias(reasons_text=Cast("reasons", models.TextField())).filter(
        reasons_text__contains=needle
    )


def reviewers() -> models.QuerySet[Any]:
    """Active people who may be assigned a review: reviewers and administrators."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[Role.REVIEWER, Role.ADMINISTRATOR]))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


# Reminder thresholds in days, smallest first: the first that covers the days left
# applies (reviews due and exceptions expiring are both announced at these).
THRESHOLDS: tuple[tuple[str, int], ...] = (("1", 1), ("7", 7), ("30", 30))
HORIZON_DAYS = THRESHOLDS[-1][1]


def threshold_for(due_on: dt.date, today: dt.date) -> str | None:
    if due_on < today:
        return "overdue"
    days = (due_on - today).days
    for label, limit in THRESHOLDS:
        if days <= limit:
            return label
    return None


def person(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def planned_change_label(value: str) -> str:
    question = decisions.questionnaire().question("planned_changes")
    for option in question.options:
        if option.value == value:
            return option.label
    return value.replace("_", " ")


def landed_changes(review: Review | None) -> set[str]:
    """Planned changes already marked as landed on the open review."""
    if review is None:
        return set()
    return {
        r["subject"]
        for r in review.reasons
        if r.get("code") == "planned_change" and r.get("subject")
    }


# --------------------------------------------------------------------------- composite reach


@dataclass(frozen=True)
class Reach:
    """What an agent reaches: its own systems, and through each linked agent."""

    own: Mapping[str, int]  # casefolded system name -> access rank
    linked: tuple[tuple[str, str, int], ...]  # (linked slug, system name, access rank)

    def union(self) -> dict[str, int]:
        reach = dict(self.own)
        for _slug, name, rank in self.linked:
            key = name.casefold()
            reach[key] = max(reach.get(key, 0), rank)
        return reach


def reach_of(agent: Agent) -> Reach:
    inventory = decisions.inventory_answers(agent)
    own: dict[str, int] = {}
    for system in inventory["systems"]:
        key = system["name"].casefold()
        own[key] = max(own.get(key, 0), _RANK[system["access"]])
    linked = tuple(
        (other["slug"], system["name"], _RANK[system["access"]])
        for other in inventory["linked_agents"]
        for system in other["systems"]
    )
    return Reach(own=own, linked=linked)


def reach_raises(before: Reach, after: Reach) -> list[str]:
    """What the agent now reaches through its linked agents that it did not reach, or
    reached at a lower access level, before: "bank-api (admin) through payments-agent".

    Only reach gained through links counts: the agent's own systems trigger reviews on
    their own rules (write or admin access added or raised)."""
    was = before.union()
    raised: dict[str, tuple[str, int, list[str]]] = {}
    for slug, name, rank in after.linked:
        key = name.casefold()
        if rank <= was.get(key, 0):
            continue
        current = raised.get(key)
        if current is None or rank > current[1]:
            raised[key] = (name, rank, [slug])
        elif rank == current[1] and slug not in current[2]:
            current[2].append(slug)
    return [
        f"{name} ({_ACCESS_NAME[rank]}) through {', '.join(sorted(slugs))}"
        for name, rank, slugs in sorted(raised.values(), key=lambda row: row[0].casefold())
    ]


# --------------------------------------------------------------------------- the queue


def queue_reviews(today: dt.date | None = None, within_days: int = QUEUE_DAYS) -> ReviewQuerySet:
    """The queue with everything a row shows, in a constant number of queries."""
    today = today or timezone.localdate()
    return for_rows(Review.objects.in_queue(within_days, today), today)


def for_rows(reviews: ReviewQuerySet, today: dt.date) -> ReviewQuerySet:
    """Add what a queue row shows: its state, agent, team, owner and assignee, without a
    query per row (the page reads its agents' assessments in progress in one more
    query: ``rows.queue_rows``)."""
    mode = models.FETCH_RAISE if settings.STRICT_FETCH else models.FETCH_PEERS
    return (
        reviews.with_state(today)
        .select_related("agent", "agent__team", "agent__owner", "assignee")
        .only(*ROW_FIELDS)
        .fetch_mode(mode)
    )


# What a queue row, a queue item (``queue_item``) and the API read of a review; the
# agents' and people's other columns (an agent's purpose, a person's password hash...)
# are not read for each of the 50 rows.
ROW_FIELDS = (
    "agent_id",
    "state",
    "due_on",
    "reasons",
    "triggered_at",
    "assignee_id",
    "created_at",
    "closed_at",
    "lock_version",
    "agent__name",
    "agent__slug",
    "agent__status",
    "agent__current_classification",
    "agent__current_tier",
    "agent__team_id",
    "agent__owner_id",
    "agent__team__name",
    "agent__team__slug",
    "agent__owner__username",
    "agent__owner__first_name",
    "agent__owner__last_name",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)


# The keys of a QueueFilterForm's data that narrow the queue (``filter_queue``); the
# state, sort and page do not change the queue's counts.
QUEUE_FILTERS = ("tier", "classification", "team", "owner", "assignee", "reason")


def filter_queue(queue: ReviewQuerySet, data: dict[str, Any], user: Any) -> ReviewQuerySet:
    """The queue narrowed by a valid QueueFilterForm's data (the page and the API)."""
    if data.get("tier"):
        queue = queue.filter(agent__current_tier=data["tier"])
    if data.get("classification") == "unassessed":
        queue = queue.filter(agent__current_classification="")
    elif data.get("classification"):
        queue = queue.filter(agent__current_classification=data["classification"])
    if data.get("team"):
        queue = queue.filter(agent__team=data["team"])
    if data.get("owner"):
        queue = queue.filter(agent__owner=data["owner"])
    assignee = data.get("assignee")
    if assignee == "me":
        queue = queue.filter(assignee=user)
    elif assignee == "none":
        queue = queue.filter(assignee__isnull=True)
    elif assignee:
        queue = queue.filter(assignee__username=assignee)
    if data.get("reason"):
        queue = with_reason_code(queue, data["reason"])
    return queue


SORTS: dict[str, tuple[str, list[Any]]] = {
    "due": ("Due date, earliest first", [F("due_on").asc(), F("agent__name").asc()]),
    "-due": ("Due date, latest first", [F("due_on").desc(), F("agent__name").asc()]),
    "tier": (
        "Tier, highest first",
        [F("agent__current_tier").desc(nulls_last=True), F("due_on").asc()],
    ),
}


def sort_queue(reviews: ReviewQuerySet, sort: str) -> ReviewQuerySet:
    _label, order = SORTS.get(sort) or SORTS["due"]
    return reviews.order_by(*order, "pk")


def state_counts(reviews: ReviewQuerySet, today: dt.date) -> dict[str, int]:
    """Overdue, triggered and due counts in one query, as ``ReviewQuerySet.with_state``
    defines them: overdue first (a triggered review past its due date stays overdue),
    so the states partition the queue. ``triggered_overdue`` counts the overlap."""
    late = Q(due_on__lt=today)
    triggered = Q(triggered_at__isnull=False)
    counts = reviews.aggregate(
        overdue=models.Count("pk", filter=late),
        triggered=models.Count("pk", filter=triggered & ~late),
        due=models.Count("pk", filter=~triggered & ~late),
        triggered_overdue=models.Count("pk", filter=triggered & late),
    )
    counts["total"] = counts["overdue"] + counts["triggered"] + counts["due"]
    return counts


def queue_item(review: Review, today: dt.date) -> dict[str, Any]:
    """One queue row as plain data (for the CLI and JSON)."""
    agent = review.agent
    return {
        "agent": agent.slug,
        "name": agent.name,
        "classification": agent.current_classification or None,
        "tier": agent.current_tier,
        "team": agent.team.slug,
        "owner": agent.owner.get_username(),
        "due_on": review.due_on.isoformat(),
        "days_overdue": max((today - review.due_on).days, 0),
        "overdue_since": review.due_on.isoformat() if review.due_on < today else None,
        "state": getattr(review, "queue_state", None) or state_of(review, today),
        "triggered": review.triggered_at is not None,
        "reasons": [
            {"code": r.get("code"), "detail": r.get("detail"), "at": r.get("at")}
            for r in review.reasons
        ],
        "assignee": review.assignee.get_username() if review.assignee else None,
        "lock_version": review.lock_version,
        "url": settings.SITE_URL + agent.get_absolute_url(),
    }


def state_of(review: Review, today: dt.date) -> str:
    """``ReviewQuerySet.with_state`` for one review already in memory."""
    if review.due_on < today:
        return "overdue"
    return "triggered" if review.triggered_at is not None else "due"


@dataclass(frozen=True)
class OverdueDecision:
    """A kept report handed out while the review of its decision is overdue."""

    due_on: dt.date
    days: int

    @property
    def sentence(self) -> str:
        plural = "s" if self.days != 1 else ""
        return (
            f"Review overdue since {self.due_on:%-d %b %Y} ({self.days} day{plural}): "
            "this decision has not been re-checked on time."
        )


def overdue_decision(assessment: Assessment | None, today: dt.date) -> OverdueDecision | None:
    """Whether the review of ``assessment``'s decision is overdue: it is the agent's
    latest approved version and the agent's open review fell due before ``today``
    (``Review.objects.overdue``). Older versions are superseded, not overdue. Two
    queries at most."""
    if assessment is None or assessment.status != Assessment.Status.APPROVED:
        return None
    superseded = (
        Assessment.objects.approved()
        .filter(agent_id=assessment.agent_id, number__gt=assessment.number)
        .exists()
    )
    if superseded:
        return None
    due_on = (
        Review.objects.overdue(today)
        .filter(agent_id=assessment.agent_id)
        .order_by("due_on")
        .values_list("due_on", flat=True)
        .first()
    )
    if due_on is None:
        return None
    return OverdueDecision(due_on=due_on, days=(today - due_on).days)
