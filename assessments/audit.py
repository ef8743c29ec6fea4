"""The append-only, hash-chained audit log.

Every state change calls ``record`` inside its own transaction, so the event and the
change land together or not at all. Each event stores the hash of the one before it;
``verify_chain`` recomputes the chain and reports the first event that does not fit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.http import HttpRequest

from assessments.models import Agent, AuditEvent

_PG_AUDIT_LOCK = 0x41554449  # "AUDI": serialises writers so the chain never forks


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    if header and (value := request.META.get(header)):
        return value.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


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
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_AUDIT_LOCK])
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
        event.hash = event.compute_hash()
        event.save()
        # Webhooks follow the audit log, inside the same transaction as the change.
        from assessments import webhooks

        webhooks.on_audit_event(event)
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    problem: str = ""


def verify_chain(events: Iterable[AuditEvent] | None = None) -> ChainReport:
    """Walk the chain from the first event; stop at the first that does not fit."""
    if events is None:
        events = AuditEvent.objects.order_by("id").iterator(chunk_size=2000)
    expected_prev = AuditEvent.GENESIS
    checked = 0
    for event in events:
        if event.prev_hash != expected_prev:
            return ChainReport(False, checked, event.pk, "links to a different previous event")
        if event.compute_hash() != event.hash:
            return ChainReport(False, checked, event.pk, "was changed after it was written")
        expected_prev = event.hash
        checked += 1
    return ChainReport(True, checked)


def export_record(event: AuditEvent) -> dict[str, Any]:
    """One event as plain data with every field of its hash chain, so a SIEM (through
    the API or ``export_audit``) can recompute ``hash`` from ``prev_hash`` and the rest."""
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
        "hash": event.hash,
    }
