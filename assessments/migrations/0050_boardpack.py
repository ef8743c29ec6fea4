"""The inventory as it was at approval, frozen on the assessment for its kept report."""

from django.db import migrations, models

# Adding a column rebuilds the table on SQLite, which drops its triggers: put back the
# guards that refuse changing or deleting approved assessments (0002, 0030_records).
SQLITE_GUARD = [
    "DROP TRIGGER IF EXISTS assessment_approved_immutable;",
    """CREATE TRIGGER assessment_approved_immutable BEFORE UPDATE ON assessments_assessment
       WHEN OLD.status = 'approved'
       BEGIN SELECT RAISE(ABORT, 'approved assessments are immutable'); END;""",
    "DROP TRIGGER IF EXISTS assessment_approved_undeletable;",
    """CREATE TRIGGER assessment_approved_undeletable BEFORE DELETE ON assessments_assessment
       WHEN OLD.status = 'approved'
       BEGIN SELECT RAISE(ABORT, 'approved assessments cannot be deleted'); END;""",
]


def restore_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_GUARD:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0040_finish"),
    ]

    operations = [
        migrations.AddField(
            model_name="assessment",
            name="inventory_at_approval",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(restore_guard, restore_guard),
    ]
