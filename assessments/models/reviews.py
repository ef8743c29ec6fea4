"""Reviews: why an agent's class must be looked at again, and when."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .assessments import Assessment
from .base import PortfolioQuerySet
from .inventory import Agent

User = settings.AUTH_USER_MODEL


class ReviewQuerySet(PortfolioQuerySet["Review"]):
    def open(self) -> ReviewQuerySet:
        return self.filter(state=Review.State.OPEN)

    def overdue(self, today: dt.date | None = None) -> ReviewQuerySet:
        today = today or timezone.localdate()
        return self.open().filter(due_on__lt=today)

    def due(self, within_days: int = 30, today: dt.date | None = None) -> ReviewQuerySet:
        today = today or timezone.localdate()
        return self.open().filter(
            due_on__gte=today, due_on__lte=today + dt.timedelta(days=within_days)
        )

    def triggered(self) -> ReviewQuerySet:
        return self.open().filter(triggered_at__isnull=False)

    # -- reviews: the reassessment queue
    def in_queue(self, within_days: int = 30, today: dt.date | None = None) -> ReviewQuerySet:
        """Open reviews of active agents that need work: triggered by a change, overdue,
        or due within ``within_days``."""
        today = today or timezone.localdate()
        return self.open().filter(
            Q(triggered_at__isnull=False) | Q(due_on__lte=today + dt.timedelta(days=within_days)),
            agent__status=Agent.Status.ACTIVE,
        )

    def with_state(self, today: dt.date | None = None) -> ReviewQuerySet:
        """Annotate ``queue_state``: overdue (its due date, the earliest open reason, has
        passed: a trigger never hides that), else triggered (a change asked for it), else
        due. One state per review, so the counts partition the queue; ``is_triggered``
        keeps the second reason of an overdue review that a change also triggered."""
        today = today or timezone.localdate()
        return self.annotate(
            queue_state=models.Case(
                models.When(due_on__lt=today, then=models.Value("overdue")),
                models.When(triggered_at__isnull=False, then=models.Value("triggered")),
                default=models.Value("due"),
                output_field=models.CharField(),
            ),
            is_triggered=models.ExpressionWrapper(
                Q(triggered_at__isnull=False), output_field=models.BooleanField()
            ),
        )


class Review(models.Model):
    """The scheduled or triggered reassessment of an agent."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="reviews")
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    due_on = models.DateField()
    # [{"code": "system_write_access", "detail": "...", "at": iso-datetime}, ...]
    reasons = models.JSONField(default=list, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="assigned_reviews"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by_assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Raised by every assignment: an assignment names the version its page showed, so a
    # stale page cannot reassign silently (actions.assign_reviews).
    lock_version = models.PositiveIntegerField(default=0)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["due_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(state="open"),
                name="one_open_review_per_agent",
            )
        ]
        indexes = [models.Index(fields=["state", "due_on"])]

    def __str__(self) -> str:
        return f"Review of {self.agent} due {self.due_on}"
