"""The API docs page in a real browser: Swagger UI from this site's static files renders
every operation under the strict CSP, and a signed-in person can call the API from it."""

from __future__ import annotations

import os
from unittest import mock

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections

from tests import factories as f
from tests.test_browser import _launch

pytestmark = pytest.mark.browser


class ApiDocsBrowserTests(StaticLiveServerTestCase):
    def setUp(self):
        from playwright.sync_api import sync_playwright

        self.enterContext(mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}))
        f.ensure_reference_data()
        f.viewer("vera")
        f.agent(slug="docs-bot", name="Docs bot")
        self._pw = sync_playwright().start()
        self.addCleanup(self._pw.stop)
        self.addCleanup(connections.close_all)

    def test_swagger_ui_renders_and_calls_the_api_without_breaking_the_csp(self):
        browser, context = _launch(self._pw)
        self.addCleanup(browser.close)
        page = context.new_page()
        problems: list[str] = []
        requests: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: requests.append(r.url))

        page.goto(f"{self.live_server_url}/accounts/login/")
        page.fill("#id_login", "vera")
        page.fill("#id_password", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/")

        page.goto(f"{self.live_server_url}/api/v1/docs")
        page.locator(".swagger-ui .info .title").wait_for()
        self.assertIn("Agent Identity Assessor API", page.locator(".info .title").inner_text())
        page.locator(".opblock").first.wait_for()
        self.assertGreaterEqual(page.locator(".opblock").count(), 20)

        # Try the agent list from the page: the session is the credential.
        block = page.locator(".opblock-get", has_text="/api/v1/agents").first
        block.locator(".opblock-summary").click()
        block.get_by_role("button", name="Try it out").click()
        with page.expect_response(lambda r: "/api/v1/agents" in r.url) as answer:
            block.get_by_role("button", name="Execute").click()
        self.assertEqual(answer.value.status, 200)
        self.assertIn("docs-bot", answer.value.text())

        self.assertEqual(problems, [])
        outside = [u for u in requests if not u.startswith((self.live_server_url, "data:"))]
        self.assertEqual(outside, [])
