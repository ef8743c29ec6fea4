"""Records that hold: the audit key id per event, signed checkpoints, and database guards
on both databases.

- SQLite now refuses DELETE of approved assessments and of audit events and checkpoints
  (0002 refused only UPDATE there). Adding ``key_id`` rebuilds the audit table on
  SQLite, which drops its triggers, so every guard is (re)created after the change.
- PostgreSQL refuses TRUNCATE of the same tables (row triggers do not fire on TRUNCATE),
  and UPDATE/DELETE of checkpoints.

Events written before this migration keep ``key_id`` empty and verify under the legacy
unkeyed scheme; the first keyed event after them (its MAC covers their last hash)
anchors them. No stored event is rewritten.
"""

from django.db import migrations, models

SQLITE = [
    """CREATE TRIGGER assessment_approved_immutable BEFORE UPDATE ON assessments_assessment
       WHEN OLD.status = 'approved'
       BEGIN SELECT RAISE(ABORT, 'approved assessments are immutable'); END;""",
    """CREATE TRIGGER assessment_approved_undeletable BEFORE DELETE ON assessments_assessment
       WHEN OLD.status = 'approved'
       BEGIN SELECT RAISE(ABORT, 'approved assessments cannot be deleted'); END;""",
    """CREATE TRIGGER auditevent_append_only BEFORE UPDATE ON assessments_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
    """CREATE TRIGGER auditevent_undeletable BEFORE DELETE ON assessments_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
    """CREATE TRIGGER auditcheckpoint_append_only BEFORE UPDATE ON assessments_auditcheckpoint
       BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;""",
    """CREATE TRIGGER auditcheckpoint_undeletable BEFORE DELETE ON assessments_auditcheckpoint
       BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;""",
]
SQLITE_NEW = [
    "assessment_approved_undeletable",
    "auditevent_undeletable",
    "auditcheckpoint_append_only",
    "auditcheckpoint_undeletable",
]
# What 0002 created on SQLite, restored when this migration is reversed.
SQLITE_0002 = [SQLITE[0], SQLITE[2]]

POSTGRES = [
    """CREATE TRIGGER auditcheckpoint_append_only
       BEFORE UPDATE OR DELETE ON assessments_auditcheckpoint
       FOR EACH ROW EXECUTE FUNCTION assessments_refuse_change('audit checkpoints are append-only');""",
    """CREATE TRIGGER assessment_no_truncate BEFORE TRUNCATE ON assessments_assessment
       FOR EACH STATEMENT
       EXECUTE FUNCTION assessments_refuse_change('approved assessments cannot be deleted');""",
    """CREATE TRIGGER auditevent_no_truncate BEFORE TRUNCATE ON assessments_auditevent
       FOR EACH STATEMENT EXECUTE FUNCTION assessments_refuse_change('audit events are append-only');""",
    """CREATE TRIGGER auditcheckpoint_no_truncate BEFORE TRUNCATE ON assessments_auditcheckpoint
       FOR EACH STATEMENT
       EXECUTE FUNCTION assessments_refuse_change('audit checkpoints are append-only');""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS auditcheckpoint_append_only ON assessments_auditcheckpoint;",
    "DROP TRIGGER IF EXISTS assessment_no_truncate ON assessments_assessment;",
    "DROP TRIGGER IF EXISTS auditevent_no_truncate ON assessments_auditevent;",
    "DROP TRIGGER IF EXISTS auditcheckpoint_no_truncate ON assessments_auditcheckpoint;",
]


def _sqlite_create(schema_editor, statements):
    for sql in statements:
        name = sql.split()[2]
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name};", params=None)
        schema_editor.execute(sql, params=None)


def add_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _sqlite_create(schema_editor, SQLITE)
    elif vendor == "postgresql":
        for sql in POSTGRES:
            schema_editor.execute(sql, params=None)


def remove_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for name in SQLITE_NEW:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name};", params=None)
    elif vendor == "postgresql":
        for sql in POSTGRES_REVERSE:
            schema_editor.execute(sql, params=None)


def restore_0002_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        _sqlite_create(schema_editor, SQLITE_0002)


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0021_inbox"),
    ]

    operations = [
        # Reversed last: the table rebuild that removes key_id drops 0002's triggers.
        migrations.RunPython(migrations.RunPython.noop, restore_0002_guards),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField()),
                ("event_count", models.PositiveBigIntegerField()),
                ("last_event_id", models.PositiveBigIntegerField(blank=True, null=True)),
                ("head", models.CharField(max_length=64)),
                ("key_id", models.CharField(max_length=32)),
                ("signature", models.CharField(max_length=64)),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.RunPython(add_guards, remove_guards),
    ]
