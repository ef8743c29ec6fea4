"""The four role groups, and database guards: approved assessments and audit events
never change (UPDATE refused on SQLite and PostgreSQL; DELETE refused on PostgreSQL,
where test flushes use TRUNCATE; on SQLite the model refuses deletes)."""

from django.db import migrations

from assessments.access.roles import sync_roles

SQLITE = [
    """CREATE TRIGGER assessment_approved_immutable BEFORE UPDATE ON assessments_assessment
       WHEN OLD.status = 'approved'
       BEGIN SELECT RAISE(ABORT, 'approved assessments are immutable'); END;""",
    """CREATE TRIGGER auditevent_append_only BEFORE UPDATE ON assessments_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS assessment_approved_immutable;",
    "DROP TRIGGER IF EXISTS auditevent_append_only;",
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION assessments_refuse_change() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation'; END;
       $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER assessment_approved_immutable
       BEFORE UPDATE OR DELETE ON assessments_assessment
       FOR EACH ROW WHEN (OLD.status = 'approved')
       EXECUTE FUNCTION assessments_refuse_change('approved assessments are immutable');""",
    """CREATE TRIGGER auditevent_append_only
       BEFORE UPDATE OR DELETE ON assessments_auditevent
       FOR EACH ROW EXECUTE FUNCTION assessments_refuse_change('audit events are append-only');""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS assessment_approved_immutable ON assessments_assessment;",
    "DROP TRIGGER IF EXISTS auditevent_append_only ON assessments_auditevent;",
    "DROP FUNCTION IF EXISTS assessments_refuse_change();",
]


def add_guards(apps, schema_editor):
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql, params=None)


def remove_guards(apps, schema_editor):
    statements = {"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}.get(
        schema_editor.connection.vendor, []
    )
    for sql in statements:
        schema_editor.execute(sql, params=None)


def create_roles(apps, schema_editor):
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(add_guards, remove_guards),
    ]
