"""Four eyes: nobody who started, answered or submitted a version decides it, and a
retired agent's assessment is never approved."""

from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from assessments import actions
from assessments.models import Assessment, AuditEvent
from tests import factories as f


class FourEyesTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.reviewer = f.reviewer()
        self.other_reviewer = f.reviewer("rita")
        self.agent = f.agent(slug="bot")

    def _answered_by_reviewer_then_submitted_by_assessor(self) -> Assessment:
        """The bypass the issue describes: a reviewer edits answers, an assessor submits."""
        draft = f.answered(self.agent, self.assessor)
        draft = actions.save_answers(
            self.reviewer,
            draft,
            {"network_reach": "isolated"},
            expected_version=draft.lock_version,
        )
        return actions.submit_assessment(self.assessor, draft)

    def test_a_reviewer_who_answered_a_question_cannot_approve(self):
        submitted = self._answered_by_reviewer_then_submitted_by_assessor()
        with self.assertRaisesMessage(
            actions.ActionError,
            "You answered questions of this version, so another reviewer must decide it.",
        ):
            actions.approve_assessment(self.reviewer, submitted)
        submitted.refresh_from_db()
        self.assertEqual(submitted.status, "submitted")
        self.assertFalse(AuditEvent.objects.filter(verb="assessment.approve").exists())

    def test_a_reviewer_who_answered_a_question_cannot_return(self):
        submitted = self._answered_by_reviewer_then_submitted_by_assessor()
        with self.assertRaisesMessage(actions.ActionError, "You answered questions"):
            actions.return_assessment(self.reviewer, submitted, comment="Looks wrong.")
        submitted.refresh_from_db()
        self.assertEqual(submitted.status, "submitted")

    def test_another_reviewer_decides_it(self):
        submitted = self._answered_by_reviewer_then_submitted_by_assessor()
        approved = actions.approve_assessment(self.other_reviewer, submitted)
        self.assertEqual(approved.status, "approved")
        self.assertEqual(approved.reviewer, self.other_reviewer)

    def test_the_person_who_started_it_cannot_decide_it(self):
        draft = f.answered(self.agent, self.reviewer)  # a reviewer may fill one in
        submitted = actions.submit_assessment(self.reviewer, draft)
        allowed, why = actions.can_review(self.reviewer, submitted)
        self.assertFalse(allowed)
        self.assertEqual(why, "You started this assessment, so another reviewer must decide it.")

    def test_the_person_who_submitted_it_cannot_decide_it(self):
        draft = f.answered(self.agent, self.assessor)
        submitted = actions.submit_assessment(self.reviewer, draft)
        with self.assertRaisesMessage(
            actions.ActionError,
            "You submitted this assessment, so another reviewer must decide it.",
        ):
            actions.return_assessment(self.reviewer, submitted, comment="x")

    def test_answers_of_an_earlier_version_do_not_count(self):
        """Only this version's answers: the reviewer answered v1, not v2."""
        first = f.answered(self.agent, self.assessor)
        actions.save_answers(
            self.reviewer, first, {"network_reach": "isolated"}, expected_version=1
        )
        actions.approve_assessment(
            self.other_reviewer, actions.submit_assessment(self.assessor, first)
        )
        second = actions.submit_assessment(self.assessor, f.answered(self.agent, self.assessor))
        self.assertEqual(actions.can_review(self.reviewer, second), (True, ""))

    def test_the_page_refuses_with_the_reason_and_changes_nothing(self):
        submitted = self._answered_by_reviewer_then_submitted_by_assessor()
        self.client.force_login(self.reviewer)
        page = self.client.get(submitted.get_absolute_url())
        self.assertNotContains(page, "Your review")
        self.assertContains(page, "You answered questions of this version")
        response = self.client.post(
            reverse("assessments:assessment_decide", args=["bot", submitted.number]),
            {"decision": "approve", "lock_version": submitted.lock_version},
        )
        self.assertEqual(response.status_code, 422)
        self.assertContains(
            response,
            "You answered questions of this version, so another reviewer must decide it.",
            status_code=422,
        )
        submitted.refresh_from_db()
        self.assertEqual(submitted.status, "submitted")


class RetiredAgentTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.reviewer = f.reviewer()
        self.agent = f.agent(slug="old-bot", name="Old bot")
        self.submitted = actions.submit_assessment(
            self.assessor, f.answered(self.agent, self.assessor)
        )
        actions.retire_agent(self.assessor, self.agent)

    def test_a_retired_agents_assessment_cannot_be_approved(self):
        with self.assertRaisesMessage(
            actions.ActionError,
            "Old bot is retired, so this assessment cannot be approved. Return it, or "
            "reactivate the agent first.",
        ):
            actions.approve_assessment(self.reviewer, self.submitted)
        self.submitted.refresh_from_db()
        self.assertEqual(self.submitted.status, "submitted")
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.current_classification, "")

    def test_it_can_still_be_returned(self):
        returned = actions.return_assessment(
            self.reviewer, self.submitted, comment="The agent was retired."
        )
        self.assertEqual(returned.status, "returned")

    def test_after_reactivation_it_can_be_approved(self):
        actions.reactivate_agent(self.assessor, self.agent)
        self.assertEqual(
            actions.approve_assessment(self.reviewer, self.submitted).status, "approved"
        )

    def test_the_page_says_why_and_offers_only_the_return(self):
        self.client.force_login(self.reviewer)
        page = self.client.get(self.submitted.get_absolute_url())
        self.assertContains(page, "Old bot is retired, so this assessment cannot be approved.")
        self.assertNotContains(page, 'name="decision" value="approve"')
        self.assertContains(page, 'name="decision" value="return"')
        response = self.client.post(
            reverse("assessments:assessment_decide", args=["old-bot", 1]),
            {"decision": "approve", "lock_version": self.submitted.lock_version},
        )
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "cannot be approved", status_code=422)
        self.submitted.refresh_from_db()
        self.assertEqual(self.submitted.status, "submitted")
