"""Tamper-evident records: the audit log and its signed checkpoints."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from .base import AppendOnlyQuerySet, ImmutableRecordError
from .inventory import Agent

User = settings.AUTH_USER_MODEL


class AuditEventQuerySet(AppendOnlyQuerySet["AuditEvent"]):
    def for_object(self, obj: models.Model) -> AuditEventQuerySet:
        return self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))


class AuditEvent(models.Model):
    """Who did what to which object, when, with the change. Append-only, chained: each
    event's ``hash`` is a MAC (keyed with ``AUDIT_KEY``, named by ``key_id``) over its
    content and the previous event's ``hash``; see ``assessments.records.audit``."""

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
