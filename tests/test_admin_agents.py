"""Agents are edited on the app's pages only: the admin cannot bypass the named actions."""

from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from assessments.models import Agent, AuditEvent
from tests import factories as f


class AdminAgentTests(TestCase):
    def setUp(self):
        self.admin = f.administrator()
        self.client.force_login(self.admin)
        self.agent = f.agent(slug="bot", systems=[("erp", "read")])

    def test_the_admin_lists_and_shows_agents(self):
        self.assertContains(self.client.get(reverse("admin:assessments_agent_changelist")), "bot")
        page = self.client.get(reverse("admin:assessments_agent_change", args=[self.agent.pk]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, 'name="_save"')
        self.assertContains(page, "View on site")  # where the agent is edited

    def test_an_admin_edit_is_refused_and_changes_nothing(self):
        before = (self.agent.lock_version, AuditEvent.objects.count())
        response = self.client.post(
            reverse("admin:assessments_agent_change", args=[self.agent.pk]),
            {
                "name": "Renamed in the admin",
                "slug": "bot",
                "purpose": "x",
                "owner": self.agent.owner_id,
                "team": self.agent.team_id,
                "credential_model": "static_secret",
                "platform": "Lambda",
                "status": "active",
                "systems-TOTAL_FORMS": "1",
                "systems-INITIAL_FORMS": "1",
                "systems-0-id": self.agent.systems.get().pk,
                "systems-0-agent": self.agent.pk,
                "systems-0-name": "erp",
                "systems-0-access": "admin",
            },
        )
        self.assertEqual(response.status_code, 403)
        self.agent.refresh_from_db()
        self.assertNotEqual(self.agent.name, "Renamed in the admin")
        self.assertEqual(self.agent.systems.get().access, "read")
        # The refused request's own audit event (access.forbidden) is the only new one.
        self.assertEqual(
            list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))[before[1] :],
            ["access.forbidden"],
        )
        self.assertEqual(self.agent.lock_version, before[0])

    def test_agents_cannot_be_added_in_the_admin(self):
        self.assertEqual(self.client.get(reverse("admin:assessments_agent_add")).status_code, 403)
        self.client.post(reverse("admin:assessments_agent_add"), {"name": "x", "slug": "x"})
        self.assertFalse(Agent.objects.filter(slug="x").exists())
