"""The data the product holds (see ../shared/product.md).

State changes never happen here: they are named functions in ``actions.py`` that
write an audit event in the same transaction. Read filters are QuerySet methods.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse
from django.utils import timezone

User = settings.AUTH_USER_MODEL


class Role(models.TextChoices):
    """Roles are auth groups; each role can do everything the roles before it can."""

    VIEWER = "viewer", "Viewer"
    ASSESSOR = "assessor", "Assessor"
    REVIEWER = "reviewer", "Reviewer"
    ADMINISTRATOR = "administrator", "Administrator"


class Classification(models.TextChoices):
    AGENT_IDENTITY = "agent_identity", "Agent identity"
    MACHINE_IDENTITY = "machine_identity", "Machine identity"


class Tier(models.IntegerChoices):
    BASELINE = 1, "1 · Baseline"
    ELEVATED = 2, "2 · Elevated"
    HIGH = 3, "3 · High"
    CRITICAL = 4, "4 · Critical"


class Access(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"


class CredentialModel(models.TextChoices):
    STATIC_SECRET = "static_secret", "Static secret"
    VAULTED_ROTATED = "vaulted_rotated", "Vaulted and rotated secret"
    WORKLOAD_IDENTITY = "workload_identity", "Workload identity (platform-issued, short-lived)"
    PER_TASK_TOKENS = "per_task_tokens", "Per-task tokens"
    USER_DELEGATED = "user_delegated", "User-delegated"


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    TEST = "test", "Test"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


# --------------------------------------------------------------------------- inventory


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    # Who belongs to the team. A submitted assessment is announced to the team's
    # reviewers when it has any, else to every reviewer.
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        User, blank=True, related_name="teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Fields whose change moves no portfolio figure: a draft's autosave writes only these, so
# it leaves the dashboard's snapshot in place (see PortfolioSnapshot).
PORTFOLIO_QUIET_FIELDS = frozenset(
    {"answers", "answer_versions", "lock_version", "current_step", "updated_at", "created_at"}
)


def portfolio_changed() -> None:
    """Mark the portfolio figures changed; once the transaction commits, their
    recomputation is queued as background work (``assessments.figures``)."""
    from assessments import figures  # figures imports the models

    figures.changed()


class PortfolioQuerySet[M: models.Model](models.QuerySet[M]):
    """A queryset of a model the portfolio figures read (agents, assessments, exceptions,
    reviews): writes that bypass ``save()`` drop the snapshot too."""

    def update(self, **kwargs: Any) -> int:
        changed = super().update(**kwargs)
        if changed and not set(kwargs) <= PORTFOLIO_QUIET_FIELDS:
            portfolio_changed()
        return changed

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[M]:
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            portfolio_changed()
        return created

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        changed = super().bulk_update(objs, fields, *args, **kwargs)
        if changed and not set(fields) <= PORTFOLIO_QUIET_FIELDS:
            portfolio_changed()
        return changed


class AgentQuerySet(PortfolioQuerySet["Agent"]):
    def active(self) -> AgentQuerySet:
        return self.filter(status=Agent.Status.ACTIVE)

    def for_list(self) -> AgentQuerySet:
        """Agents with their owner, team and systems, in a constant number of queries
        (the API's agent list)."""
        mode = models.FETCH_RAISE if settings.STRICT_FETCH else models.FETCH_PEERS
        return self.select_related("owner", "team").prefetch_related("systems").fetch_mode(mode)

    def for_rows(self) -> AgentQuerySet:
        """Agents with their owner and team, in one query, only the columns a row of the
        agent list page shows; the page reads its rows' systems and assessments in
        progress itself (assessments/rows.py). (Joined by ``select_related``, which a
        count or a list of ids leaves out; an annotation would keep the joins in them.)"""
        mode = models.FETCH_RAISE if settings.STRICT_FETCH else models.FETCH_PEERS
        return (
            self.select_related("owner", "team")
            .only(
                "name",
                "slug",
                "status",
                "current_classification",
                "current_tier",
                "owner__username",
                "owner__first_name",
                "owner__last_name",
                "team__name",
            )
            .fetch_mode(mode)
        )

    def search(self, term: str) -> AgentQuerySet:
        term = term.strip()
        if not term:
            return self
        # The people and the systems that match are found on their own (a few people, one
        # pass over the systems), then each agent is tested once: joining every agent
        # to its owner and to each of its systems first and keeping the distinct ids
        # took tens of milliseconds at 10,000 agents, twice a page (rows and count).
        owners = (
            get_user_model()
            .objects.filter(
                Q(username__icontains=term)
                | Q(first_name__icontains=term)
                | Q(last_name__icontains=term)
                | Q(email__icontains=term)
            )
            .values("pk")
        )
        systems = System.objects.filter(name__icontains=term).values("agent_id")
        return self.filter(
            Q(name__icontains=term)
            | Q(slug__icontains=term)
            | Q(owner__in=owners)
            | Q(pk__in=systems)
        )

    def with_assessment_in(self, assessments: AssessmentQuerySet) -> AgentQuerySet:
        """Agents with an assessment in ``assessments`` (e.g. ``awaiting_decision()``)."""
        return self.filter(pk__in=assessments.order_by().values("agent_id"))

    # -- assessment state (see assessments/portfolio.py for the definitions)
    def _with_open(self, status: str) -> AgentQuerySet:
        return self.filter(
            models.Exists(Assessment.objects.filter(agent=models.OuterRef("pk"), status=status))
        )

    def pending_decision(self) -> AgentQuerySet:
        """Agents whose assessment in progress is submitted and awaits a reviewer."""
        return self._with_open(Assessment.Status.SUBMITTED)

    def returned(self) -> AgentQuerySet:
        """Agents whose assessment in progress was returned to its assessor."""
        return self._with_open(Assessment.Status.RETURNED)

    def in_draft(self) -> AgentQuerySet:
        """Agents whose assessment in progress is a draft (never submitted)."""
        return self._with_open(Assessment.Status.DRAFT)

    def never_started(self) -> AgentQuerySet:
        """Agents with no assessment at all, in any state."""
        return self.exclude(models.Exists(Assessment.objects.filter(agent=models.OuterRef("pk"))))

    def with_assessment_state(self) -> AgentQuerySet:
        """Annotate ``assessment_state``: pending_decision, returned, in_draft (the agent's
        assessment in progress, at most one), else decided (approved, nothing in
        progress), else never_started (no assessment of any state)."""
        # At most one assessment is in progress; ordering by number, not by the model's
        # default (the agent's name), keeps a join to the agents out of the subquery.
        # Its state is worked out inside it, so the database looks it up once per agent
        # (a CASE over an ``open_status`` annotation repeated the subquery each time).
        in_progress = models.Case(
            models.When(status=Assessment.Status.SUBMITTED, then=models.Value("pending_decision")),
            models.When(status=Assessment.Status.RETURNED, then=models.Value("returned")),
            models.When(status=Assessment.Status.DRAFT, then=models.Value("in_draft")),
            output_field=models.CharField(),
        )
        open_ = (
            Assessment.objects.open()
            .filter(agent=models.OuterRef("pk"))
            .order_by("-number")
            .annotate(state=in_progress)
        )
        any_ = Assessment.objects.filter(agent=models.OuterRef("pk"))
        return self.annotate(
            assessment_state=Coalesce(
                models.Subquery(open_.values("state")[:1]),
                models.Case(
                    models.When(models.Exists(any_), then=models.Value("decided")),
                    default=models.Value("never_started"),
                ),
                output_field=models.CharField(),
            ),
        )

    # -- review state
    def with_review_state(self, today: dt.date | None = None) -> AgentQuerySet:
        """Annotate the agent's open review: ``next_review`` (its due date: the earliest
        open reason, so a trigger never postpones it), ``review_triggered`` (a change
        asked for it) and ``review_overdue`` (its due date has passed, triggered or not).
        An agent without an open review has no next review."""
        today = today or timezone.localdate()
        review = Review.objects.open().filter(agent=models.OuterRef("pk"))
        return self.annotate(
            next_review=models.Subquery(review.values("due_on")[:1]),
            review_triggered=models.Exists(review.filter(triggered_at__isnull=False)),
            review_overdue=models.Exists(review.filter(due_on__lt=today)),
        )


class Agent(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=100,
        unique=True,
        help_text="Short identifier used in URLs, manifests and the CLI. Lowercase letters, "
        "numbers and hyphens.",
        error_messages={"unique": "Another agent already uses this slug. Choose a different one."},
        validators=[
            RegexValidator(
                r"\A[a-z0-9_-]+\Z",
                "Use lowercase letters (a to z), numbers and hyphens only.",
                code="invalid_slug",
            )
        ],
    )
    purpose = models.TextField(help_text="What it does and for whom, in a sentence or two.")
    owner = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="owned_agents",
        help_text="The named person accountable for this agent.",
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="agents")
    # The accountable person (Entra Agent ID's "sponsor"): a person, never a service
    # account; the owner when nobody else is named (save()). Owners beyond ``owner`` and
    # the order they succeed in are ``AgentOwner`` rows (assessments/ownership.py).
    sponsor = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sponsored_agents",
        help_text="The accountable person who vouches for this agent and what it may reach.",
    )
    # Set when its owner or sponsor left and no successor was there to take it on;
    # cleared when someone does (actions.take_on_agent).
    orphaned_at = models.DateTimeField(null=True, blank=True)
    # The last time it was seen acting: from evidence or discovery (last used), or
    # recorded by hand. An agent idle for INACTIVE_AGENT_DAYS gets a "Decommission?" review.
    last_activity_on = models.DateField(null=True, blank=True)
    last_activity_source = models.CharField(max_length=120, blank=True)
    environments = models.JSONField(default=list, blank=True)
    platform = models.CharField(
        max_length=120, blank=True, help_text="Where it runs, e.g. Kubernetes, AWS Bedrock Agents."
    )
    credential_model = models.CharField(
        max_length=32,
        choices=CredentialModel.choices,
        blank=True,
        help_text="How it authenticates today. A change here triggers a reclassification review.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Set only by approving an assessment (actions.approve_assessment).
    current_classification = models.CharField(
        max_length=32, choices=Classification.choices, blank=True
    )
    current_tier = models.PositiveSmallIntegerField(choices=Tier.choices, null=True, blank=True)
    next_review_on = models.DateField(null=True, blank=True)
    lock_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["status", "name"]),
            models.Index(fields=["current_classification", "current_tier"]),
            models.Index(fields=["next_review_on"]),
            models.Index(fields=["status", "orphaned_at"], name="agent_orphaned"),
            models.Index(fields=["status", "last_activity_on"], name="agent_last_activity"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.sponsor_id is None:
            self.sponsor_id = self.owner_id  # every path that names an owner names a sponsor
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("assessments:agent_detail", args=[self.slug])

    @property
    def is_retired(self) -> bool:
        return self.status == self.Status.RETIRED

    @property
    def sponsor_or_owner(self) -> Any:
        """The sponsor; an agent created in bulk (``bulk_create`` skips ``save()``) has
        its owner as sponsor until someone names one."""
        return self.sponsor if self.sponsor_id else self.owner


class AgentOwner(models.Model):
    """An owner of an agent beside its primary ``Agent.owner``, in the order they
    succeed: when the owner or the sponsor leaves, the first of these still active
    takes over (``actions.person_left``)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="co_owners")
    person = models.ForeignKey(User, on_delete=models.PROTECT, related_name="co_owned_agents")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["agent", "position"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "person"], name="one_ownership_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} owns {self.agent_id} (#{self.position})"


class System(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="systems")
    name = models.CharField(max_length=120)
    access = models.CharField(max_length=8, choices=Access.choices, default=Access.READ)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "agent",
                Lower("name"),
                name="unique_system_name_per_agent",
                violation_error_message="This agent already has a system with that name.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.access})"


class AgentLink(models.Model):
    """A directed link: ``source`` orchestrates ``target``, or the two are peers."""

    class Kind(models.TextChoices):
        ORCHESTRATES = "orchestrates", "Orchestrates"
        PEER = "peer", "Peer"

    source = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("source", "target", name="unique_agent_link"),
            models.CheckConstraint(
                condition=~Q(source=models.F("target")),
                name="agent_link_not_to_itself",
                violation_error_message="An agent cannot be linked to itself.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"


# --------------------------------------------------------------------------- catalogue


class CatalogueVersion(models.Model):
    """One version of the frameworks, controls and mappings. Assessments keep theirs."""

    version = models.CharField(max_length=32, unique=True)
    is_current = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Touched whenever a framework, item, control or mapping of this version changes,
    # so the engine's compiled copy of it is rebuilt.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="one_current_catalogue"
            )
        ]

    def __str__(self) -> str:
        return f"Catalogue {self.version}"


class Framework(models.Model):
    catalogue = models.ForeignKey(
        CatalogueVersion, on_delete=models.CASCADE, related_name="frameworks"
    )
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=255)
    short_name = models.CharField(max_length=120)
    version = models.CharField(max_length=120, blank=True)
    publisher = models.CharField(max_length=255, blank=True)
    url = models.URLField(blank=True)
    notes = models.JSONField(default=list, blank=True)
    # [{"name": "subcategories", "total": 72}, ...], top level first: the framework's real
    # number of items per level, which coverage is counted out of (portfolio.py).
    levels = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["catalogue", "position"]
        constraints = [
            models.UniqueConstraint("catalogue", "key", name="unique_framework_per_catalogue")
        ]

    def __str__(self) -> str:
        return self.short_name


class FrameworkItem(models.Model):
    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField(max_length=64)
    title = models.TextField()
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["framework", "position"]
        constraints = [
            models.UniqueConstraint("framework", "item_id", name="unique_item_per_framework")
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.title}"


class Control(models.Model):
    catalogue = models.ForeignKey(
        CatalogueVersion, on_delete=models.CASCADE, related_name="controls"
    )
    control_id = models.CharField(max_length=32)
    title = models.CharField(max_length=255)
    description = models.TextField()
    # Conditions are data (see assessments/catalog/catalogue-v1.yaml): lists of clauses.
    applies_when = models.JSONField(default=list)
    in_place_when = models.JSONField(default=list, blank=True)
    gap_when = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["catalogue", "position"]
        constraints = [
            models.UniqueConstraint("catalogue", "control_id", name="unique_control_per_catalogue")
        ]

    def __str__(self) -> str:
        return f"{self.control_id} {self.title}"


class ControlMapping(models.Model):
    control = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="mappings")
    item = models.ForeignKey(FrameworkItem, on_delete=models.CASCADE, related_name="mappings")
    justification = models.CharField(max_length=500)

    class Meta:
        ordering = ["control", "item"]
        constraints = [models.UniqueConstraint("control", "item", name="unique_control_mapping")]

    def __str__(self) -> str:
        return f"{self.control.control_id} -> {self.item.item_id}"


class ReferenceNote(models.Model):
    """A citation in the source guidance that does not exist as written, and what we use."""

    catalogue = models.ForeignKey(
        CatalogueVersion, on_delete=models.CASCADE, related_name="reference_notes"
    )
    cited = models.CharField(max_length=255)
    verdict = models.TextField()
    status = models.CharField(max_length=16, default="invalid")  # invalid | valid
    # [[framework key, item id], ...]: what the catalogue cites instead.
    use = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["catalogue", "position"]

    def __str__(self) -> str:
        return self.cited


class ReviewInterval(models.Model):
    """An administrator's override of a tier's review interval (settings give defaults)."""

    tier = models.PositiveSmallIntegerField(choices=Tier.choices, unique=True)
    days = models.PositiveIntegerField()

    class Meta:
        ordering = ["-tier"]

    def __str__(self) -> str:
        return f"Tier {self.tier}: every {self.days} days"

    def clean(self) -> None:
        if self.days is not None and not 1 <= self.days <= 3650:
            raise ValidationError({"days": "Choose between 1 and 3650 days."})


def review_intervals() -> dict[int, int]:
    """Days between reviews per tier: settings, overridden by administrators' rows."""
    intervals = {int(k): int(v) for k, v in settings.REVIEW_INTERVAL_DAYS.items()}
    intervals.update(dict(ReviewInterval.objects.values_list("tier", "days")))
    return intervals


# --------------------------------------------------------------------------- assessments


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


class ImmutableRecordError(Exception):
    """An attempt to change a record that is immutable by design."""


class ExceptionQuerySet(PortfolioQuerySet["GapException"]):
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
        end = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
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


# --------------------------------------------------------------------------- reviews


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


class PortfolioSnapshot(models.Model):
    """The portfolio-wide figures (assessments/portfolio.py) of one scope, as the database
    last computed them: ``scope`` is "" for the whole portfolio (the dashboard, the queue's
    counts, the catalogue's counts) or "teams:1,4" for a reader limited to those teams.

    No web request computes them. A write to agents, assessments, exceptions or reviews
    (``portfolio_changed``: the model signals in assessments/signals.py and
    ``PortfolioQuerySet``) marks every snapshot changed and queues the background task
    that computes them again (``tasks.refresh_portfolio_figures``); meanwhile readers get
    the last figures, labelled with the time they were computed."""

    scope = models.CharField(max_length=200, unique=True, default="")
    day = models.DateField()  # the day the figures are for (overdue, due within 30 days)
    figures = models.JSONField(null=True, blank=True)  # None: never computed yet
    computed_at = models.DateTimeField(null=True, blank=True)  # when their computation began
    # The first change the figures miss (None: none since their computation began).
    changed_at = models.DateTimeField(null=True, blank=True)
    # A computation queued or under way since then (None: none).
    queued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Portfolio figures ({self.scope or 'whole portfolio'}) of {self.day}"


class ApprovedGap(models.Model):
    """A required control an approved assessment recorded as a gap, read once from its
    engine result (``result.controls``) so the portfolio's open gaps are counted from
    these small rows instead of every result's JSON (assessments/figures.py fills it
    before each computation). An approved assessment never changes, so neither do its
    rows. Each approved assessment read has one row with an empty ``control_id`` too:
    the mark that it was read, gaps or none."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="+")
    control_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "control_id"], name="one_gap_row_per_control"
            )
        ]

    def __str__(self) -> str:
        return f"Gap {self.control_id or '(read)'} of assessment {self.assessment_id}"


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


# --------------------------------------------------------------------------- notifications


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


# --------------------------------------------------------------------------- reports


class ReportRecord(models.Model):
    """A generated PDF: what it was generated from and the hashes that verify it."""

    class Kind(models.TextChoices):
        ASSESSMENT = "assessment", "Assessment report"
        BOARD = "board", "Board pack"
        # OSCAL exports (issue 27): JSON files, recorded and verified like the PDFs.
        OSCAL_RESULTS = "oscal-results", "OSCAL assessment results"
        OSCAL_BOARD = "oscal-board", "OSCAL assessment results of a board pack's scope"
        OSCAL_POAM = "oscal-poam", "OSCAL plan of action and milestones"

    document_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    content_sha256 = models.CharField(max_length=64)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    # Reports of approved assessments are kept, so every download is the same file (for
    # an OSCAL export, its JSON bytes).
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    params = models.JSONField(default=dict, blank=True)
    pages = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.document_id


class BoardPackJob(models.Model):
    """A board pack rendered in the background, with progress the browser can poll."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    report = models.ForeignKey(
        ReportRecord, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Board pack {self.pk} ({self.state})"


# --------------------------------------------------------------------------- accounts & audit


class UserSession(models.Model):
    """Which sessions belong to which user, so disabling an account can end them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Session of {self.user_id}"


class SignInThrottle(models.Model):
    """Sign-in attempts for one (username, address) pair: the lockout's counter and the
    rate limit on auditing failures. Updated only by conditional UPDATEs (throttle.py),
    so parallel attempts cannot slip past the limit."""

    key = models.CharField(max_length=200, unique=True)
    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(default=timezone.now, db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    unreported_failures = models.PositiveIntegerField(default=0)
    failures_reported_at = models.DateTimeField(null=True, blank=True)
    unreported_refusals = models.PositiveIntegerField(default=0)
    refusals_reported_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Sign-in attempts for {self.username} from {self.ip_address}"


class AppendOnlyQuerySet[M: models.Model](models.QuerySet[M]):
    """Rows that are only ever added: bulk ``update()`` and ``delete()`` are refused
    (so are the model's ``save()`` of a stored row and ``delete()``, and the database)."""

    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecordError(f"{self.model._meta.verbose_name_plural} are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError(f"{self.model._meta.verbose_name_plural} are append-only.")

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]


class AuditEventQuerySet(AppendOnlyQuerySet["AuditEvent"]):
    def for_object(self, obj: models.Model) -> AuditEventQuerySet:
        return self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))


