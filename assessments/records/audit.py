"""The append-only, keyed and anchored audit log.

Every state change calls ``record`` inside its own transaction, so the event and the
change land together or not at all. Each event carries a MAC (HMAC-SHA256 with the audit
key, ``settings.AUDIT_KEY``, which is not in the database) over its content and the
previous event's MAC, and the id of the key that made it, so keys can rotate
(``settings.AUDIT_KEYS`` keeps the old ones for verification). Whoever can write the
database cannot rewrite an event and re-chain the rest without the key.

A chain alone cannot show that its newest events were removed. Signed checkpoints
(``write_checkpoint``: event count, last event and its MAC, time) are written daily and
on demand, to the database and outside it (``AUDIT_CHECKPOINT_DIR``, the log, e-mail);
``verify_chain`` checks the log against the latest one and names what it finds:
changed, deleted, reordered, re-hashed without the key, or truncated events.

Events written before the key existed (migration 0030) have no key id and verify under
the legacy unkeyed SHA-256 scheme. They are anchored by the first keyed event, whose MAC
covers the last of them; an unkeyed event after a keyed one is a forgery.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import connection, models, transaction
from django.http import HttpRequest

from assessments.access.clientip import client_ip
from assessments.models import Agent, AuditEvent
from assessments.records.checkpoints import (  # noqa: F401 (part of this module's interface)
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    Checkpoint,
    CheckpointOutcome,
    write_checkpoint,
)
from assessments.records.keys import (  # noqa: F401
    PG_AUDIT_LOCK,
    audit_keys,
    current_key,
    event_mac,
    key_id,
    mac,
)
from assessments.records.verify import (  # noqa: F401
    FINDING_LABELS,
    ChainReport,
    Finding,
    approved_content_hash,
    content_hash,
    verify_chain,
)

logger = logging.getLogger("assessments.records.audit")

__all__ = ["client_ip", "diff", "record", "verify_chain"]


# --------------------------------------------------------------------------- writing


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Changed fields as {field: {"old": ..., "new": ...}}."""
    return {
        key: {"old": _jsonable(before.get(key)), "new": _jsonable(after.get(key))}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def record(
    verb: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    agent: Agent | None = None,
    changes: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
    object_repr: str | None = None,
) -> AuditEvent:
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if agent is None and isinstance(obj, Agent):
        agent = obj
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PG_AUDIT_LOCK])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event = AuditEvent(
            actor=actor,
            actor_label=actor_label
            if actor_label is not None
            else (actor.get_username() if actor else "system"),
            verb=verb,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            object_repr=(
                object_repr if object_repr is not None else str(obj) if obj is not None else ""
            )[:255],
            agent=agent,
            changes=_jsonable(changes or {}),
            ip_address=client_ip(request),
            prev_hash=last or AuditEvent.GENESIS,
        )
        event.key_id, key = current_key()
        event.hash = event_mac(event, key)
        event.save()
        # Webhooks follow the audit log, inside the same transaction as the change.
        from assessments.interchange import webhooks

        webhooks.on_audit_event(event)
    return event


# --------------------------------------------------------------------------- checkpoints


def export_record(event: AuditEvent) -> dict[str, Any]:
    """One event as plain data with every field of its chain, so a SIEM (through the API
    or ``export_audit``) can check it: ``hash`` is the HMAC-SHA256, with the audit key
    named by ``key_id``, of "audit event", a newline and the canonical JSON of the other
    fields (events from before audit keys, with no ``key_id``: plain SHA-256 of it)."""
    return {
        "id": event.pk,
        "created_at": event.created_at.astimezone(dt.UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "verb": event.verb,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "agent_id": event.agent_id,
        "changes": event.changes,
        "ip_address": event.ip_address,
        "prev_hash": event.prev_hash,
        "key_id": event.key_id,
        "hash": event.hash,
    }
