"""Sign-in throttling kept in the audit log itself.

After LOGIN_FAILURE_LIMIT failed sign-ins for one username from one address, that
pair is locked for LOGIN_LOCKOUT_SECONDS. Failures and lockouts are audit events
anyway, so counting them there needs no other store, is shared by every app server
and survives restarts. django-axes was considered; see the README.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from assessments import audit
from assessments.models import AuditEvent


def normalised_username(username: str) -> str:
    # PostgreSQL refuses NUL in text; a name with one can never be a real username.
    return username.replace("\x00", "").strip().lower()[:150]


def _pair(username: str, request: HttpRequest) -> tuple[str, str | None]:
    return normalised_username(username), audit.client_ip(request)


def locked_until(username: str, request: HttpRequest) -> dt.datetime | None:
    """When the lock on this (username, address) ends, or None if it is not locked."""
    name, ip = _pair(username, request)
    window = timezone.now() - dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    started = AuditEvent.objects.filter(
        verb="auth.locked_out", actor_label__iexact=name, ip_address=ip, created_at__gt=window
    ).aggregate(at=Max("created_at"))["at"]
    if started is None:
        return None
    return started + dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def register_failure(username: str, request: HttpRequest) -> dt.datetime | None:
    """Called after a failure was recorded; locks the pair when it reaches the limit."""
    name, ip = _pair(username, request)
    now = timezone.now()
    since = now - dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    reset = AuditEvent.objects.filter(
        verb__in=["auth.login", "auth.locked_out"],
        actor_label__iexact=name,
        ip_address=ip,
        created_at__gt=since,
    ).aggregate(at=Max("created_at"))["at"]
    failures = AuditEvent.objects.filter(
        verb="auth.login_failed",
        actor_label__iexact=name,
        ip_address=ip,
        created_at__gt=max(since, reset) if reset else since,
    ).count()
    if failures < settings.LOGIN_FAILURE_LIMIT:
        return None
    audit.record(
        "auth.locked_out",
        actor_label=name,
        object_repr=name,
        request=request,
        changes={"failures": failures, "minutes": settings.LOGIN_LOCKOUT_SECONDS // 60},
    )
    return now + dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