class AuditEvent(models.Model):
    """Who did what to which object, when, with the change. Append-only, chained: each
    event's ``hash`` is a MAC (keyed with ``AUDIT_KEY``, named by ``key_id``) over its
    content and the previous event's ``hash``; see ``assessments.audit``."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    verb = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    agent = models.ForeignKey(
        Agent, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # Which audit key made ``hash``; empty for events written before keys (migration
    # 0030), which verify under the legacy unkeyed SHA-256 scheme.
    key_id = models.CharField(max_length=32, blank=True, default="")

    objects = AuditEventQuerySet.as_manager()

    GENESIS = "0" * 64

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        permissions = [("view_audit", "Can view the audit log")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.verb} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableRecordError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableRecordError("Audit events are append-only.")

    def canonical(self) -> str:
        return json.dumps(
            {
                "created_at": self.created_at.astimezone(dt.UTC).isoformat(),
                "actor": self.actor_id,
                "actor_label": self.actor_label,
                "verb": self.verb,
                "object_type": self.object_type,
                "object_id": self.object_id,
                "object_repr": self.object_repr,
                "agent": self.agent_id,
                "changes": self.changes,
                "ip_address": self.ip_address,
                "prev_hash": self.prev_hash,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )

    def unkeyed_hash(self) -> str:
        """The legacy scheme: SHA-256 of the canonical form, no key. Anyone can compute
        it, so it only proves integrity for events anchored by a keyed one after them."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()


