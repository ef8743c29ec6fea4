"""Defects a first-time user meets (issue 11): the wizard, slugs, Retire, make run."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from assessments import actions
from assessments.models import Agent, AgentLink, Assessment
from tests import factories as f
from tests.test_agents import _form_data


def wizard_url(name, a, *extra):
    return reverse(f"assessments:{name}", args=[a.agent.slug, a.number, *extra])


class NothingPlannedTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.a = actions.start_assessment(self.assessor, f.agent(slug="bot"))
        self.client.force_login(self.assessor)

    def autosave(self, chosen):
        data = {
            "question": "planned_changes",
            "lock_version": Assessment.objects.get(pk=self.a.pk).lock_version,
            "planned_changes": chosen,
            "planned_changes__present": "1",
        }
        return self.client.post(
            wizard_url("wizard_answer", self.a), data, headers={"HX-Request": "true"}
        )

    def test_the_question_offers_an_explicit_nothing_planned_answer(self):
        page = self.client.get(wizard_url("wizard_step", self.a, "composition"))
        self.assertContains(page, 'id="q-planned_changes-none" value="none"')
        self.assertContains(page, "Nothing planned")

    def test_nothing_planned_is_an_answer_that_unblocks_submit(self):
        response = self.autosave(["none"])
        self.assertEqual(response.status_code, 200)
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["planned_changes"], [])
        state_page = self.client.get(wizard_url("wizard_step", self.a, "composition"))
        self.assertContains(state_page, 'value="none" data-exclusive checked')
        review = self.client.get(wizard_url("wizard_review", self.a))
        self.assertNotIn("planned_changes", review.context["result"].missing)
        self.assertContains(review, "Nothing planned")

    def test_nothing_ticked_is_not_an_answer(self):
        self.autosave(["none"])
        self.autosave([])
        self.a.refresh_from_db()
        self.assertNotIn("planned_changes", self.a.answers)

    def test_nothing_planned_and_a_change_together_are_refused(self):
        response = self.autosave(["none", "write_access"])
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "cannot be ticked together", status_code=400)
        self.a.refresh_from_db()
        self.assertNotIn("planned_changes", self.a.answers)


class PerQuestionConflictTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.a = actions.start_assessment(self.assessor, f.agent(slug="bot"))
        self.client.force_login(self.assessor)

    def autosave(self, question, value, version):
        return self.client.post(
            wizard_url("wizard_answer", self.a),
            {"question": question, question: value, "lock_version": version},
            headers={"HX-Request": "true"},
        )

    def test_a_stale_tab_saves_a_question_nobody_else_changed(self):
        self.autosave("decision_mode", "fixed_script", 0)  # tab A; tab B still holds version 0
        response = self.autosave("tool_selection", "fixed", 0)  # tab B, another question
        self.assertEqual(response.status_code, 200)
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["decision_mode"], "fixed_script")
        self.assertEqual(self.a.answers["tool_selection"], "fixed")

    def test_a_stale_write_of_a_question_changed_since_is_refused_with_both_values(self):
        self.autosave("decision_mode", "fixed_script", 0)
        self.autosave("tool_selection", "fixed", 1)
        response = self.autosave("decision_mode", "planner_executor", 0)
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "Saved now: <strong>Fixed script</strong>", status_code=409)
        self.assertContains(response, "yours: <strong>Planner-executor</strong>", status_code=409)
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["decision_mode"], "fixed_script")

    def test_a_write_based_on_the_version_that_changed_it_is_not_a_conflict(self):
        self.autosave("decision_mode", "fixed_script", 0)
        self.autosave("tool_selection", "fixed", 1)
        response = self.autosave("decision_mode", "planner_executor", 1)
        self.assertEqual(response.status_code, 200)

    def test_a_stale_step_saves_the_other_answers_and_shows_the_one_conflict(self):
        self.autosave("decision_mode", "fixed_script", 0)
        response = self.client.post(
            wizard_url("wizard_step", self.a, "runtime"),
            {"lock_version": 0, "decision_mode": "planner_executor", "tool_selection": "fixed"},
        )
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "Your other answers on this step were saved", status_code=409)
        self.a.refresh_from_db()
        self.assertEqual(self.a.answers["decision_mode"], "fixed_script")
        self.assertEqual(self.a.answers["tool_selection"], "fixed")


class WizardFirstUseTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.reviewer = f.reviewer()
        self.agent = f.agent(slug="bot", credential_model="per_task_tokens")
        self.client.force_login(self.assessor)

    def test_the_credential_model_from_the_agent_form_is_pre_filled(self):
        a = actions.start_assessment(self.assessor, self.agent)
        self.assertEqual(a.answers["credential_model"], "per_task_tokens")
        page = self.client.get(wizard_url("wizard_step", a, "credentials"))
        self.assertContains(page, 'value="per_task_tokens" checked')

    def test_an_optional_step_with_nothing_answered_is_not_shown_complete(self):
        a = actions.start_assessment(self.assessor, self.agent)
        page = self.client.get(wizard_url("wizard_step", a, "runtime"))
        controls = next(s for s in page.context["steps"] if s["id"] == "controls")
        self.assertEqual(controls["answered"], 0)
        self.assertFalse(controls["complete"])
        self.assertRegex(
            page.content.decode(),
            r'<a class="step-link" href="[^"]*/controls/">\s*'
            r'<span class="step-index" aria-hidden="true">6</span>',
        )

    def test_a_submitted_assessment_does_not_claim_a_decision(self):
        a = actions.submit_assessment(self.assessor, f.answered(self.agent, self.assessor))
        response = self.client.get(wizard_url("wizard_step", a, "runtime"), follow=True)
        self.assertNotContains(response, "here is what was decided")
        self.assertContains(response, "waiting for a reviewer")

    def test_the_exception_checkbox_is_not_ticked_for_the_reviewer(self):
        a = f.answered(
            self.agent, self.assessor, traced_audit_record="none", decision_mode="planner_executor"
        )
        a = actions.submit_assessment(self.assessor, a)
        self.assertIn("audit_gap", a.result["flags"])
        self.client.force_login(self.reviewer)
        page = self.client.get(a.get_absolute_url())
        self.assertContains(page, "Blocking flag: Audit gap")
        checkbox = re.search(r'<input[^>]*value="audit_gap"[^>]*>', page.content.decode())
        self.assertIsNotNone(checkbox)
        self.assertNotIn("checked", checkbox.group(0))


class RetireConfirmationTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.agent = f.agent(slug="bot", name="Nightly bot")
        self.client.force_login(self.assessor)

    def test_retire_asks_on_a_page_of_its_own_not_with_the_browser_confirm(self):
        detail = self.client.get(self.agent.get_absolute_url())
        self.assertNotContains(detail, "hx-confirm")
        url = reverse("assessments:agent_retire", args=["bot"])
        self.assertContains(detail, f'href="{url}"')
        page = self.client.get(url)
        self.assertContains(page, "<h1")
        self.assertContains(page, "Retire Nightly bot?")
        self.assertContains(page, 'type="submit"')
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.status, "active")  # asking changes nothing
        self.client.post(url)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.status, "retired")

    def test_viewers_are_not_asked(self):
        self.client.force_login(f.viewer())
        response = self.client.get(reverse("assessments:agent_retire", args=["bot"]))
        self.assertEqual(response.status_code, 403)


class SlugTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.team = f.team()
        self.client.force_login(self.assessor)

    def post_create(self, **overrides):
        data = _form_data(owner=str(self.assessor.pk), team=str(self.team.pk), **overrides)
        return self.client.post(reverse("assessments:agent_create"), data)

    def test_an_uppercase_slug_is_refused_with_the_lowercase_one_suggested(self):
        response = self.post_create(slug="UPPER_Case")
        self.assertContains(response, "Slugs are lowercase", status_code=422)
        self.assertContains(response, "upper_case", status_code=422)
        self.assertFalse(Agent.objects.filter(slug__iexact="upper_case").exists())

    def test_the_model_refuses_uppercase_slugs_too(self):
        agent = Agent(slug="Mixed", name="x", purpose="x", owner=self.assessor, team=self.team)
        with self.assertRaisesMessage(Exception, "lowercase"):
            agent.full_clean()

    def test_accents_are_transliterated_in_a_slug_made_from_the_name(self):
        self.post_create(slug="", name="Café Résumé bot")
        self.assertTrue(Agent.objects.filter(slug="cafe-resume-bot").exists())

    def test_letters_with_no_plain_spelling_are_refused_not_trimmed(self):
        response = self.post_create(slug="", name="ünïcødé")
        self.assertContains(response, "no plain a-to-z spelling", status_code=422)
        self.assertContains(response, "ø", status_code=422)
        self.assertFalse(Agent.objects.filter(slug="unicde").exists())

    def test_an_older_mixed_case_slug_can_still_be_linked_under_its_own_slug(self):
        twin = f.agent(slug="case-twin")
        Agent.objects.filter(pk=twin.pk).update(slug="Case-Twin")  # made before the rule
        lower = f.agent(slug="case-twin")
        response = self.post_create(
            **{
                "links-TOTAL_FORMS": "2",
                "links-0-kind": "peer",
                "links-0-other": "Case-Twin",
                "links-1-kind": "peer",
                "links-1-other": "case-twin",
            }
        )
        agent = Agent.objects.get(slug="invoice-bot")
        self.assertRedirects(response, agent.get_absolute_url())
        self.assertEqual(
            {link.target_id for link in AgentLink.objects.filter(source=agent)}, {twin.pk, lower.pk}
        )
        # ... and the agent stays saveable: its links come back as they were stored.
        edit = self.client.get(reverse("assessments:agent_edit", args=["invoice-bot"]))
        self.assertContains(edit, 'value="Case-Twin"')


class MakeRunTests(TestCase):
    @override_settings(SITE_URL="http://0.0.0.0:8123")
    def test_load_demo_names_the_address_the_server_runs_on(self):
        out = io.StringIO()
        call_command("load_demo", stdout=out)
        self.assertIn("Sign in at http://0.0.0.0:8123/accounts/login/", out.getvalue())
        self.assertNotIn("127.0.0.1:8000", out.getvalue())

    def test_make_run_passes_host_and_port_on_as_the_site_url(self):
        dry = subprocess.run(  # noqa: S603
            [shutil.which("make") or "make", "-n", "run", "HOST=0.0.0.0", "PORT=8123"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.assertIn('SITE_URL="${SITE_URL:-http://0.0.0.0:8123}"', dry)
        self.assertIn("runserver 0.0.0.0:8123", dry)


class BoardPackForViewersTests(TestCase):
    def test_a_viewer_makes_a_board_pack_in_the_browser(self):
        from assessments.models import BoardPackJob

        viewer = f.viewer()
        self.client.force_login(viewer)
        page = self.client.get(reverse("assessments:reports"))
        self.assertContains(page, "Make the board pack")
        response = self.client.post(reverse("assessments:board_pack_request"), {"tier": ""})
        job = BoardPackJob.objects.get()
        self.assertRedirects(
            response,
            reverse("assessments:board_pack_status", args=[job.pk]),
            fetch_redirect_response=False,
        )
        self.assertEqual(job.requested_by, viewer)

    def test_the_reports_page_never_tells_a_browser_user_to_run_a_command(self):
        for persona in (f.viewer, f.assessor, f.reviewer, f.administrator):
            with self.subTest(persona.__name__):
                self.client.force_login(persona())
                page = self.client.get(reverse("assessments:reports"))
                self.assertNotContains(page, "manage.py")
                self.assertNotContains(page, "command line:")


class HistoryGroupingTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.other = f.assessor("bea")
        self.other.first_name, self.other.last_name = "Bea", "Brown"
        self.other.save()
        self.a = actions.start_assessment(self.assessor, f.agent(slug="bot"))

    def save(self, who, key, value):
        self.a = actions.save_answers(
            who, self.a, {key: value}, expected_version=self.a.lock_version
        )

    def test_consecutive_autosaves_by_one_person_are_one_expandable_entry(self):
        for key, value in list(f.SCRIPT_ANSWERS.items())[:7]:
            if key == "credential_model":
                value = "static_secret"  # pre-filled from the agent; change it
            self.save(self.assessor, key, value)
        self.save(self.assessor, "decision_mode", "model_assisted")  # the same question again
        self.save(self.other, "kill_switch", True)
        self.save(self.assessor, "access_review", "annual")
        self.client.force_login(f.viewer())
        page = self.client.get(self.a.get_absolute_url())
        history = page.context["history"]
        self.assertEqual(
            [(e["actor_label"], e["label"]) for e in history],
            [
                # People by their names (issue 21), not their usernames.
                ("Ada Assessor", "started an assessment"),
                ("Ada Assessor", "answered 7 questions"),
                ("Bea Brown", "answered 1 question"),
                ("Ada Assessor", "answered 1 question"),
            ],
        )
        body = page.content.decode()
        self.assertEqual(body.count('<details class="history-group">'), 1)
        self.assertIn("answered 7 questions", body)
        self.assertIn("(8 saves)", body)
        self.assertIn("How it decides: Fixed script → Model-assisted, code decides", body)

    def test_the_agent_page_groups_its_recent_activity_too(self):
        for key, value in list(f.SCRIPT_ANSWERS.items())[:3]:
            self.save(self.assessor, key, value)
        self.client.force_login(f.viewer())
        page = self.client.get(self.a.agent.get_absolute_url())
        self.assertContains(page, "answered 3 questions")
        self.assertNotContains(page, "answered questions")
