"""Draft PDFs: unchanged content is served again, not re-rendered; renders are rate-limited."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import time_machine
from django.core.cache import cache
from django.test import TestCase, override_settings
from django.urls import reverse

from assessments import actions
from assessments.models import AuditEvent, ReportRecord
from assessments.reports import assessment as report_module
from tests import factories as f


def report_url(a):
    return reverse("assessments:assessment_report", args=[a.agent.slug, a.number])


class DraftReportCacheTests(TestCase):
    def setUp(self):
        cache.clear()
        self.assessor = f.assessor()
        self.draft = f.answered(f.agent(slug="drafty"), self.assessor)
        self.viewer = f.viewer()
        self.client.force_login(self.viewer)

    def test_the_same_content_is_rendered_once_per_person_and_served_again(self):
        real = report_module.render_assessment_report
        with mock.patch.object(
            report_module, "render_assessment_report", side_effect=real
        ) as render:
            first = self.client.get(report_url(self.draft))
            second = self.client.get(report_url(self.draft))
        self.assertEqual(render.call_count, 1)
        self.assertEqual(first.content, second.content)
        self.assertEqual(first["Content-Disposition"], second["Content-Disposition"])
        self.assertEqual(ReportRecord.objects.filter(assessment=self.draft).count(), 1)
        self.assertEqual(AuditEvent.objects.filter(verb="report.issue").count(), 1)

    def test_changed_content_or_another_person_gets_a_fresh_copy(self):
        self.client.get(report_url(self.draft))
        self.client.force_login(f.viewer("vic"))  # the PDF names who generated it
        self.client.get(report_url(self.draft))
        actions.save_answers(
            self.assessor,
            self.draft,
            {"network_reach": "internet"},
            expected_version=self.draft.lock_version,
        )
        self.client.get(report_url(self.draft))
        self.assertEqual(ReportRecord.objects.filter(assessment=self.draft).count(), 3)

    @override_settings(REPORT_RENDER_LIMIT=2)
    def test_renders_are_rate_limited_per_person(self):
        drafts = [self.draft] + [
            f.answered(f.agent(slug=f"more-{n}"), self.assessor) for n in range(2)
        ]
        # Frozen in the middle of a minute: the limit is per fixed one-minute window.
        self.enterContext(
            time_machine.travel(dt.datetime(2031, 1, 1, 9, 0, 30, tzinfo=dt.UTC), tick=False)
        )
        self.client.force_login(self.viewer)
        statuses = [self.client.get(report_url(d)).status_code for d in drafts]
        self.assertEqual(statuses, [200, 200, 429])
        refused = self.client.get(report_url(drafts[2]))
        self.assertIn("Retry-After", refused.headers)
        self.assertEqual(ReportRecord.objects.count(), 2)
        # Unchanged drafts are served from the cache even at the limit.
        self.assertEqual(self.client.get(report_url(drafts[0])).status_code, 200)
        # Someone else has their own allowance.
        self.client.force_login(f.viewer("vic"))
        self.assertEqual(self.client.get(report_url(drafts[2])).status_code, 200)
