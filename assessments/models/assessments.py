"""Assessments (drafts, submissions, approved records) and the exceptions granted on their gaps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .base import ImmutableRecordError, PortfolioQuerySet, end_of_day
from .catalogue import CatalogueVersion
from .choices import Classification, Tier
from .inventory import Agent
from .records import AuditEvent

User = settings.AUTH_USER_MODEL


class AssessmentQuerySet(PortfolioQuerySet["Assessment"]):
    """The assessment states every surface counts: one definition each.

    Bulk ``update()`` and ``delete()`` refuse to touch approved assessments, as the
    model and the database triggers do: the check reads the stored rows."""

    def update(self, **kwargs: Any) -> int:
        if self.filter(status=Assessment.Status.APPROVED).exists():
            raise ImmutableRecordError("Approved assessments are immutable.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(status=Assessment.Status.APPROVED).exists():
            raise ImmutableRecordError("Approved assessments cannot be deleted.")
        return super().delete()

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def open(self) -> AssessmentQuerySet:
        return self.filter(status__in=Assessment.OPEN_STATUSES)

    def approved(self) -> AssessmentQuerySet:
        return self.filter(status=Assessment.Status.APPROVED)

    def pending_decision(self) -> AssessmentQuerySet:
        """Submitted and awaiting a reviewer's decision."""
        return self.filter(status=Assessment.Status.SUBMITTED)

    def returned(self) -> AssessmentQuerySet:
        """Returned to the assessor by a reviewer."""
        return self.filter(status=Assessment.Status.RETURNED)

    def in_draft(self) -> AssessmentQuerySet:
        """Started and never submitted."""
        return self.filter(status=Assessment.Status.DRAFT)

    def latest_approved(self, as_of: dt.datetime | None = None) -> AssessmentQuerySet:
        """Each agent's latest approved version (as it stood at ``as_of``, if given)."""
        later = Assessment.objects.approved().filter(
            agent_id=models.OuterRef("agent_id"), number__gt=models.OuterRef("number")
        )
        approved = self.approved()
        if as_of is not None:
            later = later.filter(decided_at__lte=as_of)
            approved = approved.filter(decided_at__lte=as_of)
        return approved.exclude(models.Exists(later))

    # -- the inboxes: the same states, as each person sees their own
    def awaiting_decision(self) -> AssessmentQuerySet:
        """Pending a decision, oldest first: a reviewer's work."""
        return self.pending_decision().order_by("submitted_at", "pk")

    def returned_to(self, user: Any) -> AssessmentQuerySet:
        """Returned assessments ``user`` started or submitted: theirs to fix."""
        return self.returned().filter(Q(assessor=user) | Q(submitted_by=user))

    def drafts_of(self, user: Any) -> AssessmentQuerySet:
        """Drafts ``user`` started."""
        return self.in_draft().filter(assessor=user)


