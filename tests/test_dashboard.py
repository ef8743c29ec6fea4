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

from assessments import decisions, portfolio
from assessments.models import Agent, Assessment, GapException
from tests import factories as f
from tests import review_helpers as h

DASHBOARD = reverse("assessments:dashboard")


class DashboardTests(TestCase):
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
        self.assertEqual([r.agent.slug for r in queue.context["rows"]], ["script"])

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
        with CaptureQueriesContext(connection) as ctx:
            small = self.client.get(DASHBOARD)
        queries = len(ctx.captured_queries)
        self.assertEqual(small.context["matrix"].total, 10)
        self.add(4990, prefix="more")
        with self.assertNumQueries(queries):
            large = self.client.get(DASHBOARD)
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
