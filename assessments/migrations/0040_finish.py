"""Per-answer versions (conflicts per question), lowercase agent slugs, and viewers may
request board packs (the role permissions are synced again)."""

import django.core.validators
from django.db import migrations, models

from assessments.access.roles import sync_roles

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


def resync_roles(apps, schema_editor):
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0060_api"),
    ]

    operations = [
        migrations.AddField(
            model_name="assessment",
            name="answer_versions",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(restore_guard, restore_guard),
        migrations.AlterField(
            model_name="agent",
            name="slug",
            field=models.SlugField(
                error_messages={
                    "unique": "Another agent already uses this slug. Choose a different one."
                },
                help_text="Short identifier used in URLs, manifests and the CLI. Lowercase "
                "letters, numbers and hyphens.",
                max_length=100,
                unique=True,
                validators=[
                    django.core.validators.RegexValidator(
                        "\\A[a-z0-9_-]+\\Z",
                        "Use lowercase letters (a to z), numbers and hyphens only.",
                        code="invalid_slug",
                    )
                ],
            ),
        ),
        migrations.RunPython(resync_roles, migrations.RunPython.noop),
    ]
