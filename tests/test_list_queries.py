"""The list pages not covered elsewhere keep a constant number of queries: the audit log
and the reports page, at 5 and at 500 rows (issue 17). The agent list, dashboard, queue,
inbox, notifications, evidence, catalogue and the API lists have their own tests."""

from __future__ import annotations

import uuid

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.models import AuditEvent, BoardPackJob, ReportRecord
from assessments.records import audit
from tests import factories as f


class ListQueryCountTests(TestCase):
    def setUp(self):
        self.reviewer = f.reviewer()
        self.client.force_login(self.reviewer)

    def queries(self, name: str, **query: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(reverse(name), query)
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries)

    def add_reports(self, count: int) -> None:
        records = ReportRecord.objects.bulk_create(
            ReportRecord(
                document_id=uuid.uuid4().hex,
                kind=ReportRecord.Kind.BOARD,
                content_sha256="0" * 64,
                file_sha256=uuid.uuid4().hex,
                created_by=self.reviewer,
            )
            for _ in range(count)
        )
        BoardPackJob.objects.bulk_create(
            BoardPackJob(requested_by=self.reviewer, state="done", report=record)
            for record in records
        )

    def test_the_audit_log_takes_the_same_queries_for_5_and_500_events(self):
        self.client.get(reverse("assessments:audit_list"))  # writes the session once
        for i in range(5):
            audit.record("test.event", actor=self.reviewer, changes={"n": i})
        small = self.queries("assessments:audit_list")
        filtered = self.queries("assessments:audit_list", verb="agent.", actor="rex")
        for i in range(495):
            audit.record("test.event", actor=self.reviewer, changes={"n": i})
        self.assertGreaterEqual(AuditEvent.objects.count(), 500)
        self.assertEqual(self.queries("assessments:audit_list"), small)
        self.assertEqual(self.queries("assessments:audit_list", page="3"), small)
        self.assertEqual(
            self.queries("assessments:audit_list", verb="agent.", actor="rex"), filtered
        )

    def test_the_reports_page_takes_the_same_queries_for_5_and_500_reports(self):
        self.client.get(reverse("assessments:reports"))  # writes the session once
        self.add_reports(5)
        small = self.queries("assessments:reports")
        self.add_reports(495)
        self.assertEqual(self.queries("assessments:reports"), small)
        response = self.client.get(reverse("assessments:reports"))
        self.assertLessEqual(len(response.context["jobs"]), 8)
        self.assertLessEqual(len(response.context["records"]), 12)
