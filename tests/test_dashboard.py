"""The dashboard: figures, charts, links to the filtered lists, constant queries."""

from __future__ import annotations

import datetime as dt
import re

import time_machine
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import actions, portfolio
from assessments.models import (
    Agent,
    Assessment,
    GapException,
    PortfolioSnapshot,
    portfolio_changed,
)
from assessments.portfolio import stored as figures
from assessments.workflow import decisions
from tests import factories as f
from tests import review_helpers as h

DASHBOARD = reverse("assessments:dashboard")


class DashboardData(TestCase):
    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.who = h.people()
        # Machine identity, tier 1, overdue.
        self.script = h.assessed("script", self.who, name="Script", systems=[("erp", "read")])
        h.set_due(self.script, h.TODAY - dt.timedelta(days=3))
        # Agent identity, tier 2, with gaps AIC-01 and AIC-02 (static secret); AIC-02 excepted.
        self.chatty = h.assessed(
            "chatty",
            self.who,
            name="Chatty",
            systems=[("crm", "read")],
            decision_mode="context_driven",
            credential_model="static_secret",
        )
        latest = Assessment.objects.get(agent=self.chatty)
        GapException.objects.create(
            agent=self.chatty,
            assessment=latest,
            subject="AIC-02",
            reason="Rotation lands next sprint.",
            expires_on=h.TODAY + dt.timedelta(days=10),
            accepted_by=self.who["reviewer"],
        )
        GapException.objects.create(
            agent=self.chatty,
            assessment=latest,
            subject="broad_start",
            reason="Later.",
            expires_on=h.TODAY + dt.timedelta(days=60),
            accepted_by=self.who["reviewer"],
        )
        h.set_due(self.chatty, h.TODAY + dt.timedelta(days=20))
        # Reclassified: machine tier 1 -> agent identity tier 2, and triggered.
        self.moved = h.assessed("moved", self.who, name="Moved", systems=[("docs", "read")])
        f.approved(
            self.moved, self.who["assessor"], self.who["reviewer"], decision_mode="context_driven"
        )
        h.trigger(self.moved, "platform_change", "The platform changed.")
        # Approved twice with the same decision: not a reclassification.
        same = h.assessed("same", self.who, name="Same")
        f.approved(same, self.who["assessor"], self.who["reviewer"])
        f.agent(slug="fresh", name="Fresh")  # not assessed

    def get(self):
        self.client.force_login(self.who["viewer"])
        response = self.client.get(DASHBOARD)
        self.assertEqual(response.status_code, 200)
        return response


class DashboardTests(DashboardData):
    def test_agents_by_class_and_tier_link_to_the_filtered_agent_list(self):
        response = self.get()
        matrix = response.context["matrix"]
        self.assertEqual(matrix.count("machine_identity", 1), 2)
        self.assertEqual(matrix.count("agent_identity", 2), 2)
        self.assertEqual((matrix.unassessed, matrix.total), (1, 5))
        self.assertContains(
            response,
            'href="/agents/?classification=agent_identity&amp;tier=2" '
            'aria-label="Agent identity, tier 2 (elevated): 2 agents"',
        )
        self.assertContains(response, 'href="/agents/?classification=unassessed"')
        # The link leads to exactly those agents.
        listed = self.client.get("/agents/?classification=agent_identity&tier=2")
        self.assertEqual({a.slug for a in listed.context["agents"]}, {"chatty", "moved"})

    def test_review_states_link_to_the_filtered_queue(self):
        response = self.get()
        self.assertEqual(
            response.context["states"],
            {"overdue": 1, "triggered": 1, "due": 1, "triggered_overdue": 0, "total": 3},
        )
        for state in ("overdue", "triggered", "due"):
            self.assertContains(response, f'href="/queue/?state={state}"')
        queue = self.client.get("/queue/?state=overdue")
        self.assertEqual([r["agent_slug"] for r in queue.context["rows"]], ["script"])

    def test_open_gaps_leave_out_subjects_with_an_active_exception(self):
        gaps = self.get().context["gaps"]
        chatty = next(a for a in gaps.agents if a.slug == "chatty")
        self.assertEqual([c for c, _title in chatty.gaps], ["AIC-01"])
        # Once the exception has expired, the gap counts again.
        self.traveller.shift(dt.timedelta(days=15))
        gaps = self.get().context["gaps"]
        chatty = next(a for a in gaps.agents if a.slug == "chatty")
        self.assertEqual([c for c, _title in chatty.gaps], ["AIC-01", "AIC-02"])

    def test_only_the_latest_approved_assessment_counts_for_gaps(self):
        f.approved(self.chatty, self.who["assessor"], self.who["reviewer"])  # fixed script now
        gaps = self.get().context["gaps"]
        self.assertNotIn("chatty", [a.slug for a in gaps.agents])

    def test_exceptions_expiring_within_30_days(self):
        response = self.get()
        self.assertEqual([e.subject for e in response.context["expiring"]], ["AIC-02"])
        self.assertContains(response, "10 days left")

    def test_recent_reclassifications(self):
        response = self.get()
        rows = response.context["reclassified"]
        self.assertEqual(
            [(a.agent.slug, a.prev_class, a.prev_tier, a.classification, a.tier) for a in rows],
            [("moved", "machine_identity", 1, "agent_identity", 2)],
        )
        self.assertContains(response, "/agents/moved/assessments/compare/?from=1&amp;to=2")

    def test_charts_are_described_for_assistive_technology(self):
        html = self.get().content.decode()
        self.assertIn('<title id="class-tier-title">', html)
        self.assertRegex(
            html, r'<desc id="class-tier-desc">[^<]*Tier 2 \(elevated\): 2 agent identity'
        )
        self.assertIn('aria-labelledby="review-states-title review-states-desc"', html)
        self.assertIn('aria-label="Overdue: 1 review"', html)
        self.assertNotRegex(html, r"\sstyle\s*=")

    def test_an_empty_portfolio_renders(self):
        Agent.objects.update(status="retired")
        response = self.get()
        self.assertContains(response, "No agents yet")
        self.assertContains(response, "No open gaps")
        self.assertEqual(response.context["states"]["total"], 0)


