"""The append-only, hash-chained audit log.

Every state change calls ``record`` inside its own transaction, so the event and the
change land together or not at all. Each event stores the hash of the one before it;
``verify_chain`` recomputes the chain and reports the first event that does not fit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.http import HttpRequest

from assessments.clientip import client_ip
from assessments.models import Agent, AuditEvent

__all__ = ["client_ip", "diff", "record", "verify_chain"]

_PG_AUDIT_LOCK = 0x41554449  # "AUDI": serialises writers so the chain never forks


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
