"""Access certification in a real browser (Playwright driving Debian's Chromium): an owner
reduces an access on the "to certify" page, the item's form is swapped for its outcome
without a page load, and the campaign page shows the progress. Screenshots of both pages
are written to ``$SCREENSHOTS`` when it is set."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections
from django.utils import timezone

from assessments import actions
from assessments.models import CertificationItem
from tests import factories as f
from tests.test_browser import _launch

pytestmark = pytest.mark.browser


class CertificationBrowserTests(StaticLiveServerTestCase):
    def setUp(self):
        from playwright.sync_api import sync_playwright

        self.enterContext(mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}))
        f.ensure_reference_data()
        ada = f.assessor("ada")
        self.olive = f.user("olive", "viewer", first_name="Olive", last_name="Owner")
        f.agent(
            self.olive,
            slug="billing",
            name="Billing agent",
            actor=ada,
            systems=[("erp", "write"), ("crm", "read")],
        )
        f.agent(
            self.olive, slug="triage", name="Triage bot", actor=ada, systems=[("jira", "admin")]
        )
        self.campaign = actions.start_campaign(
            f.reviewer("rex"),
            name="Q4 access review",
            scope_kind="all",
            deadline=timezone.localdate() + dt.timedelta(days=14),
        )
        self._pw = sync_playwright().start()
        self.addCleanup(self._pw.stop)
        self.addCleanup(connections.close_all)

    def shoot(self, page, name: str) -> None:
        folder = os.environ.get("SCREENSHOTS")
        if folder:
            page.screenshot(path=str(Path(folder) / name), full_page=True)

    def test_an_owner_reduces_an_access_in_place_and_the_campaign_shows_it(self):
        browser, context = _launch(self._pw)
        self.addCleanup(browser.close)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(f"{self.live_server_url}/accounts/login/")
        page.fill("#id_login", "olive")
        page.fill("#id_password", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/")

        page.goto(f"{self.live_server_url}/certification/to-certify/")
        erp = CertificationItem.objects.get(system_name="erp")
        item = page.locator(f"#certification-item-{erp.pk}")
        self.shoot(page, "certification-to-certify.png")
        item.get_by_label("Reduce to a lower level").check()
        item.get_by_label("Reduce to", exact=True).select_option("read")
        item.get_by_label("Reason").fill("It only reads invoices.")
        url = page.url
        item.get_by_role("button", name="Certify").click()
        item.get_by_text("certified (reduce to read)").wait_for()
        self.assertEqual(page.url, url)  # swapped in place, no page load
        erp.refresh_from_db()
        self.assertEqual((erp.decision, erp.reduce_to), ("reduce", "read"))

        page.goto(f"{self.live_server_url}/certification/{self.campaign.pk}/")
        self.assertIn("1 of 5 items certified", page.locator("main").inner_text())
        self.assertEqual(page.locator("progress").first.get_attribute("value"), "20")
        self.shoot(page, "certification-campaign.png")
        self.assertEqual(errors, [])
