from __future__ import annotations

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from assessments import demo
from assessments.models import Agent, AgentLink, Assessment, GapException, Review, System


class LoadDemoTests(TestCase):
    def test_load_demo_creates_sign_ins_agents_and_assessments_in_every_state(self):
        out = StringIO()
        call_command("load_demo", stdout=out)
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
        call_command("load_demo", stdout=StringIO())
        counts = (
            Agent.objects.count(),
            System.objects.count(),
            Assessment.objects.count(),
            Review.objects.count(),
        )
        call_command("load_demo", stdout=StringIO())
        self.assertEqual(
            counts,
            (
                Agent.objects.count(),
                System.objects.count(),
                Assessment.objects.count(),
                Review.objects.count(),
            ),
        )


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
