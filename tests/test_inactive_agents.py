"""An agent's last activity from discovery and evidence, and the "Decommission?"
review's answers: keep, retire, decommission (issue 26, item 3)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import time_machine
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from assessments import actions, discovery, portfolio
from assessments.actions import discovery as discovery_actions
from assessments.models import Agent, AuditEvent, DiscoveredIdentity, Review
from tests import factories as f
from tests.api_helpers import ApiClient, token_for
from tests.discovery_helpers import ACCOUNT, AGENT_ROLE

# After the discovery fixture's last-used dates (30 Nov 2026), before the evidence's.
DAY = dt.datetime(2026, 12, 20, 9, tzinfo=dt.UTC)
EVIDENCE = (
    Path(__file__).parent / "fixtures" / "evidence" / "aws" / "account-authorization-details.json"
)
PLANNER = "arn:aws:iam::123456789012:role/agents/release-planner"


def discover(actor=None):
    file, data = discovery.load_path(ACCOUNT)
    reading = discovery.read("aws", [file])
    run = discovery_actions.store_run(actor, "aws", [(file.name, data)], [file])
    discovery_actions.reconcile(run, reading, [(file.name, data)], actor=actor)
    return DiscoveredIdentity.objects.get(external_id=AGENT_ROLE)


@time_machine.travel(DAY, tick=False)
class ActivitySourcesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()

    def test_a_linked_identitys_last_use_is_the_agents_last_activity(self):
        identity = discover()
        agent = f.agent(slug="support")
        DiscoveredIdentity.objects.filter(pk=identity.pk).update(agent=agent)
        discover()  # the next run reads it again, now linked
        agent.refresh_from_db()
        self.assertEqual(agent.last_activity_on, dt.date(2026, 11, 30))
        self.assertIn("discovery", agent.last_activity_source)
        self.assertIn("RoleLastUsed", agent.last_activity_source)
        self.assertTrue(AuditEvent.objects.filter(verb="agent.activity").exists())

    def test_a_later_date_by_hand_wins_and_is_shown_with_its_source(self):
        agent = f.agent(slug="support")
        today = timezone.localdate()
        actions.record_activity(
            self.assessor, agent, today - dt.timedelta(days=2), source="by hand: job log"
        )
        identity = discover()
        DiscoveredIdentity.objects.filter(pk=identity.pk).update(agent=agent)
        discover()
        agent.refresh_from_db()
        self.assertEqual(agent.last_activity_source, "by hand: job log")
        self.client.force_login(self.assessor)
        page = self.client.get(agent.get_absolute_url())
        self.assertContains(page, "by hand: job log")

    def test_evidence_that_says_when_the_role_was_last_used_counts(self):
        account = json.loads(EVIDENCE.read_text())
        for role in account["RoleDetailList"]:
            if role["Arn"] == PLANNER:
                role["RoleLastUsed"] = {
                    "LastUsedDate": "2026-12-18T08:00:00Z",
                    "Region": "eu-west-1",
                }
        agent = f.agent(slug="release-planner")
        actions.upload_evidence(
            self.assessor,
            agent,
            [("account.json", json.dumps(account).encode())],
            kind="aws",
            principal=PLANNER,
        )
        agent.refresh_from_db()
        self.assertEqual(agent.last_activity_on, dt.date(2026, 12, 18))
        self.assertEqual(agent.last_activity_source, f"evidence: RoleLastUsed of {PLANNER}")

    def test_evidence_without_a_last_use_changes_nothing(self):
        agent = f.agent(slug="release-planner")
        actions.upload_evidence(
            self.assessor,
            agent,
            [("account.json", EVIDENCE.read_bytes())],
            kind="aws",
            principal=PLANNER,
        )
        self.assertIsNone(Agent.objects.get(pk=agent.pk).last_activity_on)


@override_settings(INACTIVE_AGENT_DAYS=90)
@time_machine.travel(DAY, tick=False)
class DecommissionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.viewer = f.viewer()

    def setUp(self):
        self.agent = f.agent(slug="idle", name="Idle")
        actions.record_activity(
            self.assessor, self.agent, timezone.localdate() - dt.timedelta(days=120), source="logs"
        )
        [self.review] = actions.flag_inactive_agents()
        self.url = reverse("assessments:agent_decommission", args=["idle"])

    def test_keep_needs_a_reason_then_closes_the_review_and_restarts_the_clock(self):
        self.client.force_login(self.assessor)
        page = self.client.get(self.agent.get_absolute_url())
        self.assertContains(page, "Answer “Decommission?”")
        refused = self.client.post(self.url, {"outcome": "keep", "reason": " "})
        self.assertEqual(refused.status_code, 422)
        self.assertContains(refused, "Say why", status_code=422)
        self.assertEqual(Review.objects.get(pk=self.review.pk).state, "open")
        done = self.client.post(self.url, {"outcome": "keep", "reason": "Runs at year end"})
        self.assertRedirects(done, self.agent.get_absolute_url())
        self.assertEqual(Review.objects.get(pk=self.review.pk).state, "closed")
        agent = Agent.objects.get(pk=self.agent.pk)
        self.assertEqual(agent.kept_on, timezone.localdate())
        self.assertEqual(portfolio.accountability(timezone.localdate()).inactive, 0)
        self.assertEqual(actions.flag_inactive_agents(), [])
        event = AuditEvent.objects.get(verb="agent.kept")
        self.assertEqual(event.changes["reason"], "Runs at year end")
        # 90 idle days after the keep, it is asked again.
        later = timezone.localdate() + dt.timedelta(days=91)
        self.assertEqual(portfolio.accountability(later).inactive, 1)
        self.assertEqual(len(actions.flag_inactive_agents(today=later)), 1)

    def test_keep_leaves_a_scheduled_reassessment_open_at_its_own_date(self):
        Review.objects.filter(pk=self.review.pk).update(
            reasons=[
                {"code": "interval", "detail": "Scheduled", "at": "x"},
                *self.review.reasons,
            ]
        )
        Agent.objects.filter(pk=self.agent.pk).update(
            next_review_on=timezone.localdate() + dt.timedelta(days=30)
        )
        actions.answer_decommission(self.assessor, self.agent, "keep", reason="Still needed")
        review = Review.objects.get(pk=self.review.pk)
        self.assertEqual((review.state, review.triggered_at), ("open", None))
        self.assertEqual(review.due_on, timezone.localdate() + dt.timedelta(days=30))
        self.assertEqual([r["code"] for r in review.reasons], ["interval"])

    def test_retire_retires_the_agent_and_closes_the_review(self):
        self.client.force_login(self.assessor)
        self.client.post(self.url, {"outcome": "retire"})
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).status, "retired")
        self.assertEqual(Review.objects.get(pk=self.review.pk).state, "closed")
        self.assertFalse(AuditEvent.objects.filter(verb="agent.decommission").exists())

    def test_decommission_retires_it_with_a_decommission_event_through_the_api(self):
        api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))
        response = api.post(
            "/agents/idle/decommission", {"outcome": "decommission", "reason": "Replaced by v2"}
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["status"], "retired")
        event = AuditEvent.objects.get(verb="agent.decommission")
        self.assertEqual(event.changes["reason"], "Replaced by v2")
        self.assertTrue(AuditEvent.objects.filter(verb="agent.retire").exists())
        again = api.post("/agents/idle/decommission", {"outcome": "keep", "reason": "x"})
        self.assertEqual(again.status_code, 422)

    def test_the_api_refuses_a_keep_without_reason_and_an_unknown_answer(self):
        api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))
        self.assertEqual(
            api.post("/agents/idle/decommission", {"outcome": "keep"}).status_code, 422
        )
        self.assertEqual(
            api.post("/agents/idle/decommission", {"outcome": "archive"}).status_code, 422
        )
        self.assertEqual(Review.objects.get(pk=self.review.pk).state, "open")

    def test_a_viewer_cannot_answer(self):
        self.client.force_login(self.viewer)
        self.assertEqual(self.client.post(self.url, {"outcome": "retire"}).status_code, 403)
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).status, "active")