class Assessment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        RETURNED = "returned", "Returned"

    OPEN_STATUSES = (Status.DRAFT, Status.SUBMITTED, Status.RETURNED)
    EDITABLE_STATUSES = (Status.DRAFT, Status.RETURNED)

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="assessments")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    questionnaire_version = models.CharField(max_length=16)
    catalogue = models.ForeignKey(
        CatalogueVersion, on_delete=models.PROTECT, related_name="assessments"
    )
    answers = models.JSONField(default=dict, blank=True)
    # The engine's result, frozen at submission (live for drafts, computed on demand).
    result = models.JSONField(null=True, blank=True)
    classification = models.CharField(max_length=32, choices=Classification.choices, blank=True)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, null=True, blank=True)
    current_step = models.CharField(max_length=32, blank=True)
    lock_version = models.PositiveIntegerField(default=0)
    # The draft's version at which each answer was last written, so that a write from an
    # older page is refused only for the questions that changed since it loaded.
    answer_versions = models.JSONField(default=dict, blank=True)
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assessor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="assessments")
    submitted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewer = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="reviewed_assessments"
    )
    review_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    next_review_on = models.DateField(null=True, blank=True)
    # The agent as it stood when the assessment was approved (name, purpose, owner, team,
    # platform, environments): what its kept report states, whatever changes later.
    inventory_at_approval = models.JSONField(null=True, blank=True, editable=False)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["agent", "-number"]
        constraints = [
            models.UniqueConstraint("agent", "number", name="unique_assessment_number"),
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(status__in=["draft", "submitted", "returned"]),
                name="one_open_assessment_per_agent",
                violation_error_message="This agent already has an assessment in progress.",
            ),
        ]
        permissions = [("review_assessment", "Can review, approve or return assessments")]
        indexes = [
            # The navigation badge and the reviewer's tray (awaiting a decision, oldest
            # first) and the assessor's trays, without reading every assessment.
            models.Index(fields=["status", "submitted_at"]),
            models.Index(fields=["status", "decided_at"]),
            models.Index(fields=["assessor", "status"]),
            # The catalogue's versions with their counts, from the index alone.
            models.Index(fields=["catalogue", "status"]),
            # Each agent's latest approved version (``latest_approved``): one index seek
            # per version instead of reading it (1.5 s to 0.1 s at 100,000 agents).
            models.Index(fields=["status", "agent", "number"], name="assessment_latest_approved"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Approved records never change; the database refuses too (migrations 0002, 0030).
        # The stored status decides, not the one in memory.
        if self.pk and self._stored_as_approved():
            raise ImmutableRecordError(f"{self} is approved and cannot change.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("assessments:assessment_detail", args=[self.agent.slug, self.number])

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.status == self.Status.APPROVED or (self.pk and self._stored_as_approved()):
            raise ImmutableRecordError(f"{self} is approved and cannot be deleted.")
        return super().delete(*args, **kwargs)

    def _stored_as_approved(self) -> bool:
        return Assessment.objects.filter(pk=self.pk, status=self.Status.APPROVED).exists()

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED

    def answerer_ids(self) -> set[int]:
        """Everyone who saved an answer of this version. Read from the audit log, which
        is append-only and hash-chained, so nobody can remove themselves from it."""
        return set(
            AuditEvent.objects.for_object(self)
            .filter(verb="assessment.answer", actor__isnull=False)
            .values_list("actor_id", flat=True)
            .distinct()
        )


class ExceptionQuerySet(PortfolioQuerySet["GapException"]):
    def of_active_agents(self) -> ExceptionQuerySet:
        """Of agents still active: the (few) agents no longer active are left out, which
        at 100,000 agents takes PostgreSQL half the time of joining every agent."""
        retired = Agent.objects.exclude(status=Agent.Status.ACTIVE).order_by().values("pk")
        return self.exclude(agent__in=retired)

    def active(self, on: dt.date | None = None) -> ExceptionQuerySet:
        on = on or timezone.localdate()
        return self.filter(revoked_at__isnull=True, expires_on__gte=on)

    def superseded(self) -> ExceptionQuerySet:
        """Exceptions renewed by a later one for the same agent and subject."""
        return self.filter(self._later_exists())

    def not_superseded(self) -> ExceptionQuerySet:
        """The latest exception per agent and subject (a renewal supersedes the older)."""
        return self.exclude(self._later_exists())

    @staticmethod
    def _later_exists() -> models.Exists:
        return models.Exists(
            GapException.objects.filter(
                agent=models.OuterRef("agent"),
                subject=models.OuterRef("subject"),
                pk__gt=models.OuterRef("pk"),
            )
        )

    def in_force(self, on: dt.date | None = None) -> ExceptionQuerySet:
        """The exceptions that count: the latest per agent and subject, not revoked and
        not expired on ``on``. A superseded one never counts, even if it runs longer."""
        return self.not_superseded().active(on)

    def in_force_as_of(self, day: dt.date) -> ExceptionQuerySet:
        """The exceptions that counted at the end of a past ``day``, from the records:
        accepted by then, not yet revoked then, not expired, and not yet renewed then."""
        end = end_of_day(day)
        renewed = GapException.objects.filter(
            agent=models.OuterRef("agent"),
            subject=models.OuterRef("subject"),
            pk__gt=models.OuterRef("pk"),
            created_at__lte=end,
        )
        return (
            self.filter(created_at__lte=end, expires_on__gte=day)
            .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=end))
            .exclude(models.Exists(renewed))
        )

    def expiring(self, on: dt.date | None = None, within_days: int = 30) -> ExceptionQuerySet:
        """Exceptions in force that expire within ``within_days`` of ``on``."""
        on = on or timezone.localdate()
        return self.in_force(on).filter(expires_on__lte=on + dt.timedelta(days=within_days))

    def expired_unprocessed(self, on: dt.date | None = None) -> ExceptionQuerySet:
        on = on or timezone.localdate()
        return self.filter(revoked_at__isnull=True, expires_on__lt=on, expiry_processed_at=None)


class GapException(models.Model):
    """A reviewer's time-boxed acceptance of a control gap or blocking flag."""

    MAX_DAYS = 365

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="exceptions")
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="exceptions")
    # A control id (e.g. AIC-05) or a flag id (e.g. audit_gap).
    subject = models.CharField(max_length=64)
    reason = models.TextField()
    expires_on = models.DateField()
    accepted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expiry_processed_at = models.DateTimeField(null=True, blank=True)

    objects = ExceptionQuerySet.as_manager()

    class Meta:
        ordering = ["expires_on"]
        verbose_name = "exception"

    def __str__(self) -> str:
        from assessments.engine.terms import FLAG_TITLES

        return (
            f"{FLAG_TITLES.get(self.subject, self.subject)} on {self.agent} until {self.expires_on}"
        )

    def is_active(self, on: dt.date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.revoked_at is None and self.expires_on >= on
