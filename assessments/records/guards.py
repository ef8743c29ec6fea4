"""The database guards on records that never change (migrations 0002 and 0030), and the
one way round them: ``lifted``, for the test suite's flush and for tests that play an
attacker who has got past them.

On PostgreSQL lifting needs a superuser (``session_replication_role``), which the app's
role is not (see README, "The audit log"); on SQLite, whoever can write the file can
drop triggers anyway, which is why the audit chain is keyed and checkpointed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

GUARDED_TABLES = (
    "assessments_assessment",
    "assessments_auditevent",
    "assessments_auditcheckpoint",
)


@contextmanager
def lifted(connection: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    """Run the block with the guard triggers off, then put them back."""
    connection = connection or connections["default"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
        return
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(GUARDED_TABLES))
        cursor.execute(
            "SELECT name, sql FROM sqlite_master "  # noqa: S608 (placeholders only)
            f"WHERE type = 'trigger' AND tbl_name IN ({placeholders})",
            list(GUARDED_TABLES),
        )
        triggers = cursor.fetchall()
        for name, _sql in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, sql in triggers:
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
                cursor.execute(sql)
