"""Play the attacker who got past the app: change stored rows behind the guards' back.

``guards.lifted`` turns the database triggers off (a superuser on PostgreSQL, the file's
owner on SQLite could do the same); the base QuerySet methods skip the Python guards."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command
from django.db import models

from assessments.models import AuditEvent
from assessments.records import guards


def rewrite(queryset: models.QuerySet[Any], **fields: Any) -> None:
    with guards.lifted():
        models.QuerySet.update(queryset, **fields)


def remove(queryset: models.QuerySet[Any]) -> None:
    with guards.lifted():
        queryset._raw_delete(queryset.db)


def swap_ids(a: int, b: int) -> None:
    """Swap two events' positions in the log (the rows keep their content)."""
    with guards.lifted():
        models.QuerySet.update(AuditEvent.objects.filter(pk=a), id=10**12)
        models.QuerySet.update(AuditEvent.objects.filter(pk=b), id=a)
        models.QuerySet.update(AuditEvent.objects.filter(pk=10**12), id=b)


def verify_audit_log(*args: str) -> tuple[int, str]:
    """Run the command; return its exit status and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit_log", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, out.getvalue() + err.getvalue()