# --------------------------------------------------------------------------- evidence


class EvidenceKind(models.TextChoices):
    AWS = "aws", "AWS IAM"
    KUBERNETES = "kubernetes", "Kubernetes RBAC"
    GCP = "gcp", "Google Cloud IAM"
    MCP = "mcp", "MCP client configuration"
    ENTRA = "entra", "Microsoft Entra ID"


class EvidenceUploadQuerySet(models.QuerySet["EvidenceUpload"]):
    def with_counts(self) -> EvidenceUploadQuerySet:
        """Who uploaded, the files (without their bytes) and proposals by decision."""
        return (
            self.select_related("uploaded_by")
            .prefetch_related(
                models.Prefetch("files", queryset=EvidenceFile.objects.defer("content"))
            )
            .annotate(
                pending=models.Count("proposals", filter=Q(proposals__status="pending")),
                accepted=models.Count("proposals", filter=Q(proposals__status="accepted")),
                rejected=models.Count("proposals", filter=Q(proposals__status="rejected")),
            )
        )


class EvidenceUpload(models.Model):
    """Files uploaded together for one agent, analysed together (../shared/evidence.md).

    The files are kept as bytes with their SHA-256; they are parsed as data only, never
    executed, opened as URLs or fetched from."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="evidence_uploads")
    # The draft it was added from (wizard), if any; proposals can be accepted into any draft.
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=EvidenceKind.choices)
    principal = models.CharField(max_length=500, blank=True)
    # Kubernetes: the namespace objects without one were read in (--namespace).
    namespace = models.CharField(max_length=253, blank=True)
    # Sorted SHA-256 of every file: the same evidence uploaded twice has the same key.
    fingerprint = models.CharField(max_length=64)
    # Servers, roles... named in the files, for drift between uploads (kind-specific).
    subjects = models.JSONField(default=list, blank=True)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    objects = EvidenceUploadQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["agent", "kind", "fingerprint"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} evidence for {self.agent} ({self.uploaded_at:%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        return reverse("assessments:evidence_detail", args=[self.agent.slug, self.pk])


class EvidenceJob(models.Model):
    """Evidence files waiting to be analysed in the background, with progress the page
    polls: a large file (or an AWS export, whose IAM action list takes seconds to load)
    never holds a web worker. The files are kept here until the upload is made, then
    dropped; the upload keeps them as every upload does."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="evidence_jobs")
    assessment = models.ForeignKey(
        Assessment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=EvidenceKind.choices)
    principal = models.CharField(max_length=500, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    names = models.JSONField(default=list, blank=True)
    # The uploaded files as one zip (stored, not compressed), until analysed.
    files = models.BinaryField(null=True, blank=True, editable=False)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    upload = models.ForeignKey(
        EvidenceUpload, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    duplicate = models.BooleanField(default=False)
    review_opened = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Evidence analysis {self.pk} ({self.state})"

    def get_absolute_url(self) -> str:
        return reverse("assessments:evidence_job", args=[self.agent.slug, self.pk])

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)


class EvidenceFile(models.Model):
    upload = models.ForeignKey(EvidenceUpload, on_delete=models.PROTECT, related_name="files")
    name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    content = models.BinaryField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class EvidenceProposalQuerySet(models.QuerySet["EvidenceProposal"]):
    def pending(self) -> EvidenceProposalQuerySet:
        return self.filter(status=EvidenceProposal.Status.PENDING)

    def accepted_into(self, assessment: Assessment) -> EvidenceProposalQuerySet:
        """Accepted into ``assessment``, newest first, with what the provenance shows."""
        return (
            self.filter(status=EvidenceProposal.Status.ACCEPTED, assessment=assessment)
            .select_related("upload", "decided_by")
            .prefetch_related("upload__files")
            .order_by("-decided_at", "-id")
        )


class EvidenceProposal(models.Model):
    """One proposed answer; the assessor accepts it (into a draft) or rejects it with a reason."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting a decision"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    upload = models.ForeignKey(EvidenceUpload, on_delete=models.PROTECT, related_name="proposals")
    key = models.CharField(max_length=64)
    value = models.JSONField()
    rule = models.CharField(max_length=64)
    # [{"file", "where", "says"}, ...] as the analyser wrote them
    evidence = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)

    objects = EvidenceProposalQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="rejected_proposal_has_a_reason",
            ),
            models.UniqueConstraint("upload", "key", name="one_proposal_per_key_per_upload"),
        ]

    def __str__(self) -> str:
        return f"{self.key} from {self.upload}"


class AuditCheckpointQuerySet(AppendOnlyQuerySet["AuditCheckpoint"]):
    pass


class AuditCheckpoint(models.Model):
    """A signed statement of how long the audit log was and how it ended: the number of
    events, the last event's id and ``hash``, and the time, signed with the audit key.
    Copies go outside the database too (``AUDIT_CHECKPOINT_DIR``, the log, e-mail), so
    removing the newest events and the checkpoints that counted them is still detected."""

    created_at = models.DateTimeField()
    event_count = models.PositiveBigIntegerField()
    last_event_id = models.PositiveBigIntegerField(null=True, blank=True)
    head = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=64)

    objects = AuditCheckpointQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Audit checkpoint {self.created_at:%Y-%m-%d %H:%M}: {self.event_count} events"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableRecordError("Audit checkpoints are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableRecordError("Audit checkpoints are append-only.")


# --------------------------------------------------------------------------- API access


class ServiceAccount(models.Model):
    """A named account for automation (CI, an identity platform, a CMDB sync).

    It is a user without a password (it cannot sign in to the web pages) that holds a
    role like a person; it reaches the API only through its tokens, which an
    administrator creates and revokes.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="service_account")
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"Service account {self.user_id}"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self, now: dt.datetime | None = None) -> ApiTokenQuerySet:
        """Not revoked and not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the prefix stays visible
    so a person can tell their tokens apart (and find one in a leaked log)."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        REVIEW = "review", "Review"
        # Provisioning of people and groups by the identity provider (/scim/v2/): held
        # only by an administrator's service account (assessments/scim/views.py).
        SCIM = "scim", "Directory provisioning (SCIM)"

    MARK = "aia_"
    PREFIX_LENGTH = 12  # "aia_" and the first eight characters of the secret
    MAX_DAYS = 365

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def is_usable(self, now: dt.datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())


# --------------------------------------------------------------------------- webhooks


class WebhookEndpoint(models.Model):
    """A URL an administrator registered to be told about events, signed with its secret
    as the Standard Webhooks convention does (``webhook-id``, ``-timestamp``,
    ``-signature``)."""

    EVENTS = (
        ("assessment.submitted", "An assessment was submitted for review"),
        ("assessment.approved", "An assessment was approved"),
        ("assessment.returned", "An assessment was returned to its assessor"),
        ("review.triggered", "A change triggered a review"),
        ("review.overdue", "A review became overdue"),
        ("agent.changed", "An agent was registered, changed, retired or reactivated"),
        ("exception.expiring", "An accepted exception expires in 30, 7 or 1 days"),
    )

    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500, help_text="Where deliveries are POSTed (https://…).")
    events = models.JSONField(default=list, help_text="The events this endpoint receives.")
    secret = models.CharField(
        max_length=100,
        editable=False,
        help_text="The signing secret (whsec_…); give it to the receiver to verify signatures.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event for one endpoint, with every attempt's outcome."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=64)
    message_id = models.CharField(max_length=64, unique=True)
    # What the event is about, so one event is never delivered twice to an endpoint.
    dedupe_key = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint("endpoint", "dedupe_key", name="one_delivery_per_event")
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id} ({self.state})"


# --------------------------------------------------------------------------- SCIM


class ScimResource(models.Model):
    """A person or a group as the identity provider provisioned it over SCIM 2.0
    (``assessments/scim/``): the resource as last written, so what the provider sent
    reads back the same, and the local account it drives (users only)."""

    class Type(models.TextChoices):
        USER = "User", "Person"
        GROUP = "Group", "Group"

    resource_type = models.CharField(max_length=16, choices=Type.choices)
    scim_id = models.CharField(max_length=64, unique=True)
    document = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    # userName, case-folded: unique among people (RFC 7643 §4.1.1, uniqueness "server");
    # NULL for groups, which the unique constraint must not compare.
    unique_key = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001
    user = models.OneToOneField(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scim_resource",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resource_type", "created_at", "pk"]
        verbose_name = "SCIM resource"
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "unique_key"], name="scim_unique_user_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.scim_id}"


# --------------------------------------------------------------------------- discovery


class DiscoveryRun(models.Model):
    """One reading of account-wide export files (../shared/discovery.md): uploaded, read
    in the background, reconciled with the previous run of the same source."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to be read"
        READING = "reading", "Being read"
        DONE = "done", "Read"
        FAILED = "failed", "Could not be read"

    kind = models.CharField(max_length=16)
    # The account, cluster, project or tenant: what makes two runs "the same source".
    source = models.CharField(max_length=200, blank=True)
    requested_source = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    error = models.TextField(blank=True)
    counts = models.JSONField(default=dict, blank=True)
    files_summary = models.JSONField(default=list, blank=True)  # [{name, sha256}]
    started_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "source", "status"])]

    def __str__(self) -> str:
        return f"Discovery of {self.source or self.kind} ({self.created_at:%Y-%m-%d %H:%M})"

    def get_absolute_url(self) -> str:
        return reverse("assessments:discovery_run", args=[self.pk])

    @property
    def summary(self) -> dict[str, int]:
        """The run's counts, every one present (0 when the run has not been read)."""
        keys = ("identities", "likely", "possible", "new", "changed", "unchanged", "vanished")
        out = {k: int((self.counts or {}).get(k, 0)) for k in keys}
        out["agent_like"] = out["likely"] + out["possible"]
        return out


