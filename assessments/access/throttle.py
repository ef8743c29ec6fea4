"""Sign-in throttling: a lock on (username, address) after repeated failures.

One counter per person and address covers every place their secrets are checked:
sign-in, the second factor, re-authentication and the password change (five wrong
answers in all, not five at each). A right password that only leads on to the second
factor gives its slot back (:func:`release`) without freeing the others, or a
password known to an attacker would reset the second factor's count.

Each attempt first *reserves* a slot with one conditional UPDATE (``attempts < limit``),
so however many requests arrive at once, at most LOGIN_FAILURE_LIMIT passwords are
checked per pair before the lock; the rest are refused. A failure that fills the last
slot locks the pair for LOGIN_LOCKOUT_SECONDS; a success frees the slots. Counters live
in ``SignInThrottle`` rows in the database (shared by every app server, no other store).

Failures and refusals are audited at most once a minute per pair, with the number since
the last event, so a flood of guesses cannot flood the audit log. django-axes was
considered; see the README.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone

from assessments.models import SignInThrottle
from assessments.records import audit

REPORT_EVERY = dt.timedelta(minutes=1)


def normalised_username(username: str) -> str:
    # PostgreSQL refuses NUL in text; a name with one can never be a real username.
    return username.replace("\x00", "").strip().lower()[:150]


def _row(username: str, request: HttpRequest) -> SignInThrottle:
    name, ip = normalised_username(username), audit.client_ip(request)
    key = f"{ip or '-'} {name}"[:200]
    row = SignInThrottle.objects.filter(key=key).first()
    if row is None:
        try:
            with transaction.atomic():
                row = SignInThrottle.objects.create(key=key, username=name, ip_address=ip)
        except IntegrityError:  # a parallel attempt created it first
            row = SignInThrottle.objects.get(key=key)
    return row


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def reserve(username: str, request: HttpRequest) -> dt.datetime | None:
    """Take one attempt for this pair. None: go ahead and check the password; otherwise
    the pair is locked (or its last attempts are being checked) until the time returned."""
    row = _row(username, request)
    now = timezone.now()
    rows = SignInThrottle.objects.filter(pk=row.pk)
    # A lock that has run out, or a window with no lock that has passed, starts afresh.
    rows.filter(
        Q(locked_until__lte=now) | Q(locked_until=None, window_started_at__lte=now - _window())
    ).update(attempts=0, locked_until=None, window_started_at=now)
    if rows.filter(attempts__lt=settings.LOGIN_FAILURE_LIMIT, locked_until=None).update(
        attempts=F("attempts") + 1
    ):
        return None
    row.refresh_from_db()
    until = row.locked_until or now + _window()
    rows.update(unreported_refusals=F("unreported_refusals") + 1)
    if count := _take_report(row, "refusals", now):
        audit.record(
            "auth.login_refused",
            actor_label=row.username,
            object_repr=row.username,
            request=request,
            changes={"refused": count, "locked_until": until.isoformat()},
        )
    return until


def register_success(username: str, request: HttpRequest) -> None:
    """Free the pair's attempts; failures not audited yet are audited now, and pairs idle
    for a day are forgotten (their failures were audited when they happened)."""
    row = _row(username, request)
    now = timezone.now()
    SignInThrottle.objects.filter(pk=row.pk).update(
        attempts=0, locked_until=None, window_started_at=now
    )
    if count := _take_report(row, "failures", now, force=True):
        audit.record(
            "auth.login_failed",
            actor_label=row.username,
            object_repr=row.username,
            request=request,
            changes={"failures": count},
        )
    SignInThrottle.objects.filter(
        Q(locked_until=None) | Q(locked_until__lt=now),
        window_started_at__lt=now - dt.timedelta(days=1),
        unreported_failures=0,
        unreported_refusals=0,
    ).delete()


def release(username: str, request: HttpRequest) -> None:
    """Give back the slot :func:`reserve` took, counting the attempt neither as a
    failure nor as a success (a right password, the second factor still to come)."""
    row = _row(username, request)
    SignInThrottle.objects.filter(pk=row.pk, attempts__gt=0).update(attempts=F("attempts") - 1)


def register_failure(
    username: str, request: HttpRequest, via: str = "sign-in"
) -> dt.datetime | None:
    """After a wrong password: audit it (at most once a minute per pair) and lock the pair
    when this failure used its last attempt. Returns the end of the lock, if one starts.
    ``via`` says where the wrong answer was given (sign-in, second factor, …)."""
    row = _row(username, request)
    now = timezone.now()
    rows = SignInThrottle.objects.filter(pk=row.pk)
    rows.update(unreported_failures=F("unreported_failures") + 1)
    until = now + _window()
    locked = rows.filter(attempts__gte=settings.LOGIN_FAILURE_LIMIT, locked_until=None).update(
        locked_until=until
    )
    if count := _take_report(row, "failures", now, force=bool(locked)):
        audit.record(
            "auth.login_failed",
            actor_label=row.username,
            object_repr=row.username,
            request=request,
            changes={"failures": count},
        )
    if not locked:
        return None
    audit.record(
        "auth.locked_out",
        actor_label=row.username,
        object_repr=row.username,
        request=request,
        changes={
            "failures": settings.LOGIN_FAILURE_LIMIT,
            "minutes": settings.LOGIN_LOCKOUT_SECONDS // 60,
            "via": via,
        },
    )
    return until


def _take_report(row: SignInThrottle, what: str, now: dt.datetime, *, force: bool = False) -> int:
    """Claim this pair's ``what`` event (once a minute, or now when ``force``) and take the
    count since the last one; 0 when it is not due. The row lock makes the claim single."""
    stamp, counter = f"{what}_reported_at", f"unreported_{what}"
    with transaction.atomic():
        current = SignInThrottle.objects.select_for_update().get(pk=row.pk)
        last, count = getattr(current, stamp), getattr(current, counter)
        if not count or not (force or last is None or last <= now - REPORT_EVERY):
            return 0
        SignInThrottle.objects.filter(pk=row.pk).update(**{stamp: now, counter: 0})
    return count
