"""End to end in a real browser: Playwright driving Debian's Chromium.

An assessor starts an assessment, answers and watches the live panel change, reloads
half-way and finds every answer kept, and submits; a reviewer approves; the agent
shows its new class. Then the same steps without JavaScript.
"""

from __future__ import annotations

import os
import shutil
from unittest import mock

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections

from assessments.models import Agent, Assessment
from tests import factories as f

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.browser

RUNTIME = {
    "decision_mode": "Planner-executor",
    "tool_selection": "Chooses from an allow-list",
    "crosses_environments": "No",
    "calls_external_apis": "No",
}


def _launch(playwright, *, javascript: bool = True):
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        raise RuntimeError(
            f"Chromium not found at {CHROMIUM}. Install it (apt-get install chromium) or set "
            "CHROMIUM to its path; .ci/run installs it."
        )
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    return browser, context


class BrowserFlowTests(StaticLiveServerTestCase):
    def setUp(self):
        from playwright.sync_api import sync_playwright

        # Playwright's sync API runs an event loop in this thread; the ORM calls the test
        # makes between browser steps are ordinary synchronous calls. Only for this test.
        self.enterContext(mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}))

        f.ensure_reference_data()
        self.assessor = f.assessor("ada")
        self.reviewer = f.reviewer("rex")
        self.agent = f.agent(
            slug="triage-bot",
            name="Triage bot",
            systems=[("pagerduty", "write"), ("datadog", "read")],
            credential_model="static_secret",  # the wizard starts from it; changed below
        )
        self._pw = sync_playwright().start()
        self.addCleanup(self._pw.stop)
        # ORM calls made while Playwright runs get their own connection (its greenlet
        # is another context for Django); close it so the test database can be dropped.
        self.addCleanup(connections.close_all)

    def sign_in(self, page, username):
        page.goto(f"{self.live_server_url}/accounts/login/")
        page.fill("#id_login", username)
        page.fill("#id_password", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/")

    def choose(self, page, question, label):
        """Click an option and wait until the server says it is saved."""
        with page.expect_response(lambda r: "/wizard/answer/" in r.url and r.status == 200):
            page.locator(f"#q-{question} label", has_text=label).first.click()
        page.locator(f"#q-{question}-status .saved").wait_for()

    def test_assess_submit_and_approve_with_javascript(self):
        browser, context = _launch(self._pw)
        self.addCleanup(browser.close)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        self.sign_in(page, "ada")
        page.goto(f"{self.live_server_url}/agents/triage-bot/")
        page.get_by_role("button", name="Start the assessment").click()
        page.wait_for_url("**/wizard/runtime/")
        panel = page.locator("#decision-panel")
        # An empty draft is undecided, never headlined as the safe class.
        self.assertIn("Undecided — ", panel.inner_text())
        self.assertIn("No answer so far leans to either class", panel.inner_text())

        # The live panel follows the answers, without a page load.
        self.choose(page, "decision_mode", RUNTIME["decision_mode"])
        page.wait_for_function(
            "document.querySelector('#decision-panel').innerText.includes('Agent identity')"
        )
        self.assertIn("How it decides: Planner-executor", panel.inner_text())
        self.assertNotIn("decision_mode", panel.inner_text())  # words, not codes
        for question, label in list(RUNTIME.items())[1:]:
            self.choose(page, question, label)

        # Reload half-way: every answer is still there.
        page.reload()
        for question, label in RUNTIME.items():
            checked = page.locator(f"#q-{question} input:checked")
            label_text = page.locator(f"label[for='{checked.get_attribute('id')}']").inner_text()
            self.assertIn(label, label_text)

        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url("**/wizard/credentials/")
        # Answer four questions as fast as the browser can click: hx-sync queues the
        # saves, so none of them races another into a version conflict.
        quick = [
            ("credential_model", "Workload identity"),
            ("decides_own_scopes", "No"),
            ("alters_own_access", "No"),
            ("shared_platform_role", "No"),
        ]
        for question, label in quick:
            page.locator(f"#q-{question} label", has_text=label).first.click()
        for question, _ in quick:
            page.locator(f"#q-{question}-status .saved").wait_for()
        saved = Assessment.objects.get(agent__slug="triage-bot").answers
        self.assertEqual(saved["credential_model"], "workload_identity")
        self.assertEqual(
            [saved[q] for q in ("decides_own_scopes", "alters_own_access", "shared_platform_role")],
            [False, False, False],
        )
        self.assertEqual(page.locator(".conflict-message").count(), 0)
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url("**/wizard/reach/")
        for question, label in [
            ("human_approval", "High-impact actions only"),
            ("delegated_approval", "No"),
            ("network_reach", "Allow-listed"),
        ]:
            self.choose(page, question, label)
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url("**/wizard/traceability/")
        for question in ("traced_identity", "traced_policy_decision", "traced_audit_record"):
            page.locator(f"#q-{question} input[value=all]").check()
            page.locator(f"#q-{question}-status .saved").wait_for()
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url("**/wizard/composition/")
        self.choose(page, "orchestration", "Standalone")
        # A follow-up appears only when it applies.
        follow_up = page.locator("#q-model_steps_self_direct")
        self.assertFalse(follow_up.is_visible())
        self.choose(page, "hybrid_pipeline", "Yes")
        follow_up.wait_for(state="visible")
        self.choose(page, "model_steps_self_direct", "No")
        self.choose(page, "hybrid_pipeline", "No")
        follow_up.wait_for(state="hidden")
        # "Nothing planned" is an answer of its own; it unticks any change ticked before.
        self.choose(page, "planned_changes", "Write access")
        self.choose(page, "planned_changes", "Nothing planned")
        self.assertFalse(page.locator("#q-planned_changes-1").is_checked())
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url("**/wizard/controls/")
        page.get_by_role("button", name="Save and review").click()
        page.wait_for_url("**/wizard/review/")
        page.get_by_role("button", name="Submit for review").click()
        page.wait_for_url("**/assessments/1/")
        self.assertIn("Submitted", page.inner_text("main"))

        # The reviewer approves; the agent shows its new class.
        context.clear_cookies()
        self.sign_in(page, "rex")
        page.goto(f"{self.live_server_url}/agents/triage-bot/assessments/1/")
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url("**/assessments/1/")
        page.goto(f"{self.live_server_url}/agents/triage-bot/")
        decision = page.locator("#decision-heading + .card-body").inner_text()
        self.assertIn("Agent identity", decision)
        self.assertIn("3 · High", decision)
        self.agent.refresh_from_db()
        self.assertEqual(
            (self.agent.current_classification, self.agent.current_tier), ("agent_identity", 3)
        )
        self.assertEqual(errors, [], "the browser reported errors (CSP violations show here)")

    def test_the_wizard_works_without_javascript(self):
        browser, context = _launch(self._pw, javascript=False)
        self.addCleanup(browser.close)
        page = context.new_page()
        self.sign_in(page, "ada")
        page.goto(f"{self.live_server_url}/agents/triage-bot/")
        page.get_by_role("button", name="Start the assessment").click()
        page.wait_for_url("**/wizard/runtime/")
        for question, label in RUNTIME.items():
            page.locator(f"#q-{question} label", has_text=label).first.click()
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url("**/wizard/credentials/")
        a = Assessment.objects.get(agent__slug="triage-bot")
        self.assertEqual(a.answers["decision_mode"], "planner_executor")
        self.assertIs(a.answers["crosses_environments"], False)
        self.assertIn("Agent identity", page.inner_text("#decision-panel"))
        self.assertTrue(Agent.objects.filter(slug="triage-bot").exists())
