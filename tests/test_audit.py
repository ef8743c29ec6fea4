from __future__ import annotations

from django.db import DatabaseError, connection, models, transaction
from django.test import TestCase
from django.urls import reverse

from assessments import actions
from assessments.models import AuditEvent, ImmutableRecordError
from assessments.records import audit
from tests import factories as f


class AuditActionTests(TestCase):
    def setUp(self):
        self.actor = f.assessor()

    def test_each_inventory_action_writes_one_event_with_actor_and_utc_time(self):
        agent = f.agent(slug="bot", actor=self.actor, systems=[("erp", "read")])
        actions.update_agent(
            self.actor,
            agent,
            fields={"purpose": "New purpose."},
            systems=[{"name": "erp", "access": "admin"}, {"name": "crm", "access": "read"}],
        )
        actions.retire_agent(self.actor, agent)
        actions.reactivate_agent(self.actor, agent)
        verbs = list(
            AuditEvent.objects.for_object(agent).order_by("id").values_list("verb", flat=True)
        )
        self.assertEqual(
            verbs, ["agent.create", "agent.update", "agent.retire", "agent.reactivate"]
        )
        update = AuditEvent.objects.get(verb="agent.update")
        self.assertEqual(update.actor, self.actor)
        self.assertEqual(update.created_at.utcoffset().total_seconds(), 0)
        self.assertEqual(update.changes["systems_added"], [{"name": "crm", "access": "read"}])
        self.assertEqual(
            update.changes["systems_changed"], [{"name": "erp", "old": "read", "new": "admin"}]
        )
        # Raising access and reactivating both opened (the same) review.
        triggers = AuditEvent.objects.filter(verb="review.trigger", agent=agent)
        self.assertEqual(triggers.count(), 2)

    def test_an_unchanged_save_writes_no_event(self):
        agent = f.agent(slug="same", actor=self.actor)
        before = AuditEvent.objects.count()
        actions.update_agent(self.actor, agent, fields={"purpose": agent.purpose})
        self.assertEqual(AuditEvent.objects.count(), before)

    def test_a_failed_action_leaves_no_event(self):
        f.agent(slug="taken")
        before = AuditEvent.objects.count()
        with self.assertRaises(actions.ActionError):
            actions.create_agent(
                self.actor,
                fields={
                    "name": "x",
                    "slug": "taken",
                    "purpose": "x",
                    "owner": self.actor,
                    "team": f.team(),
                },
            )
        self.assertEqual(AuditEvent.objects.count(), before)


class AuditChainTests(TestCase):
    def setUp(self):
        for n in range(5):
            audit.record("test.event", actor_label=f"user{n}", changes={"n": n})

    def test_the_chain_verifies(self):
        report = audit.verify_chain()
        self.assertTrue(report.ok)
        self.assertEqual(report.checked, AuditEvent.objects.count())

    # Tampering with stored events, and what verification names: tests/test_records.py.

    def test_the_model_refuses_to_change_or_delete_an_event(self):
        event = AuditEvent.objects.first()
        event.verb = "rewritten"
        with self.assertRaises(ImmutableRecordError):
            event.save()
        with self.assertRaises(ImmutableRecordError):
            event.delete()

    def test_the_database_refuses_to_change_an_event(self):
        # Past the Python guard (the base QuerySet.update), the trigger refuses.
        with self.assertRaises(DatabaseError), transaction.atomic():
            models.QuerySet.update(AuditEvent.objects.all(), verb="rewritten")
        self.assertFalse(AuditEvent.objects.filter(verb="rewritten").exists())

    def test_the_database_refuses_to_delete_an_event(self):
        with self.assertRaises(DatabaseError), transaction.atomic():
            AuditEvent.objects.all()._raw_delete(connection.alias)
        self.assertEqual(AuditEvent.objects.count(), 5)

    def test_audit_page_verifies_the_chain_on_request(self):
        self.client.force_login(f.reviewer())
        response = self.client.get(reverse("assessments:audit_list"), {"verify": "1"})
        self.assertContains(response, "The log is intact")

    def test_audit_page_filters(self):
        self.client.force_login(f.reviewer())
        response = self.client.get(reverse("assessments:audit_list"), {"actor": "user3"})
        self.assertEqual([e.actor_label for e in response.context["events"]], ["user3"])
        response = self.client.get(
            reverse("assessments:audit_list"), {"since": "not-a-date", "verb": "bogus"}
        )
        self.assertContains(response, "were not understood")


class ChainCheckWordsTests(TestCase):
    """The chain check gives no shell instruction to people who cannot run it: an
    administrator reads, in words, which command writes a checkpoint; others read none."""

    def setUp(self):
        f.agent(slug="bot", actor=f.assessor())

    def check(self, person):
        self.client.force_login(person)
        response = self.client.get(reverse("assessments:audit_list") + "?verify=1")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["chain"].checkpoint_missing)
        self.assertContains(response, "No checkpoint was found")
        self.assertNotContains(response, "`")
        self.assertNotContains(response, "python manage.py")
        return response

    def test_a_reviewer_gets_no_command(self):
        self.assertNotContains(self.check(f.reviewer()), "audit_checkpoint")

    def test_an_administrator_gets_the_command_in_words(self):
        response = self.check(f.administrator())
        self.assertContains(response, "run the audit checkpoint management command")
