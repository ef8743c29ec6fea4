"""Evidence: uploads, analysis jobs, their files and the proposals they make."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .assessments import Assessment
from .inventory import Agent

User = settings.AUTH_USER_MODEL


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
