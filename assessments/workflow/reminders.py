"""Review reminders: who is owed which reminder, never twice for the same review and
threshold.

A review is reminded at the smallest threshold it has reached: 30, 7 or 1 days before
its due date, then once when it is overdue. A run that missed a day still catches up,
because a threshold counts as reached from its day until the next one. The person is
the review's assignee, else the agent's owner. ``ReminderLog`` holds what was sent.
The reminders travel in each person's daily digest (``assessments.workflow.notifications``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.urls import reverse

from assessments.access import foreign
from assessments.models import Agent, Assessment, ReminderLog, Review
from assessments.workflow.reviews import HORIZON_DAYS, threshold_for

_ORDER = {"overdue": 0, "1": 1, "7": 2, "30": 3}


@dataclass
class Item:
    review: Review
    threshold: str
    days: int  # days left; negative when overdue
    as_assignee: bool
    report_number: int | None = None  # the agent's latest approved version, if any
    # The agents its recipient may not read (slug -> name) that its reasons may name.
    hidden: dict[str, str] = field(default_factory=dict)

    @property
    def report_url(self) -> str:
        if self.report_number is None:
            return ""
        agent = self.review.agent
        return settings.SITE_URL + reverse(
            "assessments:assessment_report", args=[agent.slug, self.report_number]
        )

    @property
    def when(self) -> str:
        if self.days < 0:
            n = -self.days
            return f"overdue by {n} day{'s' if n != 1 else ''}"
        if self.days == 0:
            return "due today"
        if self.days == 1:
            return "due tomorrow"
        return f"due in {self.days} days"

    @property
    def url(self) -> str:
        return settings.SITE_URL + self.review.agent.get_absolute_url()

    @property
    def reasons(self) -> list[str]:
        reasons = foreign.redact_named(self.review.reasons, self.hidden)
        return [r.get("detail", "") for r in reasons]


@dataclass
class Reminder:
    recipient: Any
    items: list[Item] = field(default_factory=list)

    @property
    def overdue(self) -> list[Item]:
        return [i for i in self.items if i.threshold == "overdue"]

    @property
    def upcoming(self) -> list[Item]:
        return [i for i in self.items if i.threshold != "overdue"]

    def subject(self) -> str:
        parts = []
        if self.overdue:
            parts.append(f"{len(self.overdue)} overdue")
        if self.upcoming:
            parts.append(f"{len(self.upcoming)} due soon")
        noun = "review" if len(self.items) == 1 else "reviews"
        return f"Reclassification {noun}: {', '.join(parts)}"


def pending(today: dt.date) -> tuple[list[Reminder], list[tuple[Review, str]]]:
    """Who is owed which reminders today, and reviews nobody can be reminded of."""
    due = list(
        Review.objects.open()
        .filter(
            agent__status=Agent.Status.ACTIVE, due_on__lte=today + dt.timedelta(days=HORIZON_DAYS)
        )
        .select_related("agent", "agent__owner", "agent__team", "assignee")
        .annotate(
            report_number=Subquery(
                Assessment.objects.approved()
                .filter(agent_id=OuterRef("agent_id"))
                .order_by("-number")
                .values("number")[:1]
            )
        )
        .order_by("due_on", "pk")
    )
    sent = set(
        ReminderLog.objects.filter(review__in=[r.pk for r in due]).values_list(
            "review_id", "recipient_id", "threshold"
        )
    )
    by_person: dict[int, Reminder] = {}
    skipped: list[tuple[Review, str]] = []
    for review in due:
        threshold = threshold_for(review.due_on, today)
        if threshold is None:
            continue
        person = review.assignee or review.agent.owner
        if (review.pk, person.pk, threshold) in sent:
            continue
        if not person.is_active or not person.email:
            skipped.append((review, f"{person.get_username()} has no active e-mail address"))
            continue
        reminder = by_person.setdefault(person.pk, Reminder(recipient=person))
        reminder.items.append(
            Item(
                review=review,
                threshold=threshold,
                days=(review.due_on - today).days,
                as_assignee=review.assignee_id is not None,
                report_number=review.report_number,  # type: ignore[attr-defined]
            )
        )
    reminders = sorted(by_person.values(), key=lambda r: r.recipient.get_username())
    for reminder in reminders:
        reminder.items.sort(key=lambda i: (_ORDER[i.threshold], i.review.due_on))
        hidden = foreign.unreadable_named(
            reminder.recipient, [i.review.reasons for i in reminder.items]
        )
        for item in reminder.items:
            item.hidden = hidden
    return reminders, skipped
