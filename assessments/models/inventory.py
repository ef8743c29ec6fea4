"""The inventory: teams, agents, their owners, the systems they reach and the agents they call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse
from django.utils import timezone

from .base import PortfolioQuerySet
from .choices import Access, Classification, CredentialModel, Tier

User = settings.AUTH_USER_MODEL


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


def IDLE(cutoff: dt.date) -> Q:  # noqa: N802 (reads as the condition it is)
    """Last seen acting before ``cutoff``, and not kept (a "Decommission?" answered keep)
    since."""
    return Q(last_activity_on__lt=cutoff) & (Q(kept_on__isnull=True) | Q(kept_on__lt=cutoff))


class AgentQuerySet(PortfolioQuerySet["Agent"]):
    def active(self) -> AgentQuerySet:
        return self.filter(status=Agent.Status.ACTIVE)

    def for_list(self) -> AgentQuerySet:
        """Agents with their owner, team and systems, in a constant number of queries
        (the API's agent list)."""
        mode = models.FETCH_RAISE if settings.STRICT_FETCH else models.FETCH_PEERS
        return (
            self.select_related("owner", "sponsor", "team")
            .prefetch_related(
                "systems",
                models.Prefetch("co_owners", queryset=AgentOwner.objects.select_related("person")),
            )
            .fetch_mode(mode)
        )

    def idle_before(self, cutoff: dt.date) -> AgentQuerySet:
        """Agents last seen acting before ``cutoff`` and not kept since: the inactive
        agents' one definition (portfolio.accountability, actions.flag_inactive_agents)."""
        return self.filter(IDLE(cutoff))

    def for_rows(self) -> AgentQuerySet:
        """Agents with their owner and team, in one query, only the columns a row of the
        agent list page shows; the page reads its rows' systems and assessments in
        progress itself (assessments/presentation/rows.py). (Joined by ``select_related``, which a
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
        # The agents whose name, slug, owner or one of whose systems matches, each found
        # on its own and united: joining every agent to its owner and to each of its
        # systems first took tens of milliseconds at 10,000 agents; one pass testing the
        # four on each agent cannot use an index. On PostgreSQL each part reads a
        # trigram index (migration 0093): 115 ms to 48 ms at 100,000 agents when one in
        # eight matches.
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
        agents = Agent.objects.order_by()
        matching = (
            agents.filter(name__icontains=term)
            .values("pk")
            .union(
                agents.filter(slug__icontains=term).values("pk"),
                agents.filter(owner__in=owners).values("pk"),
                System.objects.order_by().filter(name__icontains=term).values("agent_id"),
            )
        )
        return self.filter(pk__in=matching)

    def with_assessment_in(self, assessments: AssessmentQuerySet) -> AgentQuerySet:
        """Agents with an assessment in ``assessments`` (e.g. ``awaiting_decision()``)."""
        return self.filter(pk__in=assessments.order_by().values("agent_id"))

    # -- assessment state (see assessments/portfolio/ for the definitions). Each state is
    # a set of agents the assessments' indexes give (an agent has at most one assessment
    # in progress), not a state worked out for every agent and compared: "awaiting a
    # decision" took 1 s at 100,000 agents that way, 28 ms this way.
    def _with_open(self, status: str) -> AgentQuerySet:
        return self.with_assessment_in(Assessment.objects.filter(status=status))

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
        return self.exclude(pk__in=Assessment.objects.order_by().values("agent_id"))

    def decided(self) -> AgentQuerySet:
        """Agents with an assessment and none in progress."""
        started = Assessment.objects.order_by()
        return self.with_assessment_in(started).exclude(pk__in=started.open().values("agent_id"))

    def in_assessment_state(self, state: str) -> AgentQuerySet:
        """The agents in ``state``, one of the values of ``with_assessment_state``."""
        sets = {
            "pending_decision": self.pending_decision,
            "returned": self.returned,
            "in_draft": self.in_draft,
            "never_started": self.never_started,
            "decided": self.decided,
        }
        if state not in sets:
            raise ValueError(f"Not an assessment state: {state!r}")
        return sets[state]()

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
        return self.with_next_review().annotate(
            review_triggered=models.Exists(review.filter(triggered_at__isnull=False)),
            review_overdue=models.Exists(review.filter(due_on__lt=today)),
        )

    def with_next_review(self) -> AgentQuerySet:
        """Annotate ``next_review`` alone (see ``with_review_state``)."""
        return self.alias(open_review=_open_review()).annotate(
            next_review=models.F("open_review__due_on")
        )

    def by_next_review(self) -> AgentQuerySet:
        """Ordered by the open review's due date (agents without one last), then by
        name: what the list sorts by "Next review". Only the ordering joins the review,
        so counting the same queryset does not."""
        return self.alias(review_to_sort_by=_open_review()).order_by(
            models.F("review_to_sort_by__due_on").asc(nulls_last=True), "name", "pk"
        )


def _open_review() -> models.FilteredRelation:
    """An agent's open review as a join: an agent has at most one
    (``one_open_review_per_agent``), so no subquery per agent is needed (sorting 100,000
    agents by one took 0.4 to 0.6 s)."""
    return models.FilteredRelation("reviews", condition=Q(reviews__state=Review.State.OPEN))


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
    # The day its owners, asked "Decommission?", answered keep: the inactive clock runs
    # from the later of this and the last activity (``idle_before``).
    kept_on = models.DateField(null=True, blank=True)
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

    # Who succeeds whom is counted by the portfolio figures ("with a single owner"):
    # writes in bulk mark them changed too.
    objects = PortfolioQuerySet.as_manager()

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


# Assessments and reviews build on Agent; the package imports this module first, so
# they are read once Agent exists (the agent queries above use them).
from .assessments import Assessment, AssessmentQuerySet  # noqa: E402
from .reviews import Review  # noqa: E402
