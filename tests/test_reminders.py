"""Review reminders: thresholds, one e-mail per person, never twice, the tasks API."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from unittest import mock

import time_machine
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import SimpleTestCase, TestCase, override_settings

from assessments import actions, tasks
from assessments.models import AuditEvent, GapException, ReminderLog
from assessments.workflow import reminders
from tests import review_helpers as h


class ThresholdTests(SimpleTestCase):
    def test_the_smallest_threshold_reached_applies(self):
        today = h.TODAY
        cases = [
            (45, None),
            (31, None),
            (30, "30"),
            (8, "30"),
            (7, "7"),
            (2, "7"),
            (1, "1"),
            (0, "1"),
            (-1, "overdue"),
            (-90, "overdue"),
        ]
        for days, expected in cases:
            with self.subTest(days=days):
                self.assertEqual(
                    reminders.threshold_for(today + dt.timedelta(days=days), today), expected
                )


class ReminderTests(TestCase):
    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.who = h.people()
        owner = self.who["owner"]
        self.overdue = h.assessed("overdue-bot", self.who, name="Overdue bot")
        h.set_due(self.overdue, h.TODAY - dt.timedelta(days=4))
        self.week = h.assessed("week-bot", self.who, name="Week bot")
        h.set_due(self.week, h.TODAY + dt.timedelta(days=7))
        self.month = h.assessed("month-bot", self.who, name="Month bot")
        h.set_due(self.month, h.TODAY + dt.timedelta(days=30))
        self.far = h.assessed("far-bot", self.who, name="Far bot")  # a year away
        # Assigned to a reviewer: the reviewer is reminded, not the owner.
        self.assigned = h.assessed("assigned-bot", self.who, name="Assigned bot")
        review = h.set_due(self.assigned, h.TODAY + dt.timedelta(days=1))
        actions.assign_review(self.who["reviewer"], review, self.who["reviewer"])
        self.owner = owner

    def run_command(self, *args):
        out, err = StringIO(), StringIO()
        call_command("send_review_reminders", *args, stdout=out, stderr=err)
        return out.getvalue() + err.getvalue()

    def test_one_email_per_person_listing_their_reviews(self):
        out = self.run_command()
        self.assertIn("Sent 2 e-mails about 4 reviews.", out)
        self.assertEqual(len(mail.outbox), 2)
        by_person = {m.to[0]: m for m in mail.outbox}
        owner_mail = by_person["olga@example.com"]
        self.assertEqual(owner_mail.subject, "Reclassification reviews: 1 overdue, 2 due soon")
        text = owner_mail.body
        self.assertIn("Hello Olga Owner", text)
        self.assertLess(text.index("OVERDUE (1)"), text.index("DUE SOON (2)"))
        self.assertIn("Overdue bot (overdue-bot), overdue by 4 days", text)
        self.assertIn("Week bot (week-bot), due in 7 days", text)
        self.assertIn("Month bot (month-bot), due in 30 days", text)
        self.assertIn("http://127.0.0.1:8000/agents/week-bot/", text)
        self.assertIn("you own this agent", text)
        self.assertNotIn("Far bot", text)
        self.assertNotIn("Assigned bot", text)
        html, mimetype = owner_mail.alternatives[0]
        self.assertEqual(mimetype, "text/html")
        self.assertIn(
            '<a href="http://127.0.0.1:8000/agents/overdue-bot/"><strong>Overdue bot</strong></a>',
            html,
        )
        self.assertNotIn("&lt;", html)
        reviewer_mail = by_person["rex@example.com"]
        self.assertEqual(reviewer_mail.subject, "Reclassification review: 1 due soon")
        self.assertIn("Assigned bot (assigned-bot), due tomorrow", reviewer_mail.body)
        self.assertIn("assigned to you", reviewer_mail.body)
        self.assertEqual(
            set(ReminderLog.objects.values_list("review__agent__slug", "threshold")),
            {
                ("overdue-bot", "overdue"),
                ("week-bot", "7"),
                ("month-bot", "30"),
                ("assigned-bot", "1"),
            },
        )
        self.assertEqual(AuditEvent.objects.filter(verb="review.remind").count(), 2)

    def test_control_characters_never_reach_the_email(self):
        from assessments.models import Agent, Review

        Agent.objects.filter(pk=self.overdue.pk).update(
            name="Overdue bot\r\n\r\nURGENT: reply with your password\x1b[31m\u2028x"
        )
        review = Review.objects.open().get(agent=self.overdue)
        Review.objects.filter(pk=review.pk).update(
            reasons=[{"code": "x", "detail": "Changed\nBcc: attacker@example.com\x07"}]
        )
        self.owner.first_name = "Olga\r\nReply-To: attacker@example.com"
        self.owner.save()
        self.run_command()
        owner_mail = next(m for m in mail.outbox if m.to == ["olga@example.com"])
        html = owner_mail.alternatives[0][0]
        for body in (owner_mail.body, html):
            self.assertNotRegex(body, r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
            lines = body.splitlines()
            self.assertFalse([line for line in lines if line.lstrip().startswith("URGENT")])
            self.assertFalse([line for line in lines if line.lstrip().startswith("Bcc:")])
            self.assertFalse([line for line in lines if line.lstrip().startswith("Reply-To:")])
        self.assertIn("Overdue bot URGENT: reply with your password [31m x", owner_mail.body)
        self.assertIn("Changed Bcc: attacker@example.com", owner_mail.body)

    def test_never_twice_for_the_same_review_and_threshold(self):
        self.run_command()
        mail.outbox.clear()
        self.assertIn("Sent 0 e-mails", self.run_command())
        self.assertEqual(mail.outbox, [])
        # A day later nothing crosses a threshold yet; assigned-bot is due today (still "1").
        self.traveller.shift(dt.timedelta(days=1))
        self.run_command()
        self.assertEqual(mail.outbox, [])
        # Two days later assigned-bot is overdue: a new threshold, one e-mail.
        self.traveller.shift(dt.timedelta(days=1))
        self.run_command()
        self.assertEqual(len(mail.outbox), 1)
        self.assertIn("Assigned bot (assigned-bot), overdue by 1 day ", mail.outbox[0].body)
        # month-bot reaches 7 days left on day 23.
        mail.outbox.clear()
        self.traveller.move_to(h.NOW + dt.timedelta(days=23))
        self.run_command()
        [message] = mail.outbox
        self.assertIn("Month bot (month-bot), due in 7 days", message.body)
        self.assertNotIn("Overdue bot", message.body)  # overdue was reminded once already

    def test_a_new_assignee_is_reminded_even_if_the_owner_was(self):
        self.run_command()
        mail.outbox.clear()
        actions.assign_review(
            self.who["reviewer"], h.open_review(self.week), self.who["second_reviewer"]
        )
        self.run_command()
        [message] = mail.outbox
        self.assertEqual(message.to, ["rita@example.com"])
        self.assertIn("Week bot", message.body)

    def test_dry_run_sends_and_records_nothing(self):
        out = self.run_command("--dry-run")
        self.assertIn("Would send 2 e-mails about 4 reviews.", out)
        self.assertIn("olga@example.com: Reclassification reviews: 1 overdue, 2 due soon", out)
        self.assertEqual(mail.outbox, [])
        self.assertFalse(ReminderLog.objects.exists())

    def test_people_without_an_address_are_reported_not_mailed(self):
        self.owner.email = ""
        self.owner.save()
        out = self.run_command()
        self.assertIn("Not reminded: overdue-bot (olga has no active e-mail address)", out)
        self.assertEqual([m.to for m in mail.outbox], [["rex@example.com"]])

    def test_retired_agents_and_closed_reviews_are_not_reminded(self):
        actions.retire_agent(self.who["assessor"], self.overdue)
        self.run_command()
        body = next(m.body for m in mail.outbox if m.to == ["olga@example.com"])
        self.assertNotIn("Overdue bot", body)

    def test_a_failed_send_is_retried_next_run_and_does_not_stop_the_others(self):
        real = mail.mailers.default.send_messages
        calls = []

        def flaky(messages):
            calls.append(messages[0].to[0])
            if messages[0].to == ["olga@example.com"]:
                raise OSError("connection refused")
            return real(messages)

        fake = mock.Mock()
        fake.default.send_messages = flaky
        with (
            mock.patch("assessments.workflow.notifications.mailers", fake),
            self.assertRaisesMessage(CommandError, "1 e-mail(s) could not be sent"),
        ):
            self.run_command()
        self.assertEqual(sorted(calls), ["olga@example.com", "rex@example.com"])
        self.assertEqual([m.to for m in mail.outbox], [["rex@example.com"]])
        self.assertFalse(ReminderLog.objects.filter(recipient=self.owner).exists())
        self.run_command()
        self.assertEqual(mail.outbox[-1].to, ["olga@example.com"])
        self.assertEqual(ReminderLog.objects.filter(recipient=self.owner).count(), 3)

    @override_settings(
        MAILERS={
            "default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"},
        }
    )
    def test_the_configured_default_mailer_sends(self):
        self.run_command()
        self.assertEqual(mail.outbox, [])  # the dummy mailer took them, not locmem
        self.assertEqual(ReminderLog.objects.count(), 4)


class ReminderTaskTests(TestCase):
    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.who = h.people()

    def test_the_task_processes_expired_exceptions_then_sends_reminders(self):
        agent = h.assessed(
            "planner",
            self.who,
            systems=[("k8s", "write")],
            decision_mode="planner_executor",
            traced_policy_decision="some",
        )
        expires = GapException.objects.get(agent=agent).expires_on
        self.traveller.move_to(expires + dt.timedelta(days=1))
        result = tasks.send_review_reminders.enqueue()
        self.assertEqual(result.status, "SUCCESSFUL")
        # The daily run ends with a signed checkpoint of the audit log as it then stood.
        checkpoint = result.return_value.pop("audit_checkpoint")
        self.assertEqual(checkpoint["event_count"], AuditEvent.objects.count())
        self.assertEqual(checkpoint["failures"], [])
        self.assertEqual(
            result.return_value,
            {
                "dry_run": False,
                "exceptions_expired": 1,
                "reviews_triggered_by_expiry": 1,
                "inactive_agents_flagged": 0,
                "certification_notices": 0,
                "exceptions_expiring": 0,
                "emails": 1,
                "items": 1,
                "notifications": 0,
                "failed": [],
                "skipped": 0,
            },
        )
        [message] = mail.outbox
        self.assertIn("The exception for audit gap", message.body)
        self.assertIn("(planner), overdue by", message.body)
        # Run again through the API: nothing new.
        again = tasks.send_review_reminders.enqueue()
        self.assertEqual(again.return_value["emails"], 0)
        self.assertEqual(again.return_value["exceptions_expired"], 0)

    def test_a_dry_run_through_the_task_changes_nothing(self):
        agent = h.assessed("bot", self.who)
        h.set_due(agent, h.TODAY)
        result = tasks.send_review_reminders.enqueue(dry_run=True)
        self.assertEqual(result.return_value["emails"], 1)
        self.assertEqual(mail.outbox, [])
        self.assertFalse(ReminderLog.objects.exists())

    def test_the_command_also_processes_expired_exceptions(self):
        agent = h.assessed(
            "planner",
            self.who,
            systems=[("k8s", "write")],
            decision_mode="planner_executor",
            traced_policy_decision="some",
        )
        expires = GapException.objects.get(agent=agent).expires_on
        self.traveller.move_to(expires + dt.timedelta(days=1))
        out = StringIO()
        call_command("send_review_reminders", stdout=out)
        self.assertIn("Processed 1 expired exception", out.getvalue())
        self.assertIsNotNone(h.open_review(agent).triggered_at)
