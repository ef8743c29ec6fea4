from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

# Tables whose rows are never changed or removed: the app role may only add to them.
APPEND_ONLY = ("assessments_auditevent", "assessments_auditcheckpoint")


def grant_statements(role: str) -> list[str]:
    """What the app's PostgreSQL role may do: read and write rows, nothing more. Without
    ownership it cannot TRUNCATE, ALTER TABLE (so not DISABLE TRIGGER) or drop triggers,
    and without superuser it cannot set session_replication_role to skip them."""
    q = connection.ops.quote_name
    role = q(role)
    append_only = ", ".join(q(t) for t in APPEND_ONLY)
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {append_only} FROM {role}",
        # Tables and sequences that later migrations create.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]


class Command(BaseCommand):
    help = (
        "PostgreSQL: give the role the app runs as (DATABASE_URL of the servers and workers) "
        "the rights it needs and no more. Run it as the role that owns the tables (the one "
        "that runs migrate), after each migrate. The role must exist (CREATE ROLE ... LOGIN)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the app's database role")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the statements; run nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "This is for PostgreSQL; SQLite has no roles (protect the database file)."
            )
        statements = grant_statements(options["role"])
        if options["dry_run"]:
            for sql in statements:
                self.stdout.write(f"{sql};")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [options["role"]])
            if cursor.fetchone() is None:
                raise CommandError(
                    f"There is no role {options['role']!r}: create it first "
                    "(CREATE ROLE name LOGIN PASSWORD '...')."
                )
            for sql in statements:
                cursor.execute(sql)
        self.stdout.write(f"Granted the app's rights to {options['role']}.")
