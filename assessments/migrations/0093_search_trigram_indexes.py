"""The agent list's search at 100,000 agents on PostgreSQL: trigram indexes on the
names and slugs of agents and the names of systems, the expressions a case-insensitive
"contains" compares (``UPPER(name::text) LIKE UPPER('%term%')``), so each part of
``AgentQuerySet.search`` reads an index instead of every row.

PostgreSQL only, and only where the ``pg_trgm`` extension can be created (it is a
trusted extension: the database's owner may create it). Elsewhere, or without it, the
search is the same, read from the rows. The indexes are not in the models' state:
Django's indexes cannot say "PostgreSQL only"."""

from django.db import DatabaseError, migrations, transaction

INDEXES = (
    ("assessments_agent", "name", "agent_name_trgm"),
    ("assessments_agent", "slug", "agent_slug_trgm"),
    ("assessments_system", "name", "system_name_trgm"),
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:  # not allowed here: the search reads the rows, as before
        return
    for table, column, name in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, _column, name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0092_open_gaps_at_scale"),
    ]

    operations = [migrations.RunPython(create, drop)]
