"""Open gaps at scale: the gaps read once per approved version (``index_gaps``) and
counted from those rows give what expanding every latest approved result gives."""

from __future__ import annotations

import datetime as dt
import importlib
from types import SimpleNamespace

from django.apps import apps as django_apps
from django.db import connection
from django.db.models import F
from django.utils import timezone

from assessments import actions, portfolio
from assessments.models import Agent, ApprovedGap, Assessment, GapException
from assessments.portfolio import gaps as open_gap_figures
from tests import factories as f
from tests import review_helpers as h
from tests.test_dashboard import DashboardData

STATIC = {"decision_mode": "context_driven", "credential_model": "static_secret"}


def _shape(gaps: portfolio.Gaps) -> tuple:
    return (
        gaps.total,
        gaps.agent_count,
        gaps.by_control,
        [(a.slug, a.tier, a.number, a.gaps) for a in gaps.agents],
    )


class OpenGapsTests(DashboardData):
    def setUp(self):
        super().setUp()
        # More agents with gaps: one approved twice (the second still has gaps), one
        # retired (its gaps no longer count), one with a renewed exception.
        self.twice = h.assessed("twice", self.who, name="Twice", systems=[("hr", "read")], **STATIC)
        f.approved(self.twice, self.who["assessor"], self.who["reviewer"], **STATIC)
        gone = h.assessed("gone", self.who, name="Gone", systems=[("ops", "read")], **STATIC)
        actions.retire_agent(f.administrator(), gone)
        renewed = h.assessed(
            "renewed", self.who, name="Renewed", systems=[("bi", "read")], **STATIC
        )
        latest = Assessment.objects.get(agent=renewed)
        for days in (200, 5):  # the renewal (later, shorter) supersedes the first
            GapException.objects.create(
                agent=renewed,
                assessment=latest,
                subject="AIC-01",
                reason="Accepted.",
                expires_on=h.TODAY + dt.timedelta(days=days),
                accepted_by=self.who["reviewer"],
            )

    def test_the_indexed_rows_count_what_the_results_say(self):
        today = timezone.localdate()
        open_gap_figures.index_gaps()
        for top in (8, 2, 1, 0):
            for agents in (None, Agent.objects.filter(slug__in=["chatty", "renewed", "gone"])):
                with self.subTest(top=top, scoped=agents is not None):
                    indexed = portfolio.open_gaps(today, top=top, agents=agents, indexed=True)
                    expanded = portfolio.open_gaps(today, top=top, agents=agents)
                    self.assertEqual(_shape(indexed), _shape(expanded))
        whole = portfolio.open_gaps(today, indexed=True)
        self.assertIsInstance(whole.total, int)  # not PostgreSQL's numeric sum
        self.assertNotIn("gone", [a.slug for a in whole.agents])
        self.assertEqual(whole.agent_count, len(whole.agents))
        self.assertEqual(whole.total, sum(len(a.gaps) for a in whole.agents))
        self.assertEqual(whole.total, sum(n for _c, _t, n in whole.by_control))
        # The agent approved twice is listed with its latest approved version.
        twice = next(a for a in whole.agents if a.slug == "twice")
        self.assertEqual(twice.number, 2)
        # The renewed exception has expired in five days' time: AIC-01 counts again.
        later = today + dt.timedelta(days=6)
        renewed = next(
            a for a in portfolio.open_gaps(later, indexed=True).agents if a.slug == "renewed"
        )
        self.assertIn("AIC-01", [c for c, _t in renewed.gaps])

    def test_the_top_agents_are_the_first_of_the_whole_order(self):
        today = timezone.localdate()
        open_gap_figures.index_gaps()
        everyone = [a.slug for a in portfolio.open_gaps(today, top=50, indexed=True).agents]
        self.assertGreater(len(everyone), 2)
        for top in range(1, len(everyone) + 1):
            listed = [a.slug for a in portfolio.open_gaps(today, top=top, indexed=True).agents]
            self.assertEqual(listed, everyone[:top])

    def test_each_approved_version_is_read_once(self):
        read = open_gap_figures.index_gaps()
        self.assertEqual(read, Assessment.objects.approved().count())
        rows = ApprovedGap.objects.count()
        with self.assertNumQueries(2):  # two counts agree: nothing to read
            self.assertEqual(open_gap_figures.index_gaps(), 0)
        f.approved(self.chatty, self.who["assessor"], self.who["reviewer"], **STATIC)
        self.assertEqual(open_gap_figures.index_gaps(), 1)
        self.assertGreater(ApprovedGap.objects.count(), rows)
        # Every row names its assessment's agent.
        mismatched = ApprovedGap.objects.exclude(agent_id=F("assessment__agent_id"))
        self.assertFalse(mismatched.exists())

    def test_only_each_agents_latest_approved_version_keeps_its_gap_rows(self):
        open_gap_figures.index_gaps()
        first = Assessment.objects.get(agent=self.twice, number=1)
        second = Assessment.objects.get(agent=self.twice, number=2)
        self.assertFalse(ApprovedGap.objects.filter(assessment=first).exclude(control_id=""))
        self.assertTrue(ApprovedGap.objects.filter(assessment=first, control_id=""))
        self.assertTrue(ApprovedGap.objects.filter(assessment=second).exclude(control_id=""))
        third = f.approved(self.twice, self.who["assessor"], self.who["reviewer"], **STATIC)
        self.assertEqual(open_gap_figures.index_gaps(), 1)
        self.assertFalse(ApprovedGap.objects.filter(assessment=second).exclude(control_id=""))
        self.assertTrue(ApprovedGap.objects.filter(assessment=second, control_id=""))
        self.assertTrue(ApprovedGap.objects.filter(assessment=third).exclude(control_id=""))
        # The agents' other rows are untouched: still what the results say.
        today = timezone.localdate()
        self.assertEqual(
            _shape(portfolio.open_gaps(today, indexed=True)), _shape(portfolio.open_gaps(today))
        )

    def test_the_migration_forgets_the_gap_rows_of_superseded_versions(self):
        migration = importlib.import_module("assessments.migrations.0094_approved_gaps_latest_only")
        open_gap_figures.index_gaps()
        first = Assessment.objects.get(agent=self.twice, number=1)
        # As an earlier release left them: the first version's gap rows kept.
        ApprovedGap.objects.create(
            assessment=first, agent=self.twice, control_id="AIC-01", title="Identity"
        )
        kept = set(
            ApprovedGap.objects.exclude(assessment=first).values_list("assessment_id", "control_id")
        )
        # The schema editor's part in it: which database, and running its ANALYZE.
        editor = SimpleNamespace(connection=connection, execute=connection.cursor().execute)
        migration.forget_superseded_gaps(django_apps, editor)
        self.assertEqual(
            set(ApprovedGap.objects.values_list("assessment_id", "control_id")),
            kept | {(first.pk, "")},
        )

    def test_the_latest_approved_version_of_each_agent(self):
        f.approved(self.twice, self.who["assessor"], self.who["reviewer"])
        latest = dict(Assessment.objects.latest_approved().values_list("agent__slug", "number"))
        self.assertEqual(latest["twice"], 3)
        self.assertEqual(latest["chatty"], 1)
        self.assertEqual(latest["moved"], 2)
