from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import DatabaseError, connections

from assessments.models import Assessment, AuditCheckpoint, AuditEvent
from assessments.records import guards


class Command(flush.Command):
    help = (
        "Remove all data, as Django's flush does, except that audit events, audit checkpoints "
        "and approved assessments are records the database refuses to delete: flush stops "
        "while any exist. To start over, create a new database. (The test suite's settings "
        "set ALLOW_FLUSH_OF_RECORDS, so its flushes lift the guards.)"
    )

    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if getattr(settings, "ALLOW_FLUSH_OF_RECORDS", False):
            with guards.lifted(connection):
                super().handle(**options)
            return
        held = _records_held(options["database"])
        if held:
            raise CommandError(
                f"This database holds {held}, which are kept for good: flush would have to "
                "delete them and the database refuses. To start over, create a new, empty "
                "database and run migrate (export_data/import_data move data between them)."
            )
        super().handle(**options)


def _records_held(database: str) -> str:
    try:
        counts = [
            (AuditEvent.objects.using(database).count(), "audit event"),
            (AuditCheckpoint.objects.using(database).count(), "audit checkpoint"),
            (Assessment.objects.using(database).approved().count(), "approved assessment"),
        ]
    except DatabaseError:  # not migrated yet: nothing is held
        return ""
    return ", ".join(f"{n} {label}{'s' if n != 1 else ''}" for n, label in counts if n)
