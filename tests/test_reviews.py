"""Scheduled reviews and every change trigger (and non-trigger) of a reassessment."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import time_machine
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from assessments import actions
from assessments.models import AuditEvent, GapException, Review, ReviewInterval
from tests import factories as f
from tests import review_helpers as h


class FrozenTestCase(TestCase):
    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.who = h.people()


class ScheduledReviewTests(FrozenTestCase):
    def test_approval_schedules_the_next_review_at_the_tiers_interval(self):
        agent = f.agent(slug="bot", systems=[("erp", "write")])
        f.approved(agent, self.who["assessor"], self.who["reviewer"])  # fixed script: tier 1
        review = h.open_review(agent)
        self.assertEqual(review.due_on, h.TODAY + dt.timedelta(days=365))
        self.assertIsNone(review.triggered_at)
        self.assertEqual(review.reasons[0]["code"], "interval")
        self.assertIn("every 365 days", review.reasons[0]["detail"])
        agent.refresh_from_db()
        self.assertEqual(agent.next_review_on, review.due_on)

    def test_an_administrators_interval_applies_even_when_changed_after_submission(self):
        agent = f.agent(slug="bot", systems=[("erp", "write")])
        a = actions.submit_assessment(self.who["assessor"], f.answered(agent, self.who["assessor"]))
        self.assertEqual(a.result["review_interval_days"], 365)
        ReviewInterval.objects.create(tier=1, days=200)
        self.traveller.shift(dt.timedelta(days=3))
        actions.approve_assessment(self.who["reviewer"], a)
        review = h.open_review(agent)
        self.assertEqual(review.due_on, h.TODAY + dt.timedelta(days=3 + 200))
        self.assertIn("every 200 days", review.reasons[0]["detail"])

    def test_administrators_edit_intervals_in_the_admin(self):
        admin = f.administrator()
        self.client.force_login(admin)
        response = self.client.post(
            reverse("admin:assessments_reviewinterval_add"), {"tier": 4, "days": 14}
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(ReviewInterval.objects.get(tier=4).days, 14)
        response = self.client.post(
            reverse("admin:assessments_reviewinterval_add"), {"tier": 3, "days": 0}
        )
        self.assertEqual(response.status_code, 200)  # refused: 1 to 3650 days
        self.assertFalse(ReviewInterval.objects.filter(tier=3).exists())
        self.client.force_login(self.who["reviewer"])
        response = self.client.get(reverse("admin:assessments_reviewinterval_changelist"))
        self.assertEqual(response.status_code, 403)

    def test_approving_the_reassessment_closes_the_review_and_schedules_the_next(self):
        agent = h.assessed("bot", self.who, systems=[("erp", "read")])
        first = h.open_review(agent)
        h.trigger(agent)
        a = actions.submit_assessment(self.who["assessor"], f.answered(agent, self.who["assessor"]))
        actions.approve_assessment(self.who["reviewer"], a)
        first.refresh_from_db()
        self.assertEqual(first.state, "closed")
        self.assertEqual(first.closed_by_assessment, a)
        self.assertEqual(Review.objects.open().filter(agent=agent).count(), 1)
        self.assertIsNone(h.open_review(agent).triggered_at)


class InventoryTriggerTests(FrozenTestCase):
    def setUp(self):
        super().setUp()
        self.agent = h.assessed("bot", self.who, systems=[("erp", "read"), ("docs", "write")])
        self.scheduled = h.open_review(self.agent)

    def edit(self, **kwargs):
        return actions.update_agent(self.who["assessor"], self.agent, **kwargs)

    def codes(self):
        review = h.open_review(self.agent)
        return [r["code"] for r in review.reasons if r["code"] != "interval"]

    def systems(self, *rows):
        return [{"name": n, "access": a} for n, a in rows]

    def assert_triggered(self, code, text):
        review = h.open_review(self.agent)
        self.assertEqual(review.pk, self.scheduled.pk, "reasons accumulate on the one review")
        self.assertEqual(review.due_on, h.TODAY)
        self.assertEqual(review.triggered_at, h.NOW)
        self.assertIn(code, self.codes())
        self.assertTrue(any(text in r["detail"] for r in review.reasons), review.reasons)

    def assert_not_triggered(self):
        review = h.open_review(self.agent)
        self.assertEqual(review.pk, self.scheduled.pk)
        self.assertIsNone(review.triggered_at)
        self.assertEqual(review.due_on, self.scheduled.due_on)
        self.assertEqual(self.codes(), [])

    def test_a_system_added_with_write_access_triggers(self):
        self.edit(
            fields={}, systems=self.systems(("erp", "read"), ("docs", "write"), ("crm", "write"))
        )
        self.assert_triggered("system_access", "System crm added with write access.")

    def test_a_system_added_with_admin_access_triggers(self):
        self.edit(
            fields={}, systems=self.systems(("erp", "read"), ("docs", "write"), ("iam", "admin"))
        )
        self.assert_triggered("system_access", "System iam added with admin access.")

    def test_access_raised_to_write_triggers(self):
        self.edit(fields={}, systems=self.systems(("erp", "write"), ("docs", "write")))
        self.assert_triggered("system_access", "Access to erp raised from read to write.")

    def test_a_new_link_triggers(self):
        f.agent(slug="helper")
        self.edit(fields={}, links=[{"kind": "orchestrates", "other": "helper"}])
        self.assert_triggered("new_link", "New link: orchestrates helper.")

    def test_a_credential_change_triggers(self):
        self.edit(fields={"credential_model": "static_secret"})
        self.assert_triggered("credential_change", "The credential model changed")

    def test_a_platform_change_triggers(self):
        self.edit(fields={"platform": "AWS Lambda"})
        self.assert_triggered("platform_change", "The platform changed")

    def test_a_read_only_system_does_not_trigger(self):
        self.edit(
            fields={}, systems=self.systems(("erp", "read"), ("docs", "write"), ("wiki", "read"))
        )
        self.assert_not_triggered()

    def test_lowering_or_removing_access_does_not_trigger(self):
        self.edit(fields={}, systems=self.systems(("erp", "read"), ("docs", "read")))
        self.edit(fields={}, systems=self.systems(("erp", "read")))
        self.assert_not_triggered()

    def test_descriptive_edits_do_not_trigger(self):
        other_team = f.team("Finance")
        self.edit(
            fields={
                "name": "Renamed",
                "purpose": "Something else entirely.",
                "environments": ["staging"],
                "team": other_team,
                "owner": self.who["viewer"],
            }
        )
        self.assert_not_triggered()

    def test_removing_a_link_does_not_trigger(self):
        f.agent(slug="helper")
        self.edit(fields={}, links=[{"kind": "peer", "other": "helper"}])
        review = h.open_review(self.agent)
        reasons_before = list(review.reasons)
        self.edit(fields={}, links=[])
        self.assertEqual(h.open_review(self.agent).reasons, reasons_before)

    def test_further_changes_accumulate_reasons_on_the_one_open_review(self):
        self.edit(fields={"platform": "AWS Lambda"})
        self.traveller.shift(dt.timedelta(hours=2))
        self.edit(fields={"credential_model": "per_task_tokens"})
        self.assertEqual(Review.objects.open().filter(agent=self.agent).count(), 1)
        review = h.open_review(self.agent)
        self.assertEqual(self.codes(), ["platform_change", "credential_change"])
        self.assertEqual(review.triggered_at, h.NOW)  # the first trigger
        stamps = [r["at"] for r in review.reasons if r["code"] != "interval"]
        self.assertEqual(stamps, [h.NOW.isoformat(), (h.NOW + dt.timedelta(hours=2)).isoformat()])
        self.assertEqual(AuditEvent.objects.filter(verb="review.trigger").count(), 2)


class PlannedChangeTests(FrozenTestCase):
    def setUp(self):
        super().setUp()
        self.agent = h.assessed(
            "copilot",
            self.who,
            systems=[("policies", "read")],
            planned_changes=["write_access", "tool_chaining"],
        )
        self.url = lambda change: reverse(
            "assessments:planned_change_landed", args=["copilot", change]
        )

    def test_marking_a_planned_change_landed_triggers_the_review_with_the_reason(self):
        self.client.force_login(self.who["assessor"])
        page = self.client.get(self.agent.get_absolute_url())
        self.assertContains(page, "Planned changes")
        self.assertContains(page, f'action="{self.url("write_access")}"')
        response = self.client.post(self.url("write_access"))
        self.assertRedirects(response, self.agent.get_absolute_url())
        review = h.open_review(self.agent)
        self.assertEqual(review.triggered_at, h.NOW)
        self.assertEqual(review.due_on, h.TODAY)
        reason = review.reasons[-1]
        self.assertEqual(reason["code"], "planned_change")
        self.assertEqual(reason["subject"], "write_access")
        self.assertIn(
            "Planned change landed: write access (planned in assessment v1)", reason["detail"]
        )
        page = self.client.get(self.agent.get_absolute_url())
        self.assertContains(page, "Landed: reassessment open")
        self.assertNotContains(page, f'action="{self.url("write_access")}"')
        self.assertContains(page, f'action="{self.url("tool_chaining")}"')

    def test_the_same_change_cannot_be_marked_twice_while_the_review_is_open(self):
        actions.mark_planned_change_landed(self.who["assessor"], self.agent, "write_access")
        with self.assertRaisesMessage(actions.ActionError, "already marked as landed"):
            actions.mark_planned_change_landed(self.who["assessor"], self.agent, "write_access")
        actions.mark_planned_change_landed(self.who["assessor"], self.agent, "tool_chaining")
        codes = [r["code"] for r in h.open_review(self.agent).reasons]
        self.assertEqual(codes, ["interval", "planned_change", "planned_change"])

    def test_a_change_that_was_not_planned_is_refused(self):
        self.client.force_login(self.who["assessor"])
        response = self.client.post(self.url("dynamic_tools"), follow=True)
        self.assertContains(response, "not planned in the latest approved assessment")
        self.assertIsNone(h.open_review(self.agent).triggered_at)

    def test_viewers_see_the_changes_but_cannot_mark_them(self):
        self.client.force_login(self.who["viewer"])
        page = self.client.get(self.agent.get_absolute_url())
        self.assertContains(page, "Not landed yet")
        self.assertNotContains(page, "Mark as landed")
        self.assertEqual(self.client.post(self.url("write_access")).status_code, 403)
        self.assertIsNone(h.open_review(self.agent).triggered_at)


class ExpiredExceptionTests(FrozenTestCase):
    def setUp(self):
        super().setUp()
        # An agent identity with partial tracing: approved with an audit_gap exception.
        self.agent = h.assessed(
            "planner",
            self.who,
            systems=[("k8s", "write")],
            decision_mode="planner_executor",
            traced_policy_decision="some",
        )
        self.exception = GapException.objects.get(agent=self.agent, subject="audit_gap")
        self.scheduled = h.open_review(self.agent)
        self.expires = self.exception.expires_on

    def run_command(self, *args):
        out = StringIO()
        call_command("process_expired_exceptions", *args, stdout=out)
        return out.getvalue()

    def test_nothing_happens_before_the_exception_expires(self):
        self.traveller.move_to(dt.datetime.combine(self.expires, dt.time(23), tzinfo=dt.UTC))
        self.assertIn("No exception has expired", self.run_command())
        self.assertIsNone(h.open_review(self.agent).triggered_at)

    def test_an_expired_exception_triggers_the_review_once(self):
        self.traveller.move_to(self.expires + dt.timedelta(days=1))
        out = self.run_command()
        self.assertIn("planner: audit_gap expired on", out)
        self.assertIn("review triggered", out)
        review = h.open_review(self.agent)
        self.assertEqual(review.pk, self.scheduled.pk)
        self.assertIsNotNone(review.triggered_at)
        # Due at once, unless the scheduled date had already passed.
        today = self.expires + dt.timedelta(days=1)
        self.assertEqual(review.due_on, min(self.scheduled.due_on, today))
        reason = review.reasons[-1]
        self.assertEqual(reason["code"], "exception_expired")
        self.assertIn(
            "The exception for audit gap accepted by Rex Reviewer expired", reason["detail"]
        )
        self.exception.refresh_from_db()
        self.assertEqual(self.exception.expiry_processed_at, timezone.now())
        self.assertTrue(AuditEvent.objects.filter(verb="exception.expire").exists())
        # Idempotent: a second run (or the daily job) does nothing more.
        self.traveller.shift(dt.timedelta(days=1))
        self.assertIn("No exception has expired", self.run_command())
        call_command("send_review_reminders", stdout=StringIO())
        self.assertEqual(len(h.open_review(self.agent).reasons), len(review.reasons))

    def test_dry_run_changes_nothing(self):
        self.traveller.move_to(self.expires + dt.timedelta(days=1))
        out = self.run_command("--dry-run")
        self.assertIn("Would process 1 expired exception", out)
        self.assertIn("would trigger a review", out)
        self.exception.refresh_from_db()
        self.assertIsNone(self.exception.expiry_processed_at)
        self.assertIsNone(h.open_review(self.agent).triggered_at)

    def test_a_gap_still_covered_by_a_newer_exception_does_not_trigger(self):
        GapException.objects.create(
            agent=self.agent,
            assessment=self.exception.assessment,
            subject="audit_gap",
            reason="Extended while the gateway rolls out.",
            expires_on=self.expires + dt.timedelta(days=60),
            accepted_by=self.who["reviewer"],
        )
        self.traveller.move_to(self.expires + dt.timedelta(days=1))
        self.assertIn("gap no longer open", self.run_command())
        self.exception.refresh_from_db()
        self.assertIsNotNone(self.exception.expiry_processed_at)
        self.assertIsNone(h.open_review(self.agent).triggered_at)

    def test_a_gap_the_latest_assessment_no_longer_has_does_not_trigger(self):
        f.approved(self.agent, self.who["assessor"], self.who["reviewer"])  # fully traced now
        self.traveller.move_to(self.expires + dt.timedelta(days=1))
        self.run_command()
        self.exception.refresh_from_db()
        self.assertIsNotNone(self.exception.expiry_processed_at)
        self.assertIsNone(h.open_review(self.agent).triggered_at)

    def test_revoked_exceptions_and_retired_agents_are_left_alone(self):
        GapException.objects.filter(pk=self.exception.pk).update(revoked_at=timezone.now())
        self.traveller.move_to(self.expires + dt.timedelta(days=1))
        self.assertIn("No exception has expired", self.run_command())
        GapException.objects.filter(pk=self.exception.pk).update(revoked_at=None)
        actions.retire_agent(self.who["assessor"], self.agent)
        self.run_command()
        self.assertFalse(Review.objects.open().filter(agent=self.agent).exists())


class CompositeEscalationTests(FrozenTestCase):
    """A change to agent X that raises the reach of an agent linked to X (or of X)."""

    def setUp(self):
        super().setUp()
        self.orchestrator = h.assessed(
            "orchestrator", self.who, systems=[("queue", "write"), ("crm", "read")]
        )
        self.worker = h.assessed(
            "worker",
            self.who,
            systems=[("crm", "read")],
            links=[("orchestrated_by", "orchestrator")],
        )

    def edit_worker(self, *systems, links=None):
        return actions.update_agent(
            self.who["assessor"],
            self.worker,
            fields={},
            systems=[{"name": n, "access": a} for n, a in systems] if systems else None,
            links=links,
        )

    def composite(self, agent):
        review = h.open_review(agent)
        return [r for r in review.reasons if r["code"] == "composite_escalation"]

    def test_a_linked_agent_gaining_a_system_triggers_the_orchestrators_review(self):
        self.edit_worker(("crm", "read"), ("bank-api", "read"))
        reasons = self.composite(self.orchestrator)
        self.assertEqual(len(reasons), 1)
        self.assertEqual(
            reasons[0]["detail"],
            "Composite reach raised by a change to "
            f"{self.worker.name} (worker): through its linked agents it now reaches "
            "bank-api (read) through worker.",
        )
        self.assertEqual(reasons[0]["subject"], "worker")
        self.assertEqual(h.open_review(self.orchestrator).due_on, h.TODAY)
        # The worker's own read-only system triggers nothing for the worker itself.
        self.assertIsNone(h.open_review(self.worker).triggered_at)

    def test_a_linked_agent_raising_its_access_triggers(self):
        self.edit_worker(("crm", "admin"))
        detail = self.composite(self.orchestrator)[0]["detail"]
        self.assertIn("crm (admin) through worker", detail)

    def test_reach_the_agent_already_has_does_not_trigger(self):
        self.edit_worker(("crm", "read"), ("queue", "write"))  # orchestrator writes it already
        self.assertEqual(self.composite(self.orchestrator), [])
        self.assertIsNone(h.open_review(self.orchestrator).triggered_at)

    def test_lowering_or_removing_reach_does_not_trigger(self):
        self.edit_worker(("crm", "read"), ("bank-api", "admin"))
        before = len(h.open_review(self.orchestrator).reasons)
        self.edit_worker(("crm", "read"), ("bank-api", "read"))
        self.edit_worker(("crm", "read"))
        self.assertEqual(len(h.open_review(self.orchestrator).reasons), before)

    def test_a_new_link_that_brings_more_reach_triggers_both_sides(self):
        payments = h.assessed("payments", self.who, systems=[("bank-api", "admin")])
        self.edit_worker(
            links=[
                {"kind": "orchestrated_by", "other": "orchestrator"},
                {"kind": "peer", "other": "payments"},
            ]
        )
        # The edited agent: a new link, and more reach through it.
        codes = [r["code"] for r in h.open_review(self.worker).reasons]
        self.assertEqual(codes, ["interval", "new_link", "composite_escalation"])
        own = self.composite(self.worker)[0]["detail"]
        self.assertIn("a change to this agent", own)
        self.assertIn("bank-api (admin) through payments", own)
        # The agent it now links to reaches the worker's crm through it.
        theirs = self.composite(payments)[0]["detail"]
        self.assertIn(f"a change to {self.worker.name} (worker)", theirs)
        self.assertIn("crm (read) through worker", theirs)
        # The orchestrator's reach through the worker did not change.
        self.assertEqual(self.composite(self.orchestrator), [])

    def test_registering_a_new_agent_linked_to_an_assessed_one_triggers_it(self):
        newcomer = f.agent(
            slug="newcomer", systems=[("iam", "admin")], links=[("orchestrated_by", "orchestrator")]
        )
        detail = self.composite(self.orchestrator)[0]["detail"]
        self.assertIn(f"a change to {newcomer.name} (newcomer)", detail)
        self.assertIn("iam (admin) through newcomer", detail)
        self.assertFalse(Review.objects.filter(agent=newcomer).exists())

    def test_agents_not_assessed_yet_and_retired_agents_are_not_triggered(self):
        fresh = f.agent(slug="fresh", systems=[("crm", "read")], links=[("peer", "worker")])
        actions.retire_agent(self.who["assessor"], self.orchestrator)
        self.edit_worker(
            ("crm", "read"),
            ("bank-api", "admin"),
            links=[
                {"kind": "orchestrated_by", "other": "orchestrator"},
                {"kind": "peer", "other": "fresh"},
            ],
        )
        self.assertFalse(Review.objects.filter(agent=fresh).exists())
        self.assertFalse(Review.objects.open().filter(agent=self.orchestrator).exists())