class DashboardQueryCountTests(TestCase):
    def setUp(self):
        self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.viewer = f.viewer()
        self.assessor = f.assessor()
        self.team = f.team()
        self.catalogue = decisions.current_catalogue()
        self.add(10)
        self.client.force_login(self.viewer)
        self.client.get(DASHBOARD)  # the first request after sign-in also writes the session

    def add(self, count, prefix="bulk"):
        h.bulk_queue(count, self.viewer, self.team, h.TODAY, prefix=prefix)
        agents = Agent.objects.filter(slug__startswith=f"{prefix}-")
        controls = [
            {"id": "AIC-01", "title": "Dedicated workload identity", "status": "gap"},
            {"id": "AIC-05", "title": "Per-action audit record", "status": "in_place"},
        ]
        now = timezone.now()
        Assessment.objects.bulk_create(
            Assessment(
                agent=agent,
                number=number,
                status="approved",
                questionnaire_version="1",
                catalogue=self.catalogue,
                answers={},
                result={"controls": controls},
                classification=agent.current_classification,
                tier=agent.current_tier if number == 2 else 1,
                assessor=self.assessor,
                decided_at=now - dt.timedelta(days=10 - number),
            )
            for agent in agents
            for number in (1, 2)
        )
        GapException.objects.bulk_create(
            GapException(
                agent=agent,
                assessment_id=Assessment.objects.filter(agent=agent).values_list("pk", flat=True)[
                    0
                ],
                subject="AIC-01",
                reason="Bulk.",
                expires_on=h.TODAY + dt.timedelta(days=5),
                accepted_by=self.viewer,
            )
            for agent in agents[:3]
        )

    def test_the_dashboard_takes_the_same_queries_for_10_and_5000_agents(self):
        # The first request after a change computes the figures and stores the snapshot;
        # the ones after it read the snapshot. Each takes the same queries at any size.
        portfolio_changed()
        with CaptureQueriesContext(connection) as ctx:
            small = self.client.get(DASHBOARD)
        computing = len(ctx.captured_queries)
        self.assertEqual(small.context["matrix"].total, 10)
        with CaptureQueriesContext(connection) as ctx:
            self.client.get(DASHBOARD)
        reading = len(ctx.captured_queries)
        self.assertLess(reading, computing)
        self.add(4990, prefix="more")
        # Their gaps read as the first computation after them reads them (once per
        # approved version: a few statements, and the planner statistics refreshed).
        self.assertEqual(portfolio.gaps.index_gaps(), 2 * 4990)  # two versions each
        with self.assertNumQueries(computing):
            large = self.client.get(DASHBOARD)
        with self.assertNumQueries(reading):
            again = self.client.get(DASHBOARD)
        self.assertEqual(again.context["matrix"].total, 5000)
        for key in ("states", "assessment_states", "expiring_total"):
            self.assertEqual(again.context[key], large.context[key])
        self.assertEqual(again.context["gaps"], large.context["gaps"])
        self.assertEqual(large.context["matrix"].total, 5000)
        self.assertEqual(large.context["states"]["total"], 5000)
        self.assertEqual(large.context["gaps"].agent_count, 5000 - 6)
        self.assertEqual(len(large.context["expiring"]), 6)
        self.assertEqual(len(large.context["reclassified"]), 8)
        self.assertLess(len(re.findall(r"<tr>", large.content.decode())), 40)

    def test_review_states_partition_the_queue(self):
        # bulk_queue: a third overdue, a third due today, a third triggered.
        self.assertEqual(
            portfolio.review_states(h.TODAY),
            {"overdue": 4, "due": 3, "triggered": 3, "triggered_overdue": 0, "total": 10},
        )


