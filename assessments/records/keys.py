"""The audit keys: their public ids, the current one, and the MACs they make."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from assessments.models import AuditEvent

PG_AUDIT_LOCK = 0x41554449  # "AUDI": serialises writers so the chain never forks


def key_id(key: str) -> str:
    """A short public name for a key (an HMAC of a fixed label: it does not reveal it)."""
    return hmac.new(key.encode(), b"audit key id", hashlib.sha256).hexdigest()[:16]


def audit_keys() -> dict[str, bytes]:
    """Every key that verifies: the current one and those kept from before a rotation."""
    keys = [settings.AUDIT_KEY, *getattr(settings, "AUDIT_KEYS", [])]
    return {key_id(k): k.encode() for k in keys if k}


def current_key() -> tuple[str, bytes]:
    return key_id(settings.AUDIT_KEY), settings.AUDIT_KEY.encode()


def mac(key: bytes, purpose: str, message: str) -> str:
    # The purpose keeps an event's MAC from ever being valid as a checkpoint's, and back.
    return hmac.new(key, f"{purpose}\n{message}".encode(), hashlib.sha256).hexdigest()


def event_mac(event: AuditEvent, key: bytes) -> str:
    return mac(key, "audit event", event.canonical())
