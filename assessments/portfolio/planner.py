"""The database's planner: its statistics refreshed after a bulk write, and the
portfolio's computation kept off its parallel workers (``serial_queries``).

Right after thousands of rows arrive in one go (a CSV or manifest import, a discovery
run, ``seed_bulk``), PostgreSQL still plans with the statistics of the tables as they
were: autovacuum analyses them later. Until then it may pick nested loops that take
tens of seconds (a 10,000-row import left ``open_gaps`` at 40 s until analysed). SQLite
keeps no statistics until asked. ``refresh_planner_statistics`` asks both, for the
tables written, so the next queries plan well at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections, models, transaction
from django.db.backends.utils import truncate_name

# Rows a write must touch before the import paths refresh the statistics: analysing
# costs a scan of a sample of each table, pointless after a handful of rows.
BULK_ROWS = 100
# SQLite reads at most about this many rows of each index when it analyses (a sample,
# as PostgreSQL does): fast at any size, still good enough for the planner.
SQLITE_ANALYSIS_LIMIT = 1000


def _table(item: str | type[models.Model]) -> str:
    return item if isinstance(item, str) else item._meta.db_table


def refresh_planner_statistics(
    tables: Iterable[str | type[models.Model]], *, using: str = "default"
) -> list[str]:
    """Refresh the planner statistics of ``tables`` (table names or models): PostgreSQL
    ``ANALYZE`` of each, SQLite ``ANALYZE`` of each with a sampling limit, then
    ``PRAGMA optimize``. Returns the tables analysed, in order. Runs inside the caller's
    transaction if there is one (both databases allow it)."""
    names = list(dict.fromkeys(_table(t) for t in tables))
    if not names:
        return []
    connection = connections[using]
    existing = set(connection.introspection.table_names())
    names = [n for n in names if n in existing]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ANALYZE " + ", ".join(quote(truncate_name(n)) for n in names)  # noqa: S608
            )
        elif connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA analysis_limit = {int(SQLITE_ANALYSIS_LIMIT)}")
            for name in names:
                cursor.execute(f"ANALYZE {quote(name)}")  # noqa: S608 (a table name checked above)
            cursor.execute("PRAGMA optimize")
        else:  # another database: its own maintenance keeps the statistics
            return []
    return names


@contextmanager
def serial_queries(*, using: str = "default") -> Iterator[None]:
    """Run the queries inside without PostgreSQL's parallel workers (in a transaction, so
    the setting ends with it; other databases: unchanged). The portfolio's computation
    is some thirty scans of up to a few hundred thousand rows each: starting two worker
    processes for each cost more than they saved at 100,000 agents (about 750 ms
    against 650 ms on 2 CPUs), and they take CPUs from the web requests beside it."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def after_bulk_write(rows: int, tables: Iterable[Any], *, using: str = "default") -> list[str]:
    """``refresh_planner_statistics(tables)`` when ``rows`` is at least ``BULK_ROWS``."""
    if rows < BULK_ROWS:
        return []
    return refresh_planner_statistics(tables, using=using)
