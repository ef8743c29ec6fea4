"""Sponsors, owners who leave, orphaned and inactive agents (issue 26, items 1-3)."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from assessments import actions, portfolio
from assessments.access import sso
from assessments.models import Agent, AgentOwner, AuditEvent, Notification, Review
from assessments.workflow import reviews
from tests import factories as f

User = get_user_model()
DAY = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)


class OwnershipTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = f.administrator()
        cls.owner = f.assessor("olga")
        cls.second = f.assessor("sam")
        cls.third = f.assessor("tess")
        cls.reviewer = f.reviewer()
        cls.team = f.team()
        cls.reviewer.teams.add(cls.team)

    def make_agent(self, successors=()):
        agent = f.agent(self.owner, team=self.team)
        if successors:
            actions.set_ownership(
                self.admin,
                agent,
                owner=self.owner,
                sponsor=self.owner,
                co_owners=list(successors),
                lock_version=Agent.objects.get(pk=agent.pk).lock_version,
            )
        return Agent.objects.get(pk=agent.pk)

    def disable(self, person):
        person.is_active = False
        person.save()


class SponsorTests(OwnershipTestCase):
    def test_a_new_agent_has_its_owner_as_sponsor(self):
        agent = self.make_agent()
        self.assertEqual(agent.sponsor, self.owner)

    def test_a_service_account_is_never_a_sponsor(self):
        agent = self.make_agent()
        account = actions.create_service_account(self.admin, username="ci", role="assessor")
        with self.assertRaisesMessage(actions.ActionError, "not a service account"):
            actions.set_ownership(
                self.admin,
                agent,
                owner=self.owner,
                sponsor=account.user,
                co_owners=[],
                lock_version=agent.lock_version,
            )
        self.assertEqual(Agent.objects.get(pk=agent.pk).sponsor, self.owner)

    def test_a_stale_page_is_a_conflict(self):
        agent = self.make_agent()
        with self.assertRaises(actions.ConflictError):
            actions.set_ownership(
                self.admin,
                agent,
                owner=self.owner,
                sponsor=self.second,
                co_owners=[],
                lock_version=agent.lock_version - 1,
            )

    def test_the_page_names_sponsor_successors_and_warns_of_a_single_owner(self):
        agent = self.make_agent()
        self.client.force_login(self.owner)
        page = self.client.get(agent.get_absolute_url())
        self.assertContains(page, "a single owner")
        response = self.client.post(
            reverse("assessments:agent_ownership", args=[agent.slug]),
            {
                "owner": self.owner.pk,
                "sponsor": self.second.pk,
                "successor_1": self.third.pk,
                "lock_version": agent.lock_version,
            },
        )
        self.assertRedirects(response, agent.get_absolute_url())
        agent.refresh_from_db()
        self.assertEqual(agent.sponsor, self.second)
        self.assertEqual(list(AgentOwner.objects.values_list("person", flat=True)), [self.third.pk])
        page = self.client.get(agent.get_absolute_url())
        self.assertNotContains(page, "a single owner")
        self.assertContains(page, "1. Ada Assessor")  # the factory names everyone so
        self.assertTrue(AuditEvent.objects.filter(verb="agent.ownership").exists())

    def test_bad_input_on_the_page_changes_nothing(self):
        agent = self.make_agent()
        self.client.force_login(self.owner)
        response = self.client.post(
            reverse("assessments:agent_ownership", args=[agent.slug]),
            {"owner": "nobody", "sponsor": "", "lock_version": "x"},
        )
        self.assertEqual(response.status_code, 422)
        self.assertEqual(Agent.objects.get(pk=agent.pk).sponsor, self.owner)


class LeaverTests(OwnershipTestCase):
    def test_a_leaver_hands_the_agent_to_the_first_successor_still_here(self):
        agent = self.make_agent(successors=[self.second, self.third])
        self.disable(self.second)  # the first successor left before the owner
        self.disable(self.owner)
        agent.refresh_from_db()
        self.assertEqual((agent.owner, agent.sponsor), (self.third, self.third))
        self.assertIsNone(agent.orphaned_at)
        self.assertTrue(AuditEvent.objects.filter(verb="agent.succession", agent=agent).exists())
        self.assertFalse(Review.objects.open().filter(agent=agent).exists())

    def test_with_no_successor_the_agent_is_orphaned_reviewed_and_announced(self):
        agent = self.make_agent()
        with time_machine.travel(DAY, tick=False):
            self.disable(self.owner)
            agent.refresh_from_db()
            self.assertEqual(agent.orphaned_at, DAY)
            review = Review.objects.open().get(agent=agent)
            self.assertIn("owner_left", [r["code"] for r in review.reasons])
            self.assertEqual(reviews.reason_label("owner_left"), "Owner left")
            notice = Notification.objects.get(kind=Notification.Kind.OWNER_LEFT)
            self.assertEqual(notice.recipient, self.reviewer)
            self.assertIn("Ada Assessor left", notice.title)
            figures = portfolio.accountability(timezone.localdate())
            self.assertEqual(figures.orphaned, 1)
            self.assertEqual(figures.orphaned_agents, [agent])
            self.assertTrue(AuditEvent.objects.filter(verb="agent.orphaned", agent=agent).exists())
            # The dashboard shows it, from the same function.
            self.client.force_login(self.reviewer)
            page = self.client.get(reverse("assessments:dashboard"))
            self.assertEqual(page.context["accountability"].orphaned, 1)
            self.assertContains(page, agent.name)

    def test_taking_it_on_ends_the_orphaned_state(self):
        agent = self.make_agent()
        self.disable(self.owner)
        self.client.force_login(self.second)
        response = self.client.post(reverse("assessments:agent_take_on", args=[agent.slug]))
        self.assertRedirects(response, agent.get_absolute_url())
        agent.refresh_from_db()
        self.assertIsNone(agent.orphaned_at)
        self.assertEqual((agent.owner, agent.sponsor), (self.second, self.second))
        self.assertEqual(portfolio.accountability(timezone.localdate()).orphaned, 0)

    @override_settings(OIDC_ROLE_MAP={"aia-assessors": "assessor"})
    def test_losing_every_mapped_group_at_a_sign_in_is_leaving(self):
        agent = self.make_agent()
        sso.apply_directory_groups(self.owner, [])
        agent.refresh_from_db()
        self.assertIsNotNone(agent.orphaned_at)

    def test_a_retired_agent_is_not_orphaned(self):
        agent = self.make_agent()
        actions.retire_agent(self.admin, agent)
        self.disable(self.owner)
        self.assertIsNone(Agent.objects.get(pk=agent.pk).orphaned_at)


@override_settings(INACTIVE_AGENT_DAYS=90)
class InactiveTests(OwnershipTestCase):
    def test_an_agent_idle_past_the_limit_gets_one_decommission_review(self):
        agent = self.make_agent()
        with time_machine.travel(DAY, tick=False):
            today = timezone.localdate()
            actions.record_activity(
                self.owner, agent, today - dt.timedelta(days=91), source="CloudTrail"
            )
            fresh = self.make_agent()
            actions.record_activity(
                self.owner, fresh, today - dt.timedelta(days=89), source="CloudTrail"
            )
            self.assertEqual(portfolio.accountability(today).inactive, 1)
            opened = actions.flag_inactive_agents()
            self.assertEqual([r.agent for r in opened], [agent])
            self.assertIn("Decommission?", opened[0].reasons[0]["detail"])
            self.assertEqual(actions.flag_inactive_agents(), [])  # once only

    def test_an_older_date_never_replaces_a_newer_one_and_the_future_is_refused(self):
        agent = self.make_agent()
        with time_machine.travel(DAY, tick=False):
            today = timezone.localdate()
            actions.record_activity(self.owner, agent, today, source="logs")
            actions.record_activity(self.owner, agent, today - dt.timedelta(days=5), source="x")
            self.assertEqual(Agent.objects.get(pk=agent.pk).last_activity_on, today)
            with self.assertRaises(actions.ActionError):
                actions.record_activity(self.owner, agent, today + dt.timedelta(days=1), source="x")

    def test_recorded_by_hand_on_the_agent_page(self):
        agent = self.make_agent()
        self.client.force_login(self.owner)
        url = reverse("assessments:agent_activity", args=[agent.slug])
        day = timezone.localdate() - dt.timedelta(days=3)
        response = self.client.post(url, {"last_seen_on": day.isoformat(), "source": "job log"})
        self.assertRedirects(response, agent.get_absolute_url())
        self.assertEqual(Agent.objects.get(pk=agent.pk).last_activity_on, day)
        response = self.client.post(url, {"last_seen_on": "not a date", "source": ""})
        self.assertEqual(Agent.objects.get(pk=agent.pk).last_activity_on, day)
