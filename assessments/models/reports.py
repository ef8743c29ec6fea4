"""Reports: issued PDF records and board pack jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .assessments import Assessment

User = settings.AUTH_USER_MODEL


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
        # Recording a board's sign-off makes a pack the baseline of the next one of its
        # scope: reviewers and administrators (the board's secretary holds one of them).
        permissions = [("signoff_reportrecord", "Can record a board's sign-off of a board pack")]

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
