"""Notifications: who is told about submissions, decisions, exceptions running out and
reviews due; in the app, by e-mail at once, in the daily digest, or not at all."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from unittest import mock

import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import actions, tasks
from assessments.models import Agent, AuditEvent, GapException, Notification, NotificationPreference
from assessments.presentation import one_line
from assessments.workflow import notifications
from tests import factories as f
from tests import review_helpers as h

LIST = reverse("assessments:notification_list")
PREFERENCES = reverse("assessments:notification_preferences")


class SubmitNotifiesReviewersTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.rex = f.reviewer("rex")
        self.rita = f.reviewer("rita")
        self.admin = f.administrator()
        self.viewer = f.viewer()
        self.team = f.team("Payments")
        self.agent = f.agent(slug="pay-bot", name="Pay bot", team=self.team)

    def submit(self, actor=None):
        with self.captureOnCommitCallbacks(execute=True):
            return actions.submit_assessment(
                actor or self.assessor, f.answered(self.agent, self.assessor)
            )

    def test_every_reviewer_is_told_when_the_team_has_no_reviewers(self):
        submitted = self.submit()
        told = Notification.objects.filter(kind="submitted")
        self.assertEqual(
            sorted(n.recipient.username for n in told), ["rex", "rita", self.admin.username]
        )
        notice = told.get(recipient=self.rex)
        self.assertEqual(notice.title, "Pay bot v1 awaits your decision")
        self.assertIn("Ada Assessor submitted version 1", notice.body)
        self.assertEqual(notice.url, submitted.get_absolute_url())
        # Immediately (the default): one e-mail each, once the submission committed.
        self.assertEqual(
            sorted(m.to[0] for m in mail.outbox),
            ["rex@example.com", "rita@example.com", f"{self.admin.username}@example.com"],
        )
        message = next(m for m in mail.outbox if m.to == ["rex@example.com"])
        self.assertEqual(message.subject, "Pay bot v1 awaits your decision")
        self.assertIn(f"http://127.0.0.1:8000{submitted.get_absolute_url()}", message.body)
        self.assertEqual(told.get(recipient=self.rex).email_state, "sent")

    def test_only_the_teams_reviewers_are_told_when_it_has_any(self):
        self.team.members.add(self.rita, self.assessor, self.viewer)
        self.submit()
        self.assertEqual(
            list(Notification.objects.filter(kind="submitted").values_list("recipient__username")),
            [("rita",)],
        )

    def test_people_who_may_not_decide_it_are_not_asked(self):
        # A reviewer who answered a question of this version cannot decide it.
        draft = f.answered(self.agent, self.assessor)
        actions.save_answers(self.rex, draft, {"network_reach": "isolated"}, expected_version=1)
        with self.captureOnCommitCallbacks(execute=True):
            actions.submit_assessment(self.rita, draft)
        self.assertEqual(
            list(Notification.objects.filter(kind="submitted").values_list("recipient__username")),
            [(self.admin.username,)],
        )

    def test_nothing_is_e_mailed_if_the_submission_rolls_back(self):
        draft = f.answered(self.agent, self.assessor)
        with (
            self.captureOnCommitCallbacks(execute=True) as callbacks,
            self.assertRaises(RuntimeError),
            transaction.atomic(),
        ):
            actions.submit_assessment(self.assessor, draft)
            self.assertEqual(Notification.objects.count(), 3)
            raise RuntimeError("the caller's transaction fails after the submission")
        self.assertEqual(callbacks, [])
        self.assertEqual(mail.outbox, [])
        self.assertFalse(Notification.objects.exists())


class DecisionNotifiesTheAssessorTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.submitter = f.assessor("sam")
        self.reviewer = f.reviewer()
        self.agent = f.agent(slug="bot", name="Bot")
        draft = f.answered(self.agent, self.assessor)
        self.submitted = actions.submit_assessment(self.submitter, draft)
        Notification.objects.all().delete()

    def test_a_return_tells_the_assessor_and_the_submitter_with_the_comment(self):
        with self.captureOnCommitCallbacks(execute=True):
            actions.return_assessment(
                self.reviewer, self.submitted, comment="Say who approves\r\nBcc: x@evil.test"
            )
        told = Notification.objects.filter(kind="returned").order_by("recipient__username")
        self.assertEqual([n.recipient for n in told], [self.assessor, self.submitter])
        notice = told[0]
        self.assertEqual(notice.title, "Bot v1 was returned to you")
        self.assertIn("with this comment: Say who approves Bcc: x@evil.test", notice.body)
        self.assertEqual(len(mail.outbox), 2)
        for message in mail.outbox:
            self.assertNotIn("\r", message.body.replace("\r\n", "\n"))
            self.assertNotIn("approves\nBcc", message.body)
            self.assertNotIn("approves\r\nBcc", message.message().as_string())

    def test_an_approval_tells_them_how_it_is_governed(self):
        with self.captureOnCommitCallbacks(execute=True):
            approved = actions.approve_assessment(self.reviewer, self.submitted)
        notice = Notification.objects.get(kind="approved", recipient=self.assessor)
        self.assertEqual(notice.title, "Bot v1 was approved")
        self.assertIn("governed as machine identity, tier 1", notice.body)
        self.assertIn(f"Next review due {approved.next_review_on:%d %b %Y}", notice.body)
        self.assertFalse(Notification.objects.filter(recipient=self.reviewer).exists())

    def test_the_reviewer_is_not_told_about_their_own_decision(self):
        # The submitter is also the assessor here: one notice, not two.
        agent = f.agent(slug="solo")
        submitted = actions.submit_assessment(self.assessor, f.answered(agent, self.assessor))
        actions.return_assessment(self.reviewer, submitted, comment="Again.")
        self.assertEqual(
            list(
                Notification.objects.filter(kind="returned", agent=agent).values_list(
                    "recipient__username", flat=True
                )
            ),
            ["ada"],
        )


class ControlCharacterTests(TestCase):
    def test_one_line_removes_every_line_break_and_control_character(self):
        self.assertEqual(
            one_line("a\r\nBcc: b\x00c\x1b[31m\u2028d\u0085e\tf"), "a Bcc: b c [31m d e f"
        )
        self.assertEqual(one_line(None), "")

    def test_an_agent_name_with_line_breaks_cannot_forge_a_header_or_a_line(self):
        assessor, reviewer = f.assessor(), f.reviewer()
        agent = f.agent(slug="evil", name="Evil\r\nBcc: thief@evil.test\nSubject: hi")
        with self.captureOnCommitCallbacks(execute=True):
            actions.submit_assessment(assessor, f.answered(agent, assessor))
        [message] = mail.outbox
        self.assertEqual(
            message.subject, "Evil Bcc: thief@evil.test Subject: hi v1 awaits your decision"
        )
        headers = message.message()
        self.assertIsNone(headers["Bcc"])
        self.assertEqual(headers.get_all("Subject"), [message.subject])
        self.assertEqual(message.recipients(), [reviewer.email])
        html = message.alternatives[0][0]
        for body in (message.body, html):
            lines = body.splitlines()
            self.assertFalse([line for line in lines if line.startswith(("Bcc:", "Subject: hi"))])


class PreferenceTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.reviewer = f.reviewer()
        self.agent = f.agent(slug="bot", name="Bot")

    def submit(self):
        with self.captureOnCommitCallbacks(execute=True):
            return actions.submit_assessment(self.assessor, f.answered(self.agent, self.assessor))

    def test_daily_digest_waits_for_the_daily_run(self):
        actions.set_notification_preference(self.reviewer, "daily")
        self.submit()
        self.assertEqual(mail.outbox, [])
        notice = Notification.objects.get(recipient=self.reviewer)
        self.assertEqual(notice.email_state, "digest")
        call_command("send_review_reminders", stdout=StringIO())
        [message] = mail.outbox
        self.assertEqual(message.to, ["rex@example.com"])
        self.assertEqual(message.subject, "Bot v1 awaits your decision")
        self.assertIn("NOTIFICATIONS (1)", message.body)
        self.assertIn("Bot v1 awaits your decision", message.body)
        notice.refresh_from_db()
        self.assertEqual(notice.email_state, "sent")
        mail.outbox.clear()
        call_command("send_review_reminders", stdout=StringIO())
        self.assertEqual(mail.outbox, [])  # never twice

    def test_off_means_in_the_app_only(self):
        actions.set_notification_preference(self.reviewer, "off")
        self.submit()
        call_command("send_review_reminders", stdout=StringIO())
        self.assertEqual(mail.outbox, [])
        self.assertEqual(Notification.objects.get(recipient=self.reviewer).email_state, "not_sent")

    def test_choosing_off_drops_the_e_mails_still_waiting(self):
        actions.set_notification_preference(self.reviewer, "daily")
        self.submit()
        actions.set_notification_preference(self.reviewer, "off")
        call_command("send_review_reminders", stdout=StringIO())
        self.assertEqual(mail.outbox, [])

    def test_a_change_of_mind_before_the_task_runs_is_followed(self):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            actions.submit_assessment(self.assessor, f.answered(self.agent, self.assessor))
        actions.set_notification_preference(self.reviewer, "daily")
        for callback in callbacks:
            callback()
        self.assertEqual(mail.outbox, [])
        self.assertEqual(Notification.objects.get(recipient=self.reviewer).email_state, "digest")

    def test_a_failed_immediate_send_goes_in_the_next_digest(self):
        fake = mock.Mock()
        fake.default.send_messages.side_effect = OSError("connection refused")
        with mock.patch("assessments.workflow.notifications.mailers", fake):
            self.submit()
        notice = Notification.objects.get(recipient=self.reviewer)
        self.assertEqual(notice.email_state, "digest")
        call_command("send_review_reminders", stdout=StringIO())
        self.assertEqual([m.to for m in mail.outbox], [["rex@example.com"]])

    def test_the_immediate_task_is_registered_on_the_tasks_backend(self):
        actions.set_notification_preference(self.reviewer, "immediate")
        with self.captureOnCommitCallbacks(execute=False):
            actions.submit_assessment(self.assessor, f.answered(self.agent, self.assessor))
        notice = Notification.objects.get(recipient=self.reviewer)
        self.assertEqual(notice.email_state, "queued")
        result = tasks.send_notification_emails.enqueue([notice.pk])
        self.assertEqual(result.return_value, 1)
        self.assertEqual(tasks.send_notification_emails.enqueue([notice.pk]).return_value, 0)
        self.assertEqual(len(mail.outbox), 1)

    def test_a_preference_change_is_audited(self):
        actions.set_notification_preference(self.reviewer, "daily")
        actions.set_notification_preference(self.reviewer, "daily")  # no change, no event
        [event] = AuditEvent.objects.filter(verb="notifications.preference")
        self.assertEqual(event.actor, self.reviewer)
        self.assertEqual(event.changes, {"email": {"old": "immediate", "new": "daily"}})

    def test_an_unknown_choice_is_refused(self):
        with self.assertRaisesMessage(actions.ActionError, "Choose immediately"):
            actions.set_notification_preference(self.reviewer, "hourly")
        self.assertFalse(NotificationPreference.objects.exists())


class DailyDigestTests(TestCase):
    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.who = h.people()
        self.bot = h.assessed("bot", self.who, name="Bot")
        h.set_due(self.bot, h.TODAY + dt.timedelta(days=7))
        Notification.objects.all().delete()

    def run_command(self, *args):
        out = StringIO()
        call_command("send_review_reminders", *args, stdout=out, stderr=out)
        return out.getvalue()

    def test_one_digest_per_person_with_their_reviews_and_their_notifications(self):
        owner = self.who["owner"]
        actions.set_notification_preference(owner, "daily")
        other = h.assessed("other", self.who, name="Other")
        actions.start_assessment(self.who["assessor"], other)
        submitted = actions.submit_assessment(
            self.who["assessor"],
            f.answered(f.agent(owner, slug="third", name="Third"), self.who["assessor"]),
        )
        actions.set_notification_preference(self.who["assessor"], "daily")
        actions.return_assessment(self.who["reviewer"], submitted, comment="Check reach.")
        out = self.run_command()
        self.assertIn("Sent 2 e-mails about 1 review and 1 other notification.", out)
        by_person = {m.to[0]: m for m in mail.outbox}
        owner_mail = by_person["olga@example.com"]
        self.assertEqual(owner_mail.subject, "Reclassification review: 1 due soon")
        self.assertIn("Bot (bot), due in 7 days", owner_mail.body)
        assessor_mail = by_person["ada@example.com"]
        self.assertEqual(assessor_mail.subject, "Third v1 was returned to you")
        self.assertIn("Check reach.", assessor_mail.body)
        # The reminder is in the owner's notifications too.
        notice = Notification.objects.get(recipient=owner, kind="review_due")
        self.assertEqual(
            notice.title, f"The review of Bot is due {h.TODAY + dt.timedelta(days=7):%d %b %Y}"
        )
        self.assertEqual(notice.email_state, "sent")

    def test_someone_who_chose_no_e_mail_gets_the_reminder_in_the_app_only(self):
        actions.set_notification_preference(self.who["owner"], "off")
        out = self.run_command()
        self.assertIn("1 person chose no e-mail", out)
        self.assertEqual(mail.outbox, [])
        notice = Notification.objects.get(kind="review_due")
        self.assertEqual(notice.recipient, self.who["owner"])
        self.assertEqual(notice.email_state, "not_sent")
        self.run_command()
        self.assertEqual(Notification.objects.filter(kind="review_due").count(), 1)

    def test_an_exception_running_out_is_announced_once_per_threshold(self):
        planner = h.assessed(
            "planner",
            self.who,
            name="Planner",
            systems=[("k8s", "write")],
            decision_mode="planner_executor",
            traced_policy_decision="some",
        )
        exception = GapException.objects.get(agent=planner)
        Notification.objects.all().delete()
        self.traveller.move_to(
            h.NOW + dt.timedelta(days=(exception.expires_on - h.TODAY).days - 30)
        )
        out = self.run_command()
        self.assertIn("Announced 1 exception expiring soon.", out)
        told = Notification.objects.filter(kind="exception_expiring")
        self.assertEqual(
            sorted(n.recipient.username for n in told), ["olga", "rex"]
        )  # the owner and the reviewer who accepted it
        self.assertIn("expires in 30 days", told[0].title)
        self.assertTrue(
            any("The exception for Audit gap on Planner" in m.body for m in mail.outbox)
        )
        self.assertFalse(any("audit_gap" in m.body for m in mail.outbox))  # words, not codes
        self.run_command()
        self.assertEqual(told.all().count(), 2)
        self.traveller.shift(dt.timedelta(days=23))  # 7 days left
        self.run_command()
        self.assertEqual(
            sorted(told.all().values_list("dedupe_key", flat=True)),
            [f"exception:{exception.pk}:{t}" for t in ("30", "30", "7", "7")],
        )

    def test_a_renewed_exception_is_not_announced_as_expiring(self):
        planner = h.assessed(
            "planner",
            self.who,
            systems=[("k8s", "write")],
            decision_mode="planner_executor",
            traced_policy_decision="some",
        )
        old = GapException.objects.get(agent=planner)
        GapException.objects.create(
            agent=planner,
            assessment=old.assessment,
            subject=old.subject,
            reason="Renewed.",
            expires_on=old.expires_on + dt.timedelta(days=200),
            accepted_by=self.who["reviewer"],
        )
        self.traveller.move_to(h.NOW + dt.timedelta(days=(old.expires_on - h.TODAY).days - 5))
        self.run_command()
        self.assertFalse(Notification.objects.filter(kind="exception_expiring").exists())

    def test_digest_values_are_one_line_each(self):
        Agent.objects.filter(pk=self.bot.pk).update(name="Bot\r\nBcc: thief@evil.test")
        review = h.open_review(self.bot)
        review.reasons = [{"code": "new_link", "detail": "Linked\nSubject: forged"}]
        review.save(update_fields=["reasons"])
        self.run_command()
        [message] = mail.outbox
        for body in (message.body, message.alternatives[0][0]):
            lines = [line.strip(" -*") for line in body.splitlines()]
            self.assertFalse([line for line in lines if line.startswith(("Bcc:", "Subject:"))])
        self.assertIn("Bot Bcc: thief@evil.test (bot), due in 7 days", message.body)
        self.assertIn("Linked Subject: forged", message.body)

    def test_a_dry_run_writes_and_sends_nothing(self):
        out = self.run_command("--dry-run")
        self.assertIn("Would send 1 e-mail about 1 review.", out)
        self.assertEqual(mail.outbox, [])
        self.assertFalse(Notification.objects.exists())

    def test_the_digest_uses_the_notification_preferences_link(self):
        self.run_command()
        [message] = mail.outbox
        self.assertIn(f"http://127.0.0.1:8000{PREFERENCES}", message.body)
        self.assertEqual(notifications.Digest(self.who["owner"]).subject(), "")


class NotificationPageTests(TestCase):
    def setUp(self):
        self.reviewer = f.reviewer()
        self.other = f.reviewer("rita")
        self.client.force_login(self.reviewer)

    def add(self, count, recipient=None, title="Bot v1 awaits your decision"):
        Notification.objects.bulk_create(
            Notification(
                recipient=recipient or self.reviewer,
                kind="submitted",
                title=f"{title} {i}",
                body="Approve it, or return it.",
                url="/agents/bot/assessments/1/",
            )
            for i in range(count)
        )

    def test_the_page_lists_my_notifications_and_marks_them_read(self):
        self.add(2)
        self.add(1, recipient=self.other, title="Not yours")
        page = self.client.get(reverse("assessments:dashboard"))
        self.assertContains(page, '<span class="badge rounded-pill text-bg-danger">2<span')
        response = self.client.get(LIST)
        self.assertContains(response, "Bot v1 awaits your decision 0")
        self.assertContains(response, ">New</span>", count=2)
        self.assertNotContains(response, "Not yours")
        self.assertFalse(
            Notification.objects.filter(recipient=self.reviewer, read_at=None).exists()
        )
        self.assertEqual(Notification.objects.filter(recipient=self.other, read_at=None).count(), 1)
        again = self.client.get(LIST)
        self.assertNotContains(again, ">New</span>")
        self.assertNotContains(again, "text-bg-danger")

    def test_the_empty_page_says_what_will_appear(self):
        response = self.client.get(LIST)
        self.assertContains(response, "No notifications yet")
        self.assertContains(response, "when an assessment awaits your decision")

    def test_the_page_takes_the_same_queries_for_5_and_500(self):
        self.add(5)
        with CaptureQueriesContext(connection) as ctx:
            self.client.get(LIST)
        small = len(ctx.captured_queries)
        Notification.objects.all().delete()
        self.add(500)
        with self.assertNumQueries(small):
            response = self.client.get(LIST)
        self.assertEqual(len(response.context["notices"]), 30)

    def test_a_viewer_is_told_about_their_own_reviews_too(self):
        viewer = f.viewer()
        self.add(1, recipient=viewer)
        self.client.force_login(viewer)
        self.assertContains(self.client.get(LIST), "Bot v1 awaits your decision 0")


class PreferencePageTests(TestCase):
    def test_every_role_can_choose_and_the_change_is_audited(self):
        for factory in (f.viewer, f.assessor, f.reviewer, f.administrator):
            person = factory()
            self.client.force_login(person)
            page = self.client.get(PREFERENCES)
            self.assertContains(page, 'value="immediate" id="id_email_0" checked')
            response = self.client.post(PREFERENCES, {"email": "daily"})
            self.assertRedirects(response, PREFERENCES)
            self.assertEqual(actions.email_choice(person), "daily")
            self.assertContains(
                self.client.get(PREFERENCES), 'value="daily" id="id_email_1" checked'
            )
        self.assertEqual(AuditEvent.objects.filter(verb="notifications.preference").count(), 4)

    def test_junk_is_refused_and_changes_nothing(self):
        person = f.viewer()
        self.client.force_login(person)
        response = self.client.post(PREFERENCES, {"email": "hourly\x00"})
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "Select a valid choice", status_code=422)
        self.assertFalse(NotificationPreference.objects.exists())

    def test_outsiders_and_anonymous_visitors_cannot_post(self):
        self.client.force_login(f.outsider())
        self.assertEqual(self.client.post(PREFERENCES, {"email": "off"}).status_code, 403)
        self.client.logout()
        response = self.client.post(PREFERENCES, {"email": "off"})
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("login")))
        self.assertFalse(NotificationPreference.objects.exists())


class NotificationsFollowTheWorkTests(TestCase):
    """A request for a decision is done once somebody decided: shown as done, by whom and
    when, and no longer unread for anyone (issue 21)."""

    def setUp(self):
        self.assessor = f.assessor()
        self.rex = f.reviewer("rex")
        self.rita = f.reviewer("rita")
        self.agent = f.agent(slug="bot", name="Bot")
        self.submitted_at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
        self.decided_at = dt.datetime(2026, 3, 5, 14, 0, tzinfo=dt.UTC)
        self.submitted = actions.submit_assessment(
            self.assessor, f.answered(self.agent, self.assessor), now=self.submitted_at
        )

    def asks(self):
        return Notification.objects.filter(kind="submitted").order_by("recipient__username")

    def test_each_notice_carries_the_time_of_its_event(self):
        self.assertEqual({n.created_at for n in self.asks()}, {self.submitted_at})
        actions.return_assessment(self.rex, self.submitted, comment="Again.", now=self.decided_at)
        returned = Notification.objects.get(kind="returned")
        self.assertEqual(returned.created_at, self.decided_at)

    def test_approving_resolves_every_request_for_a_decision_about_it(self):
        self.assertEqual([n.recipient for n in self.asks().unread()], [self.rex, self.rita])
        actions.approve_assessment(self.rita, self.submitted, now=self.decided_at)
        for notice in self.asks():
            self.assertEqual(notice.resolution, "approved")
            self.assertEqual(notice.resolved_by, self.rita)
            self.assertEqual(notice.resolved_at, self.decided_at)
            self.assertIsNotNone(notice.read_at)
        self.assertFalse(Notification.objects.awaiting().exists())
        # Rex, who did not decide, reads it as done, by whom and when.
        self.client.force_login(self.rex)
        page = self.client.get(LIST)
        self.assertContains(page, f"Approved by {self.rita.get_full_name() or 'rita'} on")
        self.assertContains(page, ">5 Mar 2026 14:00</time>: nothing left to decide.")
        self.assertNotContains(page, ">New</span>")
        self.assertNotContains(page, "text-bg-danger")

    def test_returning_resolves_them_and_a_new_submission_asks_again(self):
        actions.return_assessment(self.rex, self.submitted, comment="Again.", now=self.decided_at)
        self.assertEqual(set(self.asks().values_list("resolution", flat=True)), {"returned"})
        again = actions.submit_assessment(self.assessor, self.submitted)
        self.assertEqual(
            {n.recipient for n in Notification.objects.awaiting().unread()}, {self.rex, self.rita}
        )
        self.assertTrue(all(n.assessment_id == again.pk for n in Notification.objects.awaiting()))

    def test_an_older_request_for_the_same_agent_is_superseded_by_a_new_submission(self):
        # A request left open from before the requests were linked to their assessment.
        Notification.objects.filter(kind="submitted").update(assessment=None)
        actions.return_assessment(self.rex, self.submitted, comment="Again.")
        self.assertEqual(Notification.objects.awaiting().count(), 2)  # not linked: left open
        actions.submit_assessment(self.assessor, self.submitted)
        old = Notification.objects.filter(kind="submitted", assessment=None)
        self.assertEqual(set(old.values_list("resolution", flat=True)), {"superseded"})
        self.assertFalse(old.unread().exists())

    def test_a_decided_request_waiting_for_the_digest_is_not_e_mailed(self):
        NotificationPreference.objects.create(user=self.rex, email="daily")
        Notification.objects.filter(recipient=self.rex).update(email_state="digest")
        actions.approve_assessment(self.rita, self.submitted)
        self.assertFalse(Notification.objects.for_digest().exists())


class MarkAllReadAndTheBellTests(TestCase):
    def setUp(self):
        self.reviewer = f.reviewer()
        self.other = f.reviewer("rita")
        self.client.force_login(self.reviewer)
        Notification.objects.bulk_create(
            Notification(recipient=person, kind="review_due", title=f"Review {i}")
            for i in range(45)
            for person in (self.reviewer, self.other)
        )

    def bell(self):
        page = self.client.get(reverse("assessments:dashboard")).content.decode()
        marker = '<span class="badge rounded-pill text-bg-danger">'
        if marker not in page:
            return 0
        return int(page.split(marker, 1)[1].split("<", 1)[0])

    def test_the_bell_counts_exactly_the_unread_list(self):
        Notification.objects.filter(recipient=self.reviewer, title="Review 3").update(
            read_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )
        self.assertEqual(self.bell(), 44)
        page = self.client.get(LIST, {"show": "unread"})
        self.assertEqual(page.context["page"].paginator.count, 44)
        self.assertContains(
            page, '<span class="badge rounded-pill text-bg-secondary" id="unread-count">44</span>'
        )
        self.assertNotContains(page, ">Review 3<")
        # On the page itself the bell counts what the tab counts.
        self.assertContains(page, '<span class="badge rounded-pill text-bg-danger">44<span')
        # The thirty shown are read now; the bell and the list agree on the rest.
        self.assertEqual(self.bell(), 14)
        self.assertEqual(self.client.get(LIST, {"show": "unread"}).context["unread_count"], 14)

    def test_mark_all_as_read_reads_mine_only_and_is_audited(self):
        response = self.client.post(reverse("assessments:notification_mark_all_read"))
        self.assertRedirects(response, LIST)
        self.assertEqual(self.bell(), 0)
        self.assertFalse(Notification.objects.filter(recipient=self.reviewer).unread().exists())
        self.assertEqual(Notification.objects.filter(recipient=self.other).unread().count(), 45)
        [event] = AuditEvent.objects.filter(verb="notifications.read_all")
        self.assertEqual(event.changes, {"marked_read": 45})
        self.assertContains(self.client.get(LIST, {"show": "unread"}), "Nothing unread")

    def test_mark_all_as_read_refuses_get(self):
        self.assertEqual(
            self.client.get(reverse("assessments:notification_mark_all_read")).status_code, 405
        )


class ExistingNoticesMigrationTests(TestCase):
    """Migration 0081 links the notices made before it to their assessment, by address,
    and resolves those whose assessment was decided since."""

    def test_decided_requests_made_before_the_migration_are_resolved(self):
        import importlib

        from django.apps import apps

        migration = importlib.import_module(
            "assessments.migrations.0081_truth-b_notification_resolution"
        )
        assessor, rex, rita = f.assessor(), f.reviewer("rex"), f.reviewer("rita")
        decided = actions.submit_assessment(assessor, f.answered(f.agent(slug="one"), assessor))
        actions.approve_assessment(rita, decided)
        waiting = actions.submit_assessment(assessor, f.answered(f.agent(slug="two"), assessor))
        Notification.objects.update(
            assessment=None, resolved_at=None, resolved_by=None, resolution="", read_at=None
        )
        migration.resolve_decided_notices(apps, None)
        one = Notification.objects.get(recipient=rex, kind="submitted", agent__slug="one")
        self.assertEqual(
            (one.assessment_id, one.resolution, one.resolved_by), (decided.pk, "approved", rita)
        )
        self.assertIsNotNone(one.read_at)
        two = Notification.objects.get(recipient=rex, kind="submitted", agent__slug="two")
        self.assertEqual((two.assessment_id, two.resolution, two.read_at), (waiting.pk, "", None))
