"""Stale writes are 409s that show both sides; a missing version is a 400 that changes nothing."""

from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from assessments import actions
from assessments.models import Assessment, AuditEvent
from tests import factories as f


class SubmitTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.client.force_login(self.assessor)
        self.draft = f.answered(f.agent(slug="bot"), self.assessor)
        self.url = reverse("assessments:wizard_review", args=["bot", self.draft.number])

    def test_a_submit_without_its_version_is_a_400_that_changes_nothing(self):
        before = AuditEvent.objects.count()
        for data in [{}, {"lock_version": ""}, {"lock_version": "x"}]:
            with self.subTest(data=data):
                self.assertEqual(self.client.post(self.url, data).status_code, 400)
        self.draft.refresh_from_db()
        self.assertEqual(self.draft.status, "draft")
        self.assertEqual(AuditEvent.objects.count(), before)

    def test_a_stale_submit_is_a_409_showing_both_versions(self):
        seen = self.draft.lock_version
        actions.save_answers(
            self.assessor, self.draft, {"network_reach": "internet"}, expected_version=seen
        )
        response = self.client.post(self.url, {"lock_version": seen})
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "These answers changed", status_code=409)
        self.assertContains(response, f"<td>{seen + 1}</td><td>{seen}</td>", status_code=409)
        self.draft.refresh_from_db()
        self.assertEqual(self.draft.status, "draft")

    def test_the_current_version_submits(self):
        response = self.client.post(self.url, {"lock_version": self.draft.lock_version})
        self.assertEqual(response.status_code, 302)
        self.draft.refresh_from_db()
        self.assertEqual(self.draft.status, "submitted")


class DecisionTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.reviewer = f.reviewer()
        agent = f.agent(slug="bot")
        self.submitted = actions.submit_assessment(self.assessor, f.answered(agent, self.assessor))
        self.url = reverse("assessments:assessment_decide", args=["bot", self.submitted.number])
        self.client.force_login(self.reviewer)

    def test_a_decision_without_its_version_is_a_400_that_changes_nothing(self):
        before = AuditEvent.objects.count()
        for decision in ["approve", "return"]:
            for version in [None, "", "nope"]:
                with self.subTest(decision=decision, version=version):
                    data = {"decision": decision, "comment": "Please fix."}
                    if version is not None:
                        data["lock_version"] = version
                    self.assertEqual(self.client.post(self.url, data).status_code, 400)
        self.submitted.refresh_from_db()
        self.assertEqual(self.submitted.status, "submitted")
        self.assertEqual(AuditEvent.objects.count(), before)

    def test_approving_answers_that_changed_since_the_page_loaded_is_a_409(self):
        seen = self.submitted.lock_version
        # Meanwhile another reviewer returns it, and the assessor changes and resubmits it.
        returned = actions.return_assessment(f.reviewer("other"), self.submitted, comment="Fix")
        changed = actions.save_answers(
            self.assessor,
            returned,
            {"network_reach": "internet"},
            expected_version=returned.lock_version,
        )
        resubmitted = actions.submit_assessment(self.assessor, changed)
        for decision in ["approve", "return"]:
            with self.subTest(decision=decision):
                response = self.client.post(
                    self.url, {"decision": decision, "lock_version": seen, "comment": "x"}
                )
                self.assertEqual(response.status_code, 409)
                self.assertContains(response, "changed after you opened it", status_code=409)
                self.assertContains(
                    response,
                    f"<td>{resubmitted.lock_version}</td><td>{seen}</td>",
                    status_code=409,
                )
        self.assertEqual(Assessment.objects.get(pk=self.submitted.pk).status, "submitted")
        self.assertFalse(AuditEvent.objects.filter(verb="assessment.approve").exists())

    def test_the_page_carries_the_version_and_it_decides(self):
        page = self.client.get(
            reverse("assessments:assessment_detail", args=["bot", self.submitted.number])
        )
        self.assertContains(
            page, f'name="lock_version" value="{self.submitted.lock_version}"', count=2
        )
        response = self.client.post(
            self.url, {"decision": "approve", "lock_version": self.submitted.lock_version}
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Assessment.objects.get(pk=self.submitted.pk).status, "approved")
