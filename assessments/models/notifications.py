"""Notifications, reminders, e-mail preferences and calendar feeds."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .inventory import Agent, Team
from .reviews import Review

User = settings.AUTH_USER_MODEL


class ReminderLog(models.Model):
    """One reminder sent for one review, person and threshold: never sent twice."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="reminders")
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    threshold = models.CharField(max_length=16)  # "30", "7", "1" or "overdue"
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "review", "recipient", "threshold", name="one_reminder_per_threshold"
            )
        ]

    def __str__(self) -> str:
        return f"Reminder ({self.threshold}) for {self.review_id} to {self.recipient_id}"


class EmailChoice(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately, one e-mail each"
    DAILY = "daily", "Once a day, in one digest"
    OFF = "off", "Never: only in the app"


class NotificationPreference(models.Model):
    """How a person wants to be e-mailed. No row means the default (immediately)."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.CharField(
        max_length=16, choices=EmailChoice.choices, default=EmailChoice.IMMEDIATE
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: e-mail {self.email}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def awaiting(self) -> NotificationQuerySet:
        """ "… awaits your decision" notices whose assessment still awaits one."""
        return self.filter(kind=Notification.Kind.SUBMITTED, resolved_at__isnull=True)

    def for_digest(self) -> NotificationQuerySet:
        """Waiting for the next daily digest."""
        return self.filter(email_state=Notification.EmailState.DIGEST)


class Notification(models.Model):
    """Something a person should know about: shown in the app, and e-mailed as they chose."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Assessment submitted"
        RETURNED = "returned", "Assessment returned"
        APPROVED = "approved", "Assessment approved"
        EXCEPTION_EXPIRING = "exception_expiring", "Exception expiring"
        REVIEW_DUE = "review_due", "Review due"
        OWNER_LEFT = "owner_left", "Owner left"
        CERTIFICATION = "certification", "Access to certify"
        CERTIFICATION_OVERDUE = "certification_overdue", "Access certification overdue"

    class EmailState(models.TextChoices):
        QUEUED = "queued", "Being e-mailed on its own"
        DIGEST = "digest", "Waiting for the daily digest"
        SENT = "sent", "E-mailed"
        NOT_SENT = "not_sent", "Not e-mailed (no e-mail chosen, or no address)"

    class Resolution(models.TextChoices):
        APPROVED = "approved", "Approved"
        RETURNED = "returned", "Returned"
        WITHDRAWN = "withdrawn", "Withdrawn"
        SUPERSEDED = "superseded", "Submitted again"

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # What a submission notice asks a decision on; once decided, returned, withdrawn or
    # superseded, the notice is resolved (done, read) with who did it and when. A soft
    # link (no database constraint): a notice is history, and never holds up the records'
    # own guards, a restore's row order or a deleted draft.
    assessment = models.ForeignKey(
        "Assessment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    # Set for the notices the daily job creates, so a rerun never repeats one.
    dedupe_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(
        max_length=16, choices=EmailState.choices, default=EmailState.DIGEST
    )
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at"]),
            models.Index(fields=["email_state", "recipient"]),
        ]
        constraints = [
            models.UniqueConstraint(
                "recipient",
                "dedupe_key",
                condition=~Q(dedupe_key=""),
                name="one_notification_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient_id}: {self.title}"


class CalendarFeed(models.Model):
    """A secret iCalendar feed URL. Only a hash of its token is stored."""

    class Scope(models.TextChoices):
        MINE = "mine", "My reviews"
        TEAM = "team", "Team reviews"

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="calendar_feeds")
    scope = models.CharField(max_length=8, choices=Scope.choices)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} feed of {self.owner_id}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
