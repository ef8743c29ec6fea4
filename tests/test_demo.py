from __future__ import annotations

import datetime as dt
from io import StringIO

import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from assessments import demo
from assessments.models import (
    Agent,
    AgentLink,
    Assessment,
    AuditEvent,
    GapException,
    Notification,
    ReportRecord,
    Review,
    System,
    Team,
)
from assessments.records import audit
from assessments.reports.board import recorded_packs


@override_settings(DEMO_BOARD_PACKS=True)
class LoadDemoTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.out = StringIO()
        cls.now = timezone.now()
        call_command("load_demo", stdout=cls.out)

    def test_load_demo_creates_sign_ins_agents_and_assessments_in_every_state(self):
        out = self.out
        User = get_user_model()
        for username, *_rest, role in demo.SIGN_INS:
            user = User.objects.get(username=username)
            self.assertTrue(user.check_password("demo-password"))
            self.assertTrue(user.groups.filter(name=role).exists())
        self.assertIn("assessor  / demo-password", out.getvalue())
        self.assertGreaterEqual(Agent.objects.count(), 12)
        self.assertTrue(AgentLink.objects.filter(source__slug="research-orchestrator").exists())
        statuses = set(Assessment.objects.values_list("status", flat=True))
        self.assertEqual(statuses, {"draft", "submitted", "approved", "returned"})
        self.assertGreaterEqual(Assessment.objects.filter(status="approved").count(), 8)
        self.assertTrue(GapException.objects.exists())
        today = timezone.localdate()
        self.assertTrue(Review.objects.overdue(today).exists())
        self.assertTrue(Review.objects.due(30, today).exists())
        self.assertTrue(Review.objects.triggered().exists())
        classes = set(
            Agent.objects.exclude(current_classification="").values_list(
                "current_classification", flat=True
            )
        )
        self.assertEqual(classes, {"agent_identity", "machine_identity"})

    def test_load_demo_is_idempotent(self):
        def counts():
            return [
                model.objects.count()
                for model in (
                    Agent,
                    System,
                    Assessment,
                    Review,
                    GapException,
                    Notification,
                    ReportRecord,
                    AuditEvent,
                )
            ]

        before = counts()
        call_command("load_demo", stdout=StringIO())
        self.assertEqual(before, counts())

    def test_the_demo_has_a_year_of_history_at_real_past_dates(self):
        today = timezone.localdate(self.now)
        year_ago = self.now - dt.timedelta(days=366)
        decided = list(
            Assessment.objects.exclude(decided_at=None).values_list("decided_at", flat=True)
        )
        self.assertTrue(all(year_ago < d <= self.now for d in decided))
        self.assertGreater(max(decided) - min(decided), dt.timedelta(days=300))
        # Approvals, and returns before an approval (the same version, submitted again).
        returned_then_approved = AuditEvent.objects.filter(
            verb="assessment.return",
            object_id__in=[
                str(pk) for pk in Assessment.objects.approved().values_list("pk", flat=True)
            ],
        )
        self.assertGreaterEqual(returned_then_approved.count(), 2)
        # Reviews done (closed by a later version) and overdue.
        self.assertGreaterEqual(Review.objects.filter(state="closed").count(), 5)
        self.assertTrue(Review.objects.overdue(today).exists())
        # Exceptions granted and expired (processed: the gap reopened a review), and in force.
        expired = GapException.objects.filter(expires_on__lt=today)
        self.assertGreaterEqual(expired.count(), 2)
        self.assertFalse(expired.filter(expiry_processed_at=None).exists())
        self.assertTrue(
            AuditEvent.objects.filter(verb="review.trigger", changes__icontains="expired").exists()
        )
        self.assertGreaterEqual(GapException.objects.in_force(today).count(), 2)
        # The audit log tells the same year, and its chain verifies.
        events = AuditEvent.objects.filter(verb__startswith="assessment.")
        first, last = events.order_by("created_at")[0], events.order_by("-created_at")[0]
        self.assertGreater(last.created_at - first.created_at, dt.timedelta(days=300))
        approvals = AuditEvent.objects.filter(verb="assessment.approve")
        for event in approvals:
            approved = Assessment.objects.get(pk=event.object_id)
            self.assertEqual(event.created_at, approved.decided_at)
        self.assertTrue(audit.verify_chain().ok)

    def test_board_packs_were_made_each_quarter_and_differ(self):
        packs = list(ReportRecord.objects.filter(kind="board").order_by("created_at"))
        self.assertEqual(len(packs), len(demo.BOARD_PACKS_DAYS_AGO))
        today = timezone.localdate(self.now)
        days = [(today - timezone.localdate(p.created_at)).days for p in packs]
        self.assertEqual(days, list(demo.BOARD_PACKS_DAYS_AGO))
        figures = [p.params["figures"] for p in packs]
        self.assertNotEqual(figures[0], figures[-1])
        # The next pack compares with the last quarter's.
        from assessments.reports.board import BoardFilters

        [latest, *_] = recorded_packs(BoardFilters.from_params({}))
        self.assertEqual(latest["document_id"], packs[-1].document_id)

    def test_three_reviewers_and_members_in_several_teams(self):
        reviewers = get_user_model().objects.filter(groups__name="reviewer")
        self.assertGreaterEqual(reviewers.count(), 3)
        deciders = set(
            Assessment.objects.exclude(reviewer=None).values_list("reviewer__username", flat=True)
        )
        self.assertGreaterEqual(len(deciders), 3)
        for team in Team.objects.filter(slug__in=[slug for slug, _ in demo.TEAMS]):
            self.assertTrue(team.members.exists(), team.slug)
        several = [u for u in get_user_model().objects.all() if u.teams.count() > 1]
        self.assertGreaterEqual(len(several), 5)

    def test_notifications_replay_the_history_and_none_asks_for_a_decision_made(self):
        for notice in Notification.objects.awaiting().select_related("assessment"):
            self.assertEqual(notice.assessment.status, "submitted")
        done = Notification.objects.filter(kind="submitted").exclude(resolved_at=None)
        self.assertGreater(done.count(), 10)
        self.assertFalse(done.unread().exists())
        # Each carries the time of its event, across the year.
        for notice in Notification.objects.filter(kind="approved").select_related("assessment"):
            self.assertEqual(notice.created_at, notice.assessment.decided_at)
        dates = set(Notification.objects.values_list("created_at__date", flat=True))
        self.assertGreater(len(dates), 20)
        # The reviewer who signs in has one thing to decide, and is told so once.
        reviewer = get_user_model().objects.get(username="reviewer")
        unread = Notification.objects.filter(recipient=reviewer).unread()
        self.assertEqual(
            list(unread.filter(kind="submitted").values_list("title", flat=True)),
            ["Web research agent v1 awaits your decision"],
        )
        self.client.force_login(reviewer)
        page = self.client.get(reverse("assessments:notification_list"))
        self.assertContains(page, "nothing left to decide")
        # Nothing of the past is e-mailed now.
        self.assertFalse(Notification.objects.filter(email_state__in=["queued", "digest"]).exists())


