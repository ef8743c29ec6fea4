"""Review reminders: one e-mail per person, never twice for the same review and threshold.

A review is reminded at the smallest threshold it has reached: 30, 7 or 1 days before
its due date, then once when it is overdue. A run that missed a day still catches up,
because a threshold counts as reached from its day until the next one. The person is
the review's assignee, else the agent's owner. ``ReminderLog`` holds what was sent;
the log rows and the e-mail go together (the rows roll back if sending fails).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from assessments import actions, reviews
from assessments.models import Agent, Assessment, ReminderLog, Review

logger = logging.getLogger(__name__)

# Threshold labels, smallest first: the first that covers the days left applies.
THRESHOLDS: tuple[tuple[str, int], ...] = (("1", 1), ("7", 7), ("30", 30))
HORIZON_DAYS = THRESHOLDS[-1][1]
_ORDER = {"overdue": 0, "1": 1, "7": 2, "30": 3}


def threshold_for(due_on: dt.date, today: dt.date) -> str | None:
    if due_on < today:
        return "overdue"
    days = (due_on - today).days
    for label, limit in THRESHOLDS:
        if days <= limit:
            return label
    return None


@dataclass
class Item:
    review: Review
    threshold: str
    days: int  # days left; negative when overdue
    as_assignee: bool
    report_number: int | None = None  # the agent's latest approved version, if any

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
        return [r.get("detail", "") for r in self.review.reasons]


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

    def message(self) -> EmailMultiAlternatives:
        context = {
            "recipient": self.recipient,
            "name": reviews.person(self.recipient),
            "overdue": self.overdue,
            "upcoming": self.upcoming,
            "queue_url": settings.SITE_URL + reverse("assessments:queue"),
            "feeds_url": settings.SITE_URL + reverse("assessments:calendar_feeds"),
        }
        text = render_to_string("assessments/email/review_reminders.txt", context)
        html = render_to_string("assessments/email/review_reminders.html", context)
        message = EmailMultiAlternatives(
            subject=self.subject(), body=text, to=[self.recipient.email]
        )
        message.attach_alternative(html, "text/html")
        return message


@dataclass
class Outcome:
    reminders: list[Reminder]
    sent: list[Reminder] = field(default_factory=list)
    failed: list[tuple[Reminder, str]] = field(default_factory=list)
    skipped: list[tuple[Review, str]] = field(default_factory=list)


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
                report_number=review.report_number,
            )
        )
    reminders = sorted(by_person.values(), key=lambda r: r.recipient.get_username())
    for reminder in reminders:
        reminder.items.sort(key=lambda i: (_ORDER[i.threshold], i.review.due_on))
    return reminders, skipped


def send_reminders(*, now: dt.datetime | None = None, dry_run: bool = False) -> Outcome:
    """Send today's reminders (or, with ``dry_run``, only work out what they would be)."""
    now = now or timezone.now()
    reminders, skipped = pending(timezone.localdate(now))
    outcome = Outcome(reminders=reminders, skipped=skipped)
    if dry_run:
        return outcome
    mailer = mailers.default
    for reminder in reminders:
        items = [(item.review, item.threshold) for item in reminder.items]
        try:
            with transaction.atomic():
                actions.record_reminders(reminder.recipient, items, now=now)
                mailer.send_messages([reminder.message()])
        except IntegrityError:
            # Another run sent these at the same moment: nothing to do.
            continue
        except Exception as error:  # one bad address must not stop the others
            logger.exception("Review reminder to %s failed", reminder.recipient.get_username())
            outcome.failed.append((reminder, str(error)))
            continue
        outcome.sent.append(reminder)
    return outcome
