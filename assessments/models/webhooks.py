"""Webhooks: endpoints and their deliveries."""

from __future__ import annotations

from django.db import models


class WebhookEndpoint(models.Model):
    """A URL an administrator registered to be told about events, signed with its secret
    as the Standard Webhooks convention does (``webhook-id``, ``-timestamp``,
    ``-signature``)."""

    EVENTS = (
        ("assessment.submitted", "An assessment was submitted for review"),
        ("assessment.approved", "An assessment was approved"),
        ("assessment.returned", "An assessment was returned to its assessor"),
        ("assessment.withdrawn", "A submitted assessment was withdrawn by its assessor"),
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
