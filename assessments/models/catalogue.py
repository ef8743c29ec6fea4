"""The controls catalogue: versions, frameworks, controls, their mappings and review intervals."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .choices import Tier


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
