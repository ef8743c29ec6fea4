"""E-mail for notifications, through the default mailer (Django 6.1 ``MAILERS``).

- People who chose *immediately* get one e-mail per notification, sent by the
  background task ``send_notification_emails`` once the action's transaction commits.
- The daily job (``send_review_reminders``, the command and the task) announces
  exceptions running out, then sends each person ONE digest: their reviews due soon or
  overdue, and every notification still waiting for a digest. People who chose no
  e-mail get the same notices in the app only.

A notification is e-mailed at most once: it is marked sent in the transaction that
sends it, and the mark rolls back if sending fails (the next run tries again). Every
value placed in a subject or body is one line (``presentation.one_line``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from assessments import actions
from assessments.models import EmailChoice, GapException, Notification
from assessments.presentation import one_line
from assessments.workflow import reminders, reviews

logger = logging.getLogger(__name__)


def _absolute(url: str) -> str:
    return settings.SITE_URL + url if url.startswith("/") else url


def _links() -> dict[str, str]:
    return {
        "notifications_url": settings.SITE_URL + reverse("assessments:notification_list"),
        "preferences_url": settings.SITE_URL + reverse("assessments:notification_preferences"),
        "queue_url": settings.SITE_URL + reverse("assessments:queue"),
        "feeds_url": settings.SITE_URL + reverse("assessments:calendar_feeds"),
    }


def _message(recipient: Any, subject: str, template: str, context: dict[str, Any]) -> Any:
    context = {"name": one_line(reviews.person(recipient)), **_links(), **context}
    text = render_to_string(f"assessments/email/{template}.txt", context)
    html = render_to_string(f"assessments/email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=one_line(subject)[:200], body=text, to=[recipient.email]
    )
    message.attach_alternative(html, "text/html")
    return message


# --------------------------------------------------------------------------- immediate


def notification_message(notification: Notification) -> Any:
    return _message(
        notification.recipient,
        notification.title,
        "notification",
        {"notification": notification, "link": _absolute(notification.url)},
    )


def send_immediate(notification_ids: list[int], *, now: dt.datetime | None = None) -> int:
    """E-mail each queued notification on its own; returns how many were sent. A
    notification whose recipient has since chosen the digest (or no e-mail) follows
    that choice; one that cannot be sent now goes in the next digest."""
    now = now or timezone.now()
    queued = list(
        Notification.objects.filter(
            pk__in=notification_ids, email_state=Notification.EmailState.QUEUED
        )
        .select_related("recipient")
        .order_by("pk")
    )
    choices = actions.email_choices({n.recipient_id for n in queued})
    sent = 0
    for notification in queued:
        choice = choices[notification.recipient_id]
        if choice != EmailChoice.IMMEDIATE or not notification.recipient.email:
            state = (
                Notification.EmailState.DIGEST
                if choice == EmailChoice.DAILY and notification.recipient.email
                else Notification.EmailState.NOT_SENT
            )
            actions.mark_emailed([notification.pk], state=state, now=now)
            continue
        try:
            with transaction.atomic():
                if not actions.mark_emailed([notification.pk], now=now):
                    continue  # sent meanwhile by another worker
                mailers.default.send_messages([notification_message(notification)])
        except Exception:  # one bad address must not stop the others
            logger.exception("Notification e-mail %s failed", notification.pk)
            actions.mark_emailed([notification.pk], state=Notification.EmailState.DIGEST)
            continue
        sent += 1
    return sent


# --------------------------------------------------------------------------- daily digest


@dataclass
class Digest:
    """What one person is told today: reviews due, and notifications waiting."""

    recipient: Any
    choice: str = EmailChoice.IMMEDIATE
    reminder: reminders.Reminder | None = None
    notices: list[Notification] = field(default_factory=list)

    @property
    def items(self) -> list[reminders.Item]:
        return self.reminder.items if self.reminder else []

    @property
    def emailed(self) -> bool:
        return self.choice != EmailChoice.OFF

    def subject(self) -> str:
        parts = [self.reminder.subject()] if self.reminder and self.reminder.items else []
        if len(self.notices) == 1 and not parts:
            return self.notices[0].title
        if self.notices:
            n = len(self.notices)
            parts.append(f"{n} {'other ' if parts else ''}notification{'s' if n != 1 else ''}")
        return "; ".join(parts)

    def message(self) -> Any:
        return _message(
            self.recipient,
            self.subject(),
            "digest",
            {
                "overdue": self.reminder.overdue if self.reminder else [],
                "upcoming": self.reminder.upcoming if self.reminder else [],
                "notices": [(n, _absolute(n.url)) for n in self.notices],
            },
        )


@dataclass
class Outcome:
    digests: list[Digest]
    expiring: list[tuple[GapException, str]] = field(default_factory=list)
    sent: list[Digest] = field(default_factory=list)
    failed: list[tuple[Digest, str]] = field(default_factory=list)
    skipped: list[tuple[Any, str]] = field(default_factory=list)  # (review, why)

    @property
    def to_email(self) -> list[Digest]:
        return [d for d in self.digests if d.emailed]


def pending_digests(today: dt.date) -> tuple[list[Digest], list[tuple[Any, str]]]:
    """Each person's digest today, and reviews nobody can be reminded of."""
    due, skipped = reminders.pending(today)
    by_person: dict[int, Digest] = {r.recipient.pk: Digest(r.recipient, reminder=r) for r in due}
    waiting = (
        Notification.objects.for_digest()
        .filter(recipient__is_active=True)
        .select_related("recipient")
        .order_by("created_at", "pk")
    )
    for notice in waiting:
        digest = by_person.setdefault(notice.recipient_id, Digest(notice.recipient))
        digest.notices.append(notice)
    choices = actions.email_choices(by_person)
    for pk, digest in by_person.items():
        digest.choice = choices[pk]
    digests = sorted(by_person.values(), key=lambda d: d.recipient.get_username())
    return digests, skipped


def send_daily_digests(*, now: dt.datetime | None = None, dry_run: bool = False) -> Outcome:
    """Announce exceptions running out, then send today's digests (with ``dry_run``,
    only work out what they would be)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    expiring = actions.expiring_notices(today)
    if not dry_run:
        actions.notify_expiring_exceptions(now=now)
    digests, skipped = pending_digests(today)
    outcome = Outcome(digests=digests, expiring=expiring, skipped=skipped)
    if dry_run:
        return outcome
    mailer = mailers.default
    for digest in digests:
        items = [(item.review, item.threshold) for item in digest.items]
        try:
            with transaction.atomic():
                if items:
                    actions.record_reminders(
                        digest.recipient, items, emailed=digest.emailed, now=now
                    )
                if not digest.emailed:
                    continue
                actions.mark_emailed([n.pk for n in digest.notices], now=now)
                mailer.send_messages([digest.message()])
        except IntegrityError:
            # Another run sent these at the same moment: nothing to do.
            continue
        except Exception as error:  # one bad address must not stop the others
            logger.exception("Daily digest to %s failed", digest.recipient.get_username())
            outcome.failed.append((digest, str(error)))
            continue
        outcome.sent.append(digest)
    return outcome