class SnapshotTests(DashboardData):
    """The dashboard reads its figures from a snapshot; every kind of write to what the
    figures count marks it changed and queues its computation (the test suite's
    immediate backend runs it at once, so the next page shows the new figures)."""

    def test_the_second_request_reads_the_snapshot_and_shows_the_same_figures(self):
        first = self.get()
        self.assertEqual(PortfolioSnapshot.objects.count(), 1)
        second = self.get()
        for key in ("states", "assessment_states", "expiring_total", "gaps"):
            self.assertEqual(second.context[key], first.context[key])
        self.assertEqual(
            [a.pk for a in second.context["reclassified"]],
            [a.pk for a in first.context["reclassified"]],
        )
        self.assertEqual(
            [e.pk for e in second.context["expiring"]], [e.pk for e in first.context["expiring"]]
        )

    def test_saving_updating_creating_in_bulk_and_deleting_each_mark_the_snapshot(self):
        total = self.get().context["matrix"].total
        f.agent(slug="saved", name="Saved")  # save()
        self.assertEqual(self.get().context["matrix"].total, total + 1)
        Agent.objects.filter(slug="saved").update(status="retired")  # QuerySet.update()
        self.assertEqual(self.get().context["matrix"].total, total)
        Agent.objects.filter(slug="saved").update(status="active")
        clone = Agent.objects.get(slug="saved")
        clone.pk, clone.slug, clone.name = None, "bulk-made", "Bulk made"
        Agent.objects.bulk_create([clone])  # bulk_create()
        self.assertEqual(self.get().context["matrix"].total, total + 2)
        Agent.objects.filter(slug="bulk-made").delete()  # delete()
        self.assertEqual(self.get().context["matrix"].total, total + 1)

    def test_an_expiring_exception_revoked_leaves_the_figures(self):
        self.assertEqual(self.get().context["expiring_total"], 1)
        GapException.objects.filter(subject="AIC-02").update(revoked_at=timezone.now())
        self.assertEqual(self.get().context["expiring_total"], 0)

    def test_autosaving_a_draft_keeps_the_snapshot_and_starting_one_marks_it_changed(self):
        self.get()
        draft = actions.start_assessment(self.who["assessor"], Agent.objects.get(slug="fresh"))
        self.assertIsNotNone(PortfolioSnapshot.objects.get(scope="").changed_at)
        self.assertEqual(self.get().context["assessment_states"]["in_draft"], 1)
        actions.save_answers(
            self.who["assessor"],
            draft,
            {"decision_mode": "context_driven"},
            expected_version=draft.lock_version,
        )
        self.assertIsNone(PortfolioSnapshot.objects.get(scope="").changed_at)

    def test_a_new_day_computes_its_own_figures(self):
        self.get()
        self.traveller.shift(dt.timedelta(days=1))
        response = self.get()
        self.assertEqual(
            list(PortfolioSnapshot.objects.values_list("day", flat=True)),
            [response.context["today"]],
        )

    def test_a_snapshot_older_than_its_maximum_age_is_computed_again(self):
        self.get()
        # A snapshot that missed a write (as when the write commits while it is computed).
        stored = PortfolioSnapshot.objects.get(scope="").figures
        PortfolioSnapshot.objects.update(figures=stored | {"expiring_total": 99})
        self.assertEqual(self.get().context["expiring_total"], 99)  # read as stored
        self.traveller.shift(figures.MAX_AGE + dt.timedelta(seconds=1))
        self.assertEqual(self.get().context["expiring_total"], 1)

    def test_the_expiring_list_is_bounded_and_says_how_many_there_are(self):
        latest = Assessment.objects.filter(agent=self.chatty).latest("number")
        GapException.objects.bulk_create(
            GapException(
                agent=self.chatty,
                assessment=latest,
                subject=f"AIC-{n:02}",
                reason="Bulk.",
                expires_on=h.TODAY + dt.timedelta(days=n),
                accepted_by=self.who["reviewer"],
            )
            for n in range(10, 22)
        )
        response = self.get()
        shown = portfolio.EXPIRING_SHOWN
        self.assertEqual(len(response.context["expiring"]), shown)
        self.assertEqual(response.context["expiring_total"], 13)
        self.assertContains(response, f"The {shown} expiring soonest of 13.")
        days = [e.expires_on for e in response.context["expiring"]]
        self.assertEqual(days, sorted(days))
