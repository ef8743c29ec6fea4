"""End to end in a real browser: evidence uploaded from the wizard, proposals accepted
and rejected, the answers marked from evidence and the live panel following."""

from __future__ import annotations

import os
from unittest import mock

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections

from assessments import actions
from assessments.models import Assessment, EvidenceProposal
from tests import factories as f
from tests.evidence_helpers import ACCOUNT, FIXTURES
from tests.test_browser import _launch

pytestmark = pytest.mark.browser
PLANNER = "arn:aws:iam::123456789012:role/agents/release-planner"


class EvidenceBrowserTests(StaticLiveServerTestCase):
    def setUp(self):
        from playwright.sync_api import sync_playwright

        self.enterContext(mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}))
        f.ensure_reference_data()
        self.assessor = f.assessor("ada")
        self.agent = f.agent(slug="release-planner", name="Release planner")
        self.draft = actions.start_assessment(self.assessor, self.agent)
        self._pw = sync_playwright().start()
        self.addCleanup(self._pw.stop)
        self.addCleanup(connections.close_all)

    def test_upload_accept_reject_and_the_panel_follows(self):
        browser, context = _launch(self._pw)
        self.addCleanup(browser.close)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        page.goto(f"{self.live_server_url}/accounts/login/")
        page.fill("#id_login", "ada")
        page.fill("#id_password", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/")

        page.goto(f"{self.live_server_url}/agents/release-planner/assessments/1/wizard/runtime/")
        panel = page.locator("#decision-panel")
        self.assertNotIn("Answers from evidence", panel.inner_text())
        page.get_by_role("link", name="Add evidence").click()
        page.wait_for_url("**/evidence/add/")
        page.select_option("#id_kind", "aws")
        page.fill("#id_principal", PLANNER)
        page.set_input_files("#id_uploads", str(FIXTURES / ACCOUNT))
        page.get_by_role("button", name="Upload and analyse").click()
        page.wait_for_url("**/evidence/*/")

        alters = EvidenceProposal.objects.get(key="alters_own_access")
        shared = EvidenceProposal.objects.get(key="shared_platform_role")
        card = page.locator(f"#proposal-{alters.pk}")
        self.assertIn("During a run, can it widen its own access path?", card.inner_text())
        self.assertIn("may write its own policies or trust policy", card.inner_text())
        self.assertIn("RoleDetailList[0].RolePolicyList[0].Statement[1]", card.inner_text())
        self.assertNotIn("Decisive indicator", panel.inner_text())

        # Accept: the proposal says so and the live panel changes without a page load.
        with page.expect_response(lambda r: "/decide/" in r.url and r.status == 200):
            card.get_by_role("button", name="Accept").click()
        page.locator(f"#proposal-{alters.pk} .proposal-status", has_text="Accepted").wait_for()
        page.wait_for_function(
            "document.querySelector('#decision-panel').innerText.includes('Answers from evidence')"
        )
        self.assertIn("Decisive indicator", panel.inner_text())
        self.assertIn("account-authorization-details.json", panel.inner_text())

        # Reject without a reason is refused; with one it sticks.
        other = page.locator(f"#proposal-{shared.pk}")
        with page.expect_response(lambda r: "/decide/" in r.url and r.status == 422):
            other.get_by_role("button", name="Reject").click()
        # The response is in before htmx has swapped it into the page: wait for the swap.
        page.locator(f"#proposal-{shared.pk}", has_text="needs a reason").wait_for()
        page.fill(f"#reason-{shared.pk}", "It also runs the nightly batch under this role.")
        with page.expect_response(lambda r: "/decide/" in r.url and r.status == 200):
            page.locator(f"#proposal-{shared.pk}").get_by_role("button", name="Reject").click()
        rejected = page.locator(f"#proposal-{shared.pk}")
        rejected.locator(".proposal-status", has_text="Rejected").wait_for()
        self.assertIn("nightly batch", rejected.inner_text())

        # Back in the wizard: the answer is given and marked from evidence in the panel.
        page.get_by_role("link", name="Back to the wizard").click()
        page.wait_for_url("**/wizard/*/")
        page.goto(
            f"{self.live_server_url}/agents/release-planner/assessments/1/wizard/credentials/"
        )
        self.assertTrue(page.locator("#q-alters_own_access input[value=true]").is_checked())
        self.assertIn("Answers from evidence", page.locator("#decision-panel").inner_text())
        draft = Assessment.objects.get(pk=self.draft.pk)
        self.assertIs(draft.answers["alters_own_access"], True)
        self.assertNotIn("shared_platform_role", draft.answers)

        # The assessment page marks it too.
        page.goto(f"{self.live_server_url}/agents/release-planner/assessments/1/")
        self.assertIn("From evidence", page.content())
        # The refused rejection above is the one failed request the browser logs.
        refused = [e for e in errors if "status of 422" in e]
        self.assertEqual(len(refused), 1)
        self.assertEqual([e for e in errors if e not in refused], [])
