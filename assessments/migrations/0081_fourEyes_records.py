"""SQLite: ``INSERT OR REPLACE`` may not replace an approved assessment.

REPLACE deletes the conflicting row and inserts the new one; the delete does not fire the
BEFORE DELETE guard (0030) unless recursive_triggers is on, so a row that would collide
with an approved one, by id or by (agent, number), is refused before it is inserted. An
ordinary insert never collides (the primary key and the unique pair refuse it anyway).
PostgreSQL has no REPLACE; its superusers are caught by the approval's content hash
(``audit._verify_approved``).

A later migration that rebuilds the assessment table on SQLite (adding a column) drops
this trigger with the others: put it back there too (``SQLITE_REPLACE_GUARD``).
"""

from django.db import migrations

SQLITE_REPLACE_GUARD = [
    "DROP TRIGGER IF EXISTS assessment_approved_irreplaceable;",
    """CREATE TRIGGER assessment_approved_irreplaceable BEFORE INSERT ON assessments_assessment
       WHEN EXISTS (
         SELECT 1 FROM assessments_assessment
         WHERE status = 'approved'
           AND (id = NEW.id OR (agent_id = NEW.agent_id AND number = NEW.number))
       )
       BEGIN SELECT RAISE(ABORT, 'approved assessments cannot be replaced'); END;""",
]


def add_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_REPLACE_GUARD:
            schema_editor.execute(sql, params=None)


def remove_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS assessment_approved_irreplaceable;")


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0080_fast"),
    ]

    operations = [migrations.RunPython(add_guard, remove_guard)]
