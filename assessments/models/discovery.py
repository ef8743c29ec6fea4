"""Discovery: runs over account-wide exports and the workload identities they find."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .inventory import Agent

User = settings.AUTH_USER_MODEL


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
    # What a run stored about it, less where its lines sit in the files: a run that finds
    # it as it was does not rewrite it, and its lines stay those of the run they were
    # read in (``read_in``), since a role added above it moves every position.
    content_hash = models.CharField(max_length=64, blank=True, default="")
    read_in = models.ForeignKey(
        DiscoveryRun, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
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