class LoadDemoAYearAheadTests(TestCase):
    def test_the_history_is_counted_back_from_the_day_it_is_loaded(self):
        ahead = timezone.now() + dt.timedelta(days=400)
        with time_machine.travel(ahead, tick=False):
            call_command("load_demo", stdout=StringIO())
            today = timezone.localdate()
            decided = Assessment.objects.exclude(decided_at=None).values_list(
                "decided_at", flat=True
            )
            self.assertTrue(all(ahead - dt.timedelta(days=366) < d <= ahead for d in decided))
            self.assertTrue(Review.objects.overdue(today).exists())
            self.assertGreaterEqual(GapException.objects.in_force(today).count(), 2)
            self.assertTrue(audit.verify_chain().ok)


class SeedBulkTests(TestCase):
    def test_seed_bulk_adds_agents_with_systems_and_links(self):
        call_command("seed_bulk", "--agents", "200", stdout=StringIO())
        self.assertEqual(Agent.objects.filter(slug__startswith="bulk-").count(), 200)
        self.assertGreaterEqual(System.objects.count(), 200)
        self.assertTrue(AgentLink.objects.exists())
        call_command("seed_bulk", "--agents", "10", stdout=StringIO())
        self.assertEqual(Agent.objects.filter(slug__startswith="bulk-").count(), 210)

    def test_seed_bulk_refuses_nonsense(self):
        from django.core.management.base import CommandError

        with self.assertRaises(CommandError):
            call_command("seed_bulk", "--agents", "0", stdout=StringIO())
