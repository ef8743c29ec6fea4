"""Withdrawing a submission (issue 21 item 3): a submitted assessment goes back to a
draft before anyone decides it, and every "… awaits your decision" about it is done."""

from __future__ import annotations

import datetime as dt

from django.test import TestCase
from django.urls import reverse

from assessments import actions
from assessments.models import Assessment, AuditEvent, Notification
from tests import factories as f
from tests.api_helpers import ApiClient, token_for

LIST = reverse("assessments:notification_list")


class WithdrawActionTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.rex = f.reviewer("rex")
        self.rita = f.reviewer("rita")
        self.agent = f.agent(slug="bot", name="Bot")
        self.submitted = actions.submit_assessment(
            self.assessor,
            f.answered(self.agent, self.assessor),
            now=dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC),
        )

    def test_it_is_a_draft_again_and_the_requests_are_withdrawn(self):
        when = dt.datetime(2026, 3, 3, 11, 0, tzinfo=dt.UTC)
        draft = actions.withdraw_assessment(
            self.assessor, self.submitted, reason="A system is missing.", now=when
        )
        self.assertEqual(draft.status, Assessment.Status.DRAFT)
        self.assertIsNone(draft.submitted_at)
        self.assertGreater(draft.lock_version, self.submitted.lock_version)
        asks = Notification.objects.filter(kind="submitted")
        self.assertEqual(asks.count(), 2)
        for notice in asks:
            self.assertEqual(notice.resolution, "withdrawn")
            self.assertEqual(notice.resolved_by, self.assessor)
            self.assertEqual(notice.resolved_at, when)
            self.assertIsNotNone(notice.read_at)
        self.assertFalse(Notification.objects.awaiting().exists())
        event = AuditEvent.objects.get(verb="assessment.withdraw")
        self.assertEqual(event.changes["status"], {"old": "submitted", "new": "draft"})
        self.assertEqual(event.changes["reason"], "A system is missing.")
        # The reviewers read it as done, in words.
        self.client.force_login(self.rex)
        self.assertContains(self.client.get(LIST), "Withdrawn by ")

    def test_it_can_be_changed_and_submitted_again(self):
        draft = actions.withdraw_assessment(self.assessor, self.submitted)
        actions.save_answers(
            self.assessor,
            draft,
            {"decision_mode": "fixed_script"},
            expected_version=draft.lock_version,
        )
        again = actions.submit_assessment(self.assessor, Assessment.objects.get(pk=draft.pk))
        self.assertEqual(again.status, Assessment.Status.SUBMITTED)
        self.assertEqual(Notification.objects.awaiting().count(), 2)

    def test_only_an_undecided_submission_and_the_version_read(self):
        with self.assertRaises(actions.ConflictError):
            actions.withdraw_assessment(
                self.assessor, self.submitted, expected_version=self.submitted.lock_version - 1
            )
        self.assertEqual(
            Assessment.objects.get(pk=self.submitted.pk).status, Assessment.Status.SUBMITTED
        )
        approved = actions.approve_assessment(self.rita, self.submitted)
        with self.assertRaisesMessage(actions.ActionError, "nobody has decided"):
            actions.withdraw_assessment(self.assessor, approved)
        self.assertEqual(Assessment.objects.get(pk=approved.pk).status, "approved")
        self.assertFalse(AuditEvent.objects.filter(verb="assessment.withdraw").exists())


class WithdrawPageAndApiTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        f.reviewer("rex")
        self.agent = f.agent(slug="bot", name="Bot")
        self.submitted = actions.submit_assessment(
            self.assessor, f.answered(self.agent, self.assessor)
        )
        self.url = reverse("assessments:assessment_withdraw", args=["bot", self.submitted.number])

    def test_the_assessment_page_offers_it_to_who_may_edit_and_not_to_a_viewer(self):
        page = self.submitted.get_absolute_url()
        self.client.force_login(self.assessor)
        self.assertContains(self.client.get(page), "Withdraw to a draft")
        self.client.force_login(f.viewer())
        self.assertNotContains(self.client.get(page), "Withdraw to a draft")

    def test_the_page_withdraws_and_opens_the_draft(self):
        self.client.force_login(self.assessor)
        response = self.client.post(
            self.url, {"lock_version": self.submitted.lock_version, "reason": ""}
        )
        self.assertRedirects(
            response,
            reverse("assessments:wizard", args=["bot", self.submitted.number]),
            fetch_redirect_response=False,
        )
        self.assertEqual(Assessment.objects.get(pk=self.submitted.pk).status, "draft")

    def test_a_stale_page_changes_nothing(self):
        self.client.force_login(self.assessor)
        response = self.client.post(self.url, {"lock_version": self.submitted.lock_version + 5})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(Assessment.objects.get(pk=self.submitted.pk).status, "submitted")
        response = self.client.post(self.url, {})
        self.assertEqual(response.status_code, 400)

    def test_the_api_needs_the_version_read(self):
        api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))
        path = f"/agents/bot/assessments/{self.submitted.number}/withdraw"
        self.assertEqual(api.post(path, {}).status_code, 422)
        stale = api.post(path, {"lock_version": self.submitted.lock_version + 1})
        self.assertEqual(stale.status_code, 409)
        done = api.post(path, {"lock_version": self.submitted.lock_version, "reason": "Oops"})
        self.assertEqual(done.status_code, 200, done.content)
        self.assertEqual(done.json()["status"], "draft")
