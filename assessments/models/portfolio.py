"""The portfolio's stored figures: snapshots, the gap index and the board's appetite."""

from __future__ import annotations

from django.db import models

from .assessments import Assessment


class PortfolioSnapshot(models.Model):
    """The portfolio-wide figures (assessments/portfolio/) of one scope, as the database
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
    """A required control an agent's latest approved assessment recorded as a gap, read
    once from its engine result (``result.controls``) so the portfolio's open gaps are
    counted from these small rows instead of every result's JSON
    (``portfolio.gaps.index_gaps`` fills it before each computation). An approved
    assessment never changes; when a later version of the agent is approved, the earlier
    one's gap rows are deleted, so the rows are those of the latest versions alone. Each
    approved assessment read has one row with an empty ``control_id`` too: the mark that
    it was read, gaps or none (kept when its gap rows go)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="+")
    # The assessment's agent (it never changes), so counting open gaps by agent reads
    # these rows alone, not the assessments' (wide) rows.
    agent = models.ForeignKey("Agent", on_delete=models.CASCADE, related_name="+", db_index=False)
    control_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "control_id"], name="one_gap_row_per_control"
            )
        ]
        indexes = [
            # An agent's rows: the scoped figures, and the rows a new approval supersedes.
            models.Index(fields=["agent", "control_id"], name="approved_gap_agent"),
        ]

    def __str__(self) -> str:
        return f"Gap {self.control_id or '(read)'} of assessment {self.assessment_id}"


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