class DiscoveryFile(models.Model):
    run = models.ForeignKey(DiscoveryRun, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    content = models.BinaryField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


# One definition each of what the discovery figures count (portfolio.discovery_figures
# counts with these in one query; the QuerySet methods filter with them).
IDENTITY_PRESENT = ~Q(status="vanished")  # found by the latest run of its source
IDENTITY_AGENT_LIKE = IDENTITY_PRESENT & Q(agent_like__in=("likely", "possible"))
IDENTITY_LINKED = IDENTITY_AGENT_LIKE & Q(agent__isnull=False)
IDENTITY_SHADOW = IDENTITY_AGENT_LIKE & Q(agent__isnull=True, triage="")
IDENTITY_MACHINE = IDENTITY_PRESENT & Q(triage="machine")
# Open until a run no longer finds the identity (which closes it) or a person dismisses it.
IDENTITY_DECOMMISSION_PENDING = Q(triage="decommission", decommission_state="open")


class DiscoveredIdentityQuerySet(models.QuerySet["DiscoveredIdentity"]):
    def present(self) -> DiscoveredIdentityQuerySet:
        """Found by the latest run of its source."""
        return self.filter(IDENTITY_PRESENT)

    def agent_like(self) -> DiscoveredIdentityQuerySet:
        return self.filter(agent_like__in=("likely", "possible"))

    def untriaged(self) -> DiscoveredIdentityQuerySet:
        return self.filter(agent__isnull=True, triage="")

    def shadow(self) -> DiscoveredIdentityQuerySet:
        """Agent-like identities that nobody has linked or triaged: shadow agents."""
        return self.filter(IDENTITY_SHADOW)

    def machine(self) -> DiscoveredIdentityQuerySet:
        return self.filter(IDENTITY_MACHINE)

    def decommission_pending(self) -> DiscoveredIdentityQuerySet:
        return self.filter(IDENTITY_DECOMMISSION_PENDING)


class DiscoveredIdentity(models.Model):
    """A workload identity found by discovery, its signals, and what a person decided."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        CHANGED = "changed", "Changed"
        UNCHANGED = "unchanged", "Unchanged"
        VANISHED = "vanished", "No longer found"

    class AgentLike(models.TextChoices):
        LIKELY = "likely", "Likely an agent"
        POSSIBLE = "possible", "Possibly an agent"
        NO = "no", "Not agent-like"

    class Triage(models.TextChoices):
        NONE = "", "Not triaged"
        REGISTERED = "registered", "Registered as an agent"
        MACHINE = "machine", "Remains a machine identity"
        DECOMMISSION = "decommission", "To decommission"

    class Decommission(models.TextChoices):
        NONE = "", "—"
        OPEN = "open", "Pending"
        DONE = "done", "Gone from the source"
        DISMISSED = "dismissed", "Dismissed"

    kind = models.CharField(max_length=16)
    source = models.CharField(max_length=200)
    external_id = models.CharField(max_length=500)
    name = models.CharField(max_length=300)
    identity_type = models.CharField(max_length=80, blank=True)
    created_on = models.DateField(null=True, blank=True)
    last_used = models.DateField(null=True, blank=True)
    last_used_from = models.CharField(max_length=120, blank=True)
    owner_hint = models.CharField(max_length=200, blank=True)
    agent_like = models.CharField(max_length=8, choices=AgentLike.choices, default=AgentLike.NO)
    signals = models.JSONField(default=list, blank=True)  # [{signal, evidence: [...]}]
    details = models.JSONField(default=dict, blank=True)
    location = models.JSONField(default=dict, blank=True)  # {file, where, says}
    grant_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    first_run = models.ForeignKey(DiscoveryRun, on_delete=models.PROTECT, related_name="+")
    last_run = models.ForeignKey(DiscoveryRun, on_delete=models.PROTECT, related_name="+")
    agent = models.ForeignKey(
        Agent, on_delete=models.PROTECT, null=True, blank=True, related_name="identities"
    )
    triage = models.CharField(max_length=16, choices=Triage.choices, blank=True, default="")
    triage_reason = models.TextField(blank=True)
    triaged_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    decommission_state = models.CharField(
        max_length=12, choices=Decommission.choices, blank=True, default=""
    )
    decommission_closed_at = models.DateTimeField(null=True, blank=True)
    dismiss_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = DiscoveredIdentityQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "source", "external_id"]
        verbose_name_plural = "discovered identities"
        constraints = [
            models.UniqueConstraint("kind", "source", "external_id", name="one_identity_per_source")
        ]
        indexes = [
            models.Index(fields=["agent_like", "status", "triage"]),
            models.Index(fields=["kind", "source", "status"]),
            models.Index(fields=["external_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"[:255]

    def get_absolute_url(self) -> str:
        return reverse("assessments:discovery_identity", args=[self.pk])

    @property
    def signal_names(self) -> list[str]:
        return [s["signal"] for s in self.signals]


# --------------------------------------------------------------------------- board appetite


class AppetiteBand(models.Model):
    """The board's appetite for one headline figure of the board pack: where green ends
    and red begins, who is accountable for it and the target. Administrators set them in
    the admin (each change is an audit event); a figure with no row uses the defaults in
    ``assessments/reports/appetite.py``."""

    class Unit(models.TextChoices):
        COUNT = "count", "Agents or items"
        PERCENT_AGENTS = "percent_agents", "Percent of agents in scope"
        PERCENT_ASSESSED = "percent_assessed", "Percent of assessed agents"

    figure = models.CharField(max_length=40, unique=True)
    unit = models.CharField(max_length=20, choices=Unit.choices, default=Unit.COUNT)
    green_up_to = models.PositiveIntegerField(
        default=0, help_text="Green while the figure is at most this."
    )
    red_above = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Red when the figure is above this; empty: never red (amber at most).",
    )
    owner = models.CharField(
        max_length=200, blank=True, help_text="The person accountable for this figure."
    )
    target = models.CharField(
        max_length=200, blank=True, help_text="The target, e.g. “0 by 31 March 2027”."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["figure"]

    def __str__(self) -> str:
        return f"Appetite for {self.figure}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from assessments.reports.appetite import FIGURES

        if self.figure not in FIGURES:
            raise ValidationError({"figure": "Choose one of the board pack's headline figures."})
        if self.red_above is not None and self.red_above < self.green_up_to:
            raise ValidationError({"red_above": "Red must begin at or above where green ends."})
        if self.unit != self.Unit.COUNT and (self.green_up_to > 100 or (self.red_above or 0) > 100):
            raise ValidationError({"green_up_to": "A percentage is at most 100."})
