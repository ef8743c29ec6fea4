"""Planner statistics are refreshed after bulk writes (assessments/portfolio/planner.py): imports
and seed_bulk analyse the tables they wrote, so the next queries plan well at once."""

from __future__ import annotations

from unittest import mock

from django.core.management import call_command
from django.db import connection
from django.test import TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assessments import portfolio
from assessments.interchange import imports
from assessments.models import Agent, Assessment, System
from assessments.portfolio import planner
from tests import factories as f


class RefreshTests(TestCase):
    def test_the_tables_written_are_analysed_on_this_database(self):
        f.agent(slug="one", systems=[("erp", "read")])
        with CaptureQueriesContext(connection) as ctx:
            done = planner.refresh_planner_statistics([Agent, System, "assessments_agent"])
        self.assertEqual(done, ["assessments_agent", "assessments_system"])
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        if connection.vendor == "postgresql":
            self.assertIn('ANALYZE "assessments_agent", "assessments_system"', sql)
        else:
            self.assertIn('ANALYZE "assessments_agent"', sql)
            self.assertIn('ANALYZE "assessments_system"', sql)
            self.assertIn("PRAGMA optimize", sql)
            with connection.cursor() as cursor:
                cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1 ORDER BY tbl")
                analysed = {row[0] for row in cursor.fetchall()}
            self.assertLessEqual({"assessments_agent", "assessments_system"}, analysed)

    def test_unknown_tables_and_nothing_are_left_alone(self):
        self.assertEqual(planner.refresh_planner_statistics([]), [])
        self.assertEqual(planner.refresh_planner_statistics(["no_such_table"]), [])

    def test_a_few_rows_do_not_analyse(self):
        with mock.patch.object(planner, "refresh_planner_statistics") as refresh:
            self.assertEqual(planner.after_bulk_write(planner.BULK_ROWS - 1, [Agent]), [])
            refresh.assert_not_called()
            planner.after_bulk_write(planner.BULK_ROWS, [Agent])
            refresh.assert_called_once_with([Agent], using="default")


class SerialQueriesTests(TransactionTestCase):
    """The portfolio's computation runs without PostgreSQL's parallel workers, and the
    setting ends with it (the worker's connection serves other tasks after)."""

    def parallel_workers(self) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            return cursor.fetchone()[0]

    def test_inside_none_and_after_as_before(self):
        if connection.vendor != "postgresql":
            with CaptureQueriesContext(connection) as ctx, planner.serial_queries():
                pass
            self.assertEqual(ctx.captured_queries, [])  # nothing to set elsewhere
            return
        before = self.parallel_workers()
        self.assertNotEqual(before, "0")
        with planner.serial_queries():
            self.assertEqual(self.parallel_workers(), "0")
        self.assertEqual(self.parallel_workers(), before)

    def test_the_computation_runs_serially(self):
        with CaptureQueriesContext(connection) as ctx:
            portfolio._compute(timezone.localdate())
        sql = [q["sql"] for q in ctx.captured_queries]
        if connection.vendor == "postgresql":
            first_read = next(i for i, q in enumerate(sql) if q.startswith("SELECT"))
            self.assertIn("SET LOCAL max_parallel_workers_per_gather = 0", sql[:first_read])
        else:
            self.assertFalse([q for q in sql if "parallel" in q])


class BulkWritesTests(TestCase):
    def setUp(self):
        self.admin = f.administrator()
        f.team("Research")
        f.user("author", "assessor")

    def csv(self, rows: int) -> bytes:
        body = "slug,name,team,purpose,owner\n" + "".join(
            f"bulk-{n},Bulk {n},Research,p,author\n" for n in range(rows)
        )
        return body.encode()

    def test_a_csv_import_of_many_rows_analyses_what_it_wrote(self):
        plan = imports.plan_csv(self.csv(3), self.admin)
        with (
            mock.patch.object(planner, "BULK_ROWS", 3),
            mock.patch.object(
                planner, "refresh_planner_statistics", wraps=planner.refresh_planner_statistics
            ) as refresh,
        ):
            self.assertEqual(imports.apply_plan(self.admin, plan), 3)
        refresh.assert_called_once_with(imports.IMPORTED_TABLES, using="default")
        self.assertEqual(Agent.objects.filter(slug__startswith="bulk-").count(), 3)

    def test_a_csv_import_of_a_few_rows_does_not(self):
        plan = imports.plan_csv(self.csv(2), self.admin)
        with (
            mock.patch.object(planner, "BULK_ROWS", 3),
            mock.patch.object(planner, "refresh_planner_statistics") as refresh,
        ):
            imports.apply_plan(self.admin, plan)
        refresh.assert_not_called()

    def test_seed_bulk_analyses_what_it_wrote(self):
        with mock.patch.object(
            planner, "refresh_planner_statistics", wraps=planner.refresh_planner_statistics
        ) as refresh:
            call_command("seed_bulk", agents=3, assessed=True, stdout=mock.MagicMock())
        (tables,), _ = refresh.call_args
        self.assertIn(Agent, tables)
        self.assertIn(Assessment, tables)
