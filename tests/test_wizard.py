"""The assessment wizard, the review workflow, immutability and history."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.db import DatabaseError, connection, models, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import actions
from assessments.models import (
    Agent,
    Assessment,
    AuditEvent,
    GapException,
    ImmutableRecordError,
    Review,
)
from tests import factories as f


def wizard_url(name, a, *extra):
    return reverse(f"assessments:{name}", args=[a.agent.slug, a.number, *extra])


class StartTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.reviewer = f.reviewer()
        self.agent = f.agent(slug="bot", systems=[("erp", "write"), ("docs", "read")])
        self.client.force_login(self.assessor)

    def test_starting_creates_version_one_and_opens_the_first_step(self):
        response = self.client.post(reverse("assessments:assessment_start", args=["bot"]))
        a = Assessment.objects.get()
        self.assertEqual((a.number, a.status, a.assessor), (1, "draft", self.assessor))
        self.assertRedirects(response, wizard_url("wizard", a), fetch_redirect_response=False)
        step = self.client.get(wizard_url("wizard", a), follow=True)
        self.assertContains(step, "Runtime behaviour")
        self.assertContains(step, 'id="decision-panel"')
        self.assertTrue(AuditEvent.objects.filter(verb="assessment.start").exists())

    def test_only_one_open_assessment_per_agent(self):
        self.client.post(reverse("assessments:assessment_start", args=["bot"]))
        response = self.client.post(
            reverse("assessments:assessment_start", args=["bot"]), follow=True
        )
        self.assertContains(response, "already has an assessment in progress")
        self.assertEqual(Assessment.objects.count(), 1)

    def test_a_reassessment_starts_from_the_last_approved_answers(self):
        f.approved(self.agent, self.assessor, self.reviewer, decision_mode="model_assisted")
        a = actions.start_assessment(self.assessor, self.agent)
        self.assertEqual(a.number, 2)
        self.assertEqual(a.answers["decision_mode"], "model_assisted")
        self.assertNotIn("systems", a.answers)  # always read from the inventory
        self.assertEqual(a.based_on.number, 1)

    def test_retired_agents_cannot_be_assessed(self):
        actions.retire_agent(self.assessor, self.agent)
        with self.assertRaises(actions.ActionError):
            actions.start_assessment(self.assessor, self.agent)

    def test_viewer_cannot_start(self):
        self.client.force_login(f.viewer())
        response = self.client.post(reverse("assessments:assessment_start", args=["bot"]))
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Assessment.objects.exists())


class AutosaveTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.agent = f.agent(slug="bot", systems=[("erp", "write"), ("docs", "read")])
        self.a = actions.start_assessment(self.assessor, self.agent)
        self.client.force_login(self.assessor)

    def answer(self, question, value, version=None, **extra):
        data = {
            "question": question,
            "lock_version": self.a.lock_version if version is None else version,
        }
        if isinstance(value, list):
            data[question] = value
            data[f"{question}__present"] = "1"
        else:
            data[question] = value
        data.update(extra)
        return self.client.post(
            wizard_url("wizard_answer", self.a), data, headers={"HX-Request": "true"}
        )

    def test_an_answer_is_saved_at_once_and_the_panel_comes_back(self):
        response = self.answer("decision_mode", "planner_executor")
        self.assertEqual(response.status_code, 200)
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["decision_mode"], "planner_executor")
        self.assertEqual(self.a.lock_version, 1)
        body = response.content.decode()
        self.assertIn("Saved at", body)
        self.assertIn('id="decision-panel"', body)
        self.assertIn('hx-swap-oob="true"', body)
        self.assertIn('id="lock-version" value="1"', body)
        self.assertIn("Agent identity", body)  # planner-executor is a runtime decision
        event = AuditEvent.objects.get(verb="assessment.answer")
        self.assertEqual(event.changes, {"decision_mode": {"old": None, "new": "planner_executor"}})

    def test_booleans_lists_and_clearing(self):
        self.answer("crosses_environments", "true")
        self.a.refresh_from_db()
        self.answer("planned_changes", ["tool_chaining", "write_access"])
        self.a.refresh_from_db()
        self.assertIs(self.a.answers["crosses_environments"], True)
        self.assertEqual(self.a.answers["planned_changes"], ["write_access", "tool_chaining"])
        self.answer("crosses_environments", "")
        self.a.refresh_from_db()
        self.assertNotIn("crosses_environments", self.a.answers)
        self.answer("planned_changes", ["none"])  # the explicit "Nothing planned"
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["planned_changes"], [])

    def test_a_stale_answer_is_refused_with_409_and_both_values(self):
        self.answer("decision_mode", "fixed_script")  # another tab saved first
        response = self.answer("decision_mode", "planner_executor", version=0)
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.headers["HX-Retarget"], "#q-decision_mode")
        self.assertContains(response, "Saved now: <strong>Fixed script</strong>", status_code=409)
        self.assertContains(response, "yours: <strong>Planner-executor</strong>", status_code=409)
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["decision_mode"], "fixed_script")
        self.assertEqual(AuditEvent.objects.filter(verb="assessment.answer").count(), 1)

    def test_bad_answers_are_refused_and_change_nothing(self):
        cases = [
            {"question": "decision_mode", "decision_mode": "telepathic", "lock_version": 0},
            {"question": "nonsense", "lock_version": 0},
            {"question": "systems", "systems": "x", "lock_version": 0},
            {"question": "decision_mode", "decision_mode": "fixed_script", "lock_version": "x"},
            {
                "question": "planned_changes",
                "planned_changes": ["teleport"],
                "planned_changes__present": "1",
                "lock_version": 0,
            },
        ]
        for data in cases:
            with self.subTest(data=data):
                response = self.client.post(wizard_url("wizard_answer", self.a), data)
                self.assertEqual(response.status_code, 400)
        before = dict(self.a.answers)  # the credential model comes from the agent form
        self.a.refresh_from_db()
        self.assertEqual((self.a.answers, self.a.lock_version), (before, 0))

    def test_follow_up_questions_appear_and_disappear(self):
        response = self.answer("hybrid_pipeline", "true")
        body = response.content.decode()
        self.assertRegex(
            body, r'<div id="q-model_steps_self_direct" class="question mb-4" hx-swap-oob="true">'
        )
        self.a.refresh_from_db()
        response = self.answer("hybrid_pipeline", "false")
        self.assertRegex(
            response.content.decode(),
            r'<div id="q-model_steps_self_direct" class="question mb-4" hidden hx-swap-oob="true">',
        )

    def test_a_submitted_assessment_takes_no_more_answers(self):
        actions.save_answers(self.assessor, self.a, dict(f.SCRIPT_ANSWERS), expected_version=0)
        actions.submit_assessment(self.assessor, Assessment.objects.get(pk=self.a.pk))
        self.a.refresh_from_db()
        response = self.answer("decision_mode", "planner_executor")
        self.assertEqual(response.status_code, 409)
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["decision_mode"], "fixed_script")


class NoJavaScriptTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.agent = f.agent(slug="bot")
        self.a = actions.start_assessment(self.assessor, self.agent)
        self.client.force_login(self.assessor)

    def post_step(self, step, data, version=None):
        data = {"lock_version": self.a.lock_version if version is None else version, **data}
        return self.client.post(wizard_url("wizard_step", self.a, step), data)

    def test_a_step_saves_as_a_plain_form_and_moves_on(self):
        response = self.post_step(
            "runtime",
            {
                "decision_mode": "fixed_script",
                "tool_selection": "fixed",
                "crosses_environments": "false",
                "calls_external_apis": "false",
            },
        )
        self.assertRedirects(
            response,
            wizard_url("wizard_step", self.a, "credentials"),
            fetch_redirect_response=False,
        )
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["tool_selection"], "fixed")
        self.assertIs(self.a.answers["calls_external_apis"], False)
        self.assertEqual(self.a.current_step, "runtime")

    def test_a_follow_up_keeps_the_assessor_on_the_step(self):
        response = self.post_step(
            "composition", {"orchestration": "standalone", "hybrid_pipeline": "true"}
        )
        self.assertRedirects(
            response,
            wizard_url("wizard_step", self.a, "composition"),
            fetch_redirect_response=False,
        )
        page = self.client.get(response["Location"])
        self.assertContains(page, "A follow-up question applies now")
        self.assertNotContains(page, 'id="q-model_steps_self_direct" class="question mb-4" hidden')

    def test_a_stale_step_is_refused_with_409_showing_both_values(self):
        self.post_step("runtime", {"decision_mode": "fixed_script"})
        response = self.post_step("runtime", {"decision_mode": "planner_executor"}, version=0)
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "Fixed script", status_code=409)
        self.assertContains(response, "Planner-executor", status_code=409)
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["decision_mode"], "fixed_script")

    def test_unknown_values_are_refused_with_422(self):
        response = self.post_step("runtime", {"decision_mode": "<script>"})
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "is not one of the choices", status_code=422)

    def test_leaving_and_coming_back_resumes_at_the_same_step(self):
        self.client.get(wizard_url("wizard_step", self.a, "reach"))
        response = self.client.get(wizard_url("wizard", self.a))
        self.assertRedirects(response, wizard_url("wizard_step", self.a, "reach"))

    def test_resuming_reads_no_answers_unless_the_step_must_be_worked_out(self):
        # The saved step is enough to send the assessor back to it; only a draft without
        # a known step needs its answers (and the engine) to find the first step not done.
        self.client.get(wizard_url("wizard", self.a))  # the session's first writes
        Assessment.objects.filter(pk=self.a.pk).update(current_step="reach")
        with CaptureQueriesContext(connection) as known:
            response = self.client.get(wizard_url("wizard", self.a))
        self.assertRedirects(
            response, wizard_url("wizard_step", self.a, "reach"), fetch_redirect_response=False
        )
        Assessment.objects.filter(pk=self.a.pk).update(current_step="no-longer-a-step")
        with CaptureQueriesContext(connection) as unknown:
            response = self.client.get(wizard_url("wizard", self.a))
        self.assertRedirects(
            response, wizard_url("wizard_step", self.a, "runtime"), fetch_redirect_response=False
        )
        self.assertLess(len(known.captured_queries), len(unknown.captured_queries))

    def test_an_unknown_step_is_404(self):
        self.assertEqual(
            self.client.get(wizard_url("wizard_step", self.a, "nope")).status_code, 404
        )


class SubmitAndReviewTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.reviewer = f.reviewer()
        self.agent = f.agent(slug="bot", systems=[("erp", "write"), ("docs", "read")])

    def test_submit_is_refused_while_required_answers_are_missing(self):
        a = actions.start_assessment(self.assessor, self.agent)
        self.client.force_login(self.assessor)
        response = self.client.post(
            wizard_url("wizard_review", a), {"lock_version": a.lock_version}
        )
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "required answers are missing", status_code=422)
        a.refresh_from_db()
        self.assertEqual(a.status, "draft")

    def test_submit_freezes_answers_inventory_and_result(self):
        a = f.answered(self.agent, self.assessor)
        self.client.force_login(self.assessor)
        response = self.client.post(
            wizard_url("wizard_review", a), {"lock_version": a.lock_version}
        )
        self.assertRedirects(response, a.get_absolute_url())
        a.refresh_from_db()
        self.assertEqual(a.status, "submitted")
        self.assertEqual(
            a.answers["systems"],
            [{"name": "docs", "access": "read"}, {"name": "erp", "access": "write"}],
        )
        self.assertEqual(a.result["classification"], "machine_identity")
        self.assertEqual(a.classification, "machine_identity")
        # A later inventory change does not alter the submitted record.
        actions.update_agent(
            self.assessor, self.agent, fields={}, systems=[{"name": "iam", "access": "admin"}]
        )
        a.refresh_from_db()
        self.assertEqual(len(a.answers["systems"]), 2)

    def test_the_assessor_can_never_approve_their_own_assessment(self):
        # Even a reviewer who filled it in.
        a = f.answered(self.agent, self.reviewer)
        a = actions.submit_assessment(self.reviewer, a)
        self.client.force_login(self.reviewer)
        response = self.client.post(
            reverse("assessments:assessment_decide", args=["bot", a.number]),
            {"decision": "approve", "lock_version": a.lock_version},
        )
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "another reviewer must decide it", status_code=422)
        a.refresh_from_db()
        self.assertEqual(a.status, "submitted")

    def test_approval_sets_the_agents_class_tier_and_next_review(self):
        a = actions.submit_assessment(
            self.assessor, f.answered(self.agent, self.assessor, human_approval="none")
        )
        with time_machine.travel(dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC), tick=False):
            self.client.force_login(self.reviewer)
            response = self.client.post(
                reverse("assessments:assessment_decide", args=["bot", a.number]),
                {"decision": "approve", "lock_version": a.lock_version},
            )
            # Followed at the same moment as the sign-in: the session's absolute timeout
            # counts from it, so following it at the real date would depend on the day.
            self.assertRedirects(response, a.get_absolute_url())
        self.agent.refresh_from_db()
        # Fixed script, two systems, no approval: machine identity with unattended reach, tier 2.
        self.assertEqual(self.agent.current_classification, "machine_identity")
        self.assertEqual(self.agent.current_tier, 2)
        self.assertEqual(self.agent.next_review_on, dt.date(2026, 12, 1) + dt.timedelta(days=180))
        review = Review.objects.open().get(agent=self.agent)
        self.assertEqual(review.due_on, self.agent.next_review_on)
        self.assertTrue(
            AuditEvent.objects.filter(verb="assessment.approve", actor=self.reviewer).exists()
        )

    def test_the_audit_gap_blocks_approval_without_an_exception(self):
        a = actions.submit_assessment(
            self.assessor,
            f.answered(
                self.agent,
                self.assessor,
                decision_mode="planner_executor",
                traced_policy_decision="some",
            ),
        )
        self.assertIn("audit_gap", a.result["flags"])
        self.client.force_login(self.reviewer)
        url = reverse("assessments:assessment_decide", args=["bot", a.number])
        response = self.client.post(url, {"decision": "approve", "lock_version": a.lock_version})
        self.assertContains(response, "The audit gap blocks approval", status_code=422)
        too_long = timezone.localdate() + dt.timedelta(days=366)
        response = self.client.post(
            url,
            {
                "decision": "approve",
                "lock_version": a.lock_version,
                "exception_subjects": ["audit_gap"],
                "exception_reason": "Tracing ships next quarter.",
                "exception_expires_on": too_long.isoformat(),
            },
        )
        self.assertContains(response, "at most 365 days", status_code=422)
        response = self.client.post(
            url,
            {
                "decision": "approve",
                "lock_version": a.lock_version,
                "exception_subjects": ["audit_gap"],
                "exception_reason": "",
                "exception_expires_on": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            },
        )
        self.assertContains(response, "needs a reason", status_code=422)
        a.refresh_from_db()
        self.assertEqual(a.status, "submitted")
        expires = timezone.localdate() + dt.timedelta(days=365)
        response = self.client.post(
            url,
            {
                "decision": "approve",
                "lock_version": a.lock_version,
                "exception_subjects": ["audit_gap"],
                "exception_reason": "Tracing ships next quarter.",
                "exception_expires_on": expires.isoformat(),
            },
        )
        self.assertRedirects(response, a.get_absolute_url())
        exception = GapException.objects.get()
        self.assertEqual(
            (exception.subject, exception.expires_on, exception.accepted_by),
            ("audit_gap", expires, self.reviewer),
        )
        self.assertTrue(AuditEvent.objects.filter(verb="exception.accept").exists())

    def test_return_needs_a_comment_and_reopens_the_draft(self):
        a = actions.submit_assessment(self.assessor, f.answered(self.agent, self.assessor))
        self.client.force_login(self.reviewer)
        url = reverse("assessments:assessment_decide", args=["bot", a.number])
        self.assertEqual(
            self.client.post(
                url, {"decision": "return", "comment": " ", "lock_version": a.lock_version}
            ).status_code,
            422,
        )
        self.client.post(
            url,
            {
                "decision": "return",
                "comment": "Which systems does it write to?",
                "lock_version": a.lock_version,
            },
        )
        a.refresh_from_db()
        self.assertEqual(
            (a.status, a.review_comment), ("returned", "Which systems does it write to?")
        )
        self.client.force_login(self.assessor)
        page = self.client.get(wizard_url("wizard_step", a, "runtime"))
        self.assertContains(page, "Which systems does it write to?")
        resubmitted = actions.submit_assessment(self.assessor, a)
        self.assertEqual(resubmitted.status, "submitted")

    def test_viewers_and_assessors_cannot_decide(self):
        a = actions.submit_assessment(self.assessor, f.answered(self.agent, self.assessor))
        for person in (f.viewer(), f.assessor("other-assessor")):
            self.client.force_login(person)
            response = self.client.post(
                reverse("assessments:assessment_decide", args=["bot", a.number]),
                {"decision": "approve", "lock_version": a.lock_version},
            )
            self.assertEqual(response.status_code, 403)
        a.refresh_from_db()
        self.assertEqual(a.status, "submitted")


class ImmutabilityTests(TestCase):
    def setUp(self):
        self.assessor, self.reviewer = f.assessor(), f.reviewer()
        self.agent = f.agent(slug="bot")
        self.a = f.approved(self.agent, self.assessor, self.reviewer)

    def test_the_model_refuses_to_change_an_approved_assessment(self):
        self.a.answers = {"decision_mode": "planner_executor"}
        with self.assertRaises(ImmutableRecordError):
            self.a.save()
        with self.assertRaises(ImmutableRecordError):
            self.a.delete()

    def test_the_database_refuses_to_change_an_approved_assessment(self):
        with self.assertRaises(ImmutableRecordError):
            Assessment.objects.filter(pk=self.a.pk).update(classification="agent_identity")
        # Past the Python guard (the base QuerySet.update), the trigger refuses.
        with self.assertRaises(DatabaseError), transaction.atomic():
            models.QuerySet.update(
                Assessment.objects.filter(pk=self.a.pk), classification="agent_identity"
            )
        self.a.refresh_from_db()
        self.assertEqual(self.a.classification, "machine_identity")

    def test_the_actions_refuse_too(self):
        with self.assertRaises(actions.ActionError):
            actions.save_answers(
                self.assessor,
                self.a,
                {"decision_mode": "planner_executor"},
                expected_version=self.a.lock_version,
            )
        with self.assertRaises(actions.ActionError):
            actions.return_assessment(self.reviewer, self.a, comment="again")

    def test_the_wizard_sends_you_to_the_record(self):
        self.client.force_login(self.assessor)
        response = self.client.get(wizard_url("wizard_step", self.a, "runtime"))
        self.assertRedirects(response, self.a.get_absolute_url())


class HistoryTests(TestCase):
    def setUp(self):
        self.assessor, self.reviewer = f.assessor(), f.reviewer()
        self.agent = f.agent(slug="bot", systems=[("erp", "read")])
        f.approved(self.agent, self.assessor, self.reviewer)
        f.approved(
            self.agent,
            self.assessor,
            self.reviewer,
            decision_mode="planner_executor",
            planned_changes=["dynamic_tools"],
        )
        self.client.force_login(f.viewer())

    def test_the_agent_page_shows_a_timeline_of_versions(self):
        response = self.client.get(self.agent.get_absolute_url())
        self.assertContains(response, "Version 2")
        self.assertContains(response, "Version 1")
        self.assertContains(response, "Compare versions")

    def test_compare_shows_changed_answers_class_flags_and_rationale(self):
        response = self.client.get(
            reverse("assessments:assessment_compare", args=["bot"]), {"from": 1, "to": 2}
        )
        self.assertEqual(response.context["changed_count"], 2)
        self.assertContains(response, "Class changed")
        self.assertEqual(response.context["flags_added"], ["capability_drift"])
        self.assertTrue(
            any(
                "decision_mode = planner_executor" in s for s in response.context["rationale_added"]
            )
        )
        self.assertTrue(response.context["rationale_removed"])

    def test_compare_with_nonsense_versions_falls_back(self):
        response = self.client.get(
            reverse("assessments:assessment_compare", args=["bot"]), {"from": "x", "to": "99"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Choose two versions")


class AgentPageTests(TestCase):
    def test_agent_page_offers_start_then_continue(self):
        assessor = f.assessor()
        agent = f.agent(slug="bot")
        self.client.force_login(assessor)
        self.assertContains(self.client.get(agent.get_absolute_url()), "Start the assessment")
        actions.start_assessment(assessor, agent)
        self.assertContains(self.client.get(agent.get_absolute_url()), "Continue assessment v1")
        self.assertTrue(Agent.objects.filter(slug="bot").exists())


class AutosaveQueryCountTests(TestCase):
    def test_autosave_query_count_does_not_grow_with_the_portfolio_or_links(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        assessor = f.assessor()
        f.agent(slug="first-spoke", systems=[("crm", "read")])
        agent = f.agent(
            slug="hub", systems=[("erp", "write")], links=[("orchestrates", "first-spoke")]
        )
        a = actions.start_assessment(assessor, agent)
        self.client.force_login(assessor)

        def one_save(value):
            version = Assessment.objects.values_list("lock_version", flat=True).get(pk=a.pk)
            with CaptureQueriesContext(connection) as ctx:
                response = self.client.post(
                    wizard_url("wizard_answer", a),
                    {"question": "decision_mode", "decision_mode": value, "lock_version": version},
                )
            self.assertEqual(response.status_code, 200)
            return len(ctx.captured_queries)

        one_save("fixed_script")  # warm the caches
        small = one_save("model_assisted")
        others = [
            f.agent(slug=f"spoke-{n}", systems=[("crm", "read"), ("iam", "admin")])
            for n in range(30)
        ]
        actions.update_agent(
            assessor,
            agent,
            fields={},
            links=[{"kind": "orchestrates", "other": o.slug} for o in others]
            + [{"kind": "orchestrates", "other": "first-spoke"}],
        )
        large = one_save("planner_executor")
        self.assertEqual(small, large)


class DecisionPanelTests(TestCase):
    def test_the_panel_lists_the_framework_items_the_required_controls_map_to(self):
        assessor = f.assessor()
        a = f.answered(f.agent(slug="mapped"), assessor, decision_mode="planner_executor")
        self.client.force_login(assessor)
        response = self.client.get(wizard_url("wizard_step", a, "runtime"))
        mappings = {m["key"]: m for m in response.context["mappings"]}
        self.assertEqual(
            mappings["owasp_asi_top10_2026"]["name"], "OWASP Agentic Top 10 (ASI Top 10)"
        )
        self.assertIn("ASI03", mappings["owasp_asi_top10_2026"]["items"])
        self.assertContains(response, "Framework mappings")

    def test_an_approved_audit_gap_reads_as_accepted_not_as_blocking(self):
        assessor, reviewer = f.assessor("panel-a"), f.reviewer("panel-r")
        a = f.approved(
            f.agent(slug="gapped"),
            assessor,
            reviewer,
            decision_mode="planner_executor",
            traced_policy_decision="some",
        )
        self.client.force_login(reviewer)
        response = self.client.get(a.get_absolute_url())
        self.assertContains(response, "Audit gap · approved under an exception")
        self.assertNotContains(response, "blocks approval")
