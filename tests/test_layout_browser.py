"""Layout in a real browser (issue 21): the navigation stays on one line at 1366 px for
every role, and its menus stay inside the page; at 390 px the agents, queue and token
lists fit without sideways scrolling; the API docs sit in the app's layout; axe finds no
serious or critical problem on the API docs nor on an import preview with errors."""

from __future__ import annotations

import datetime as dt
import os
from unittest import mock

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from assessments import actions
from tests import factories as f
from tests import review_helpers as h
from tests.test_browser import _launch
from tests.test_import import edit, export

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}
LONG = "Quarterly regulatory reporting reconciliation orchestrator for the EMEA ledgers"


class LayoutBrowserTests(StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from playwright.sync_api import sync_playwright

        cls.enterClassContext(mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}))
        cls._pw = sync_playwright().start()
        cls.browser, context = _launch(cls._pw)
        context.close()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls._pw.stop()
        connections.close_all()
        super().tearDownClass()

    def setUp(self):
        self.addCleanup(connections.close_all)
        f.ensure_reference_data()
        who = self.who = h.people()
        self.admin = f.administrator()
        team = f.team("Regulatory Reporting and Reconciliation")
        today = timezone.localdate()
        # Long names, overdue and triggered reviews: the widest rows the lists can have.
        late = h.assessed(
            "quarterly-regulatory-reporting-reconciliation",
            who,
            name=LONG,
            team=team,
            systems=[("general-ledger-eu-west", "write"), ("reporting-warehouse", "read")],
        )
        h.set_due(late, today - dt.timedelta(days=40))
        h.trigger(late, detail="Linked to the payments orchestrator, which can approve refunds.")
        h.set_due(h.assessed("nightly-export", who, name="Nightly export"), today)
        for person in (who["viewer"], who["assessor"], who["reviewer"], self.admin):
            actions.create_api_token(
                person,
                owner=person,
                name="Deployment pipeline for the regulatory reporting platform",
                scopes=["read"],
                expires_in_days=90,
            )

    def page_for(self, user, width: int):
        context = self.browser.new_context(viewport={"width": width, "height": 900})
        self.addCleanup(context.close)
        page = context.new_page()
        page.goto(f"{self.live_server_url}/accounts/login/")
        page.fill("#id_login", user.get_username())
        page.fill("#id_password", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/")
        return page

    def axe_problems(self, page) -> list[str]:
        from axe_playwright_python.sync_playwright import Axe

        result = Axe().run(page)
        return [
            f"{v['impact']} {v['id']}: {[n['target'] for n in v['nodes'][:3]]}"
            for v in result.response["violations"]
            if v["impact"] in BLOCKING
        ]

    def test_the_navigation_stays_on_one_line_at_1366_px_for_every_role(self):
        people = {
            "viewer": self.who["viewer"],
            "assessor": self.who["assessor"],
            "reviewer": self.who["reviewer"],
            "administrator": self.admin,
        }
        for role, person in people.items():
            with self.subTest(role=role):
                page = self.page_for(person, 1366)
                heights = page.evaluate(
                    """() => {
                      const list = document.querySelector('#main-nav .navbar-nav');
                      const link = list.querySelector('.nav-link');
                      const nav = document.querySelector('nav.app-navbar');
                      return [list.getBoundingClientRect().height,
                              link.getBoundingClientRect().height,
                              nav.getBoundingClientRect().height];
                    }"""
                )
                list_height, link_height, nav_height = heights
                self.assertLessEqual(list_height, link_height + 1, role)
                self.assertLess(nav_height, 70, role)
                # Nothing of the navigation (nor its open menu) sticks out past the content.
                page.click("#main-nav .dropdown-toggle")
                page.locator(".dropdown-menu.show").wait_for()
                edges = page.evaluate(
                    """() => {
                      const box = document.querySelector('header .container-xl').getBoundingClientRect();
                      const menu = document.querySelector('.dropdown-menu.show').getBoundingClientRect();
                      const items = [...document.querySelectorAll('#main-nav > *')];
                      return [box.right, menu.right, Math.max(...items.map(e => e.getBoundingClientRect().right)),
                              document.documentElement.scrollWidth, document.documentElement.clientWidth];
                    }"""
                )
                right, menu_right, items_right, scroll, client = edges
                self.assertLessEqual(menu_right, right + 1, role)
                self.assertLessEqual(items_right, right + 1, role)
                self.assertLessEqual(scroll, client, role)

    def test_lists_fit_a_390_px_phone_without_sideways_scrolling(self):
        page = self.page_for(self.admin, 390)
        for name in ("assessments:agent_list", "assessments:queue", "assessments:api_tokens"):
            with self.subTest(page=name):
                page.goto(f"{self.live_server_url}{reverse(name)}")
                widths = page.evaluate(
                    """() => [...document.querySelectorAll('.table-responsive')].map(
                         t => [t.scrollWidth, t.clientWidth])"""
                )
                self.assertTrue(widths, name)
                for scroll, client in widths:
                    self.assertLessEqual(scroll, client, name)
                page_widths = page.evaluate(
                    "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
                )
                self.assertLessEqual(page_widths[0], page_widths[1], name)
        # The facts a person looks for are on screen, each under its column's name.
        page.goto(f"{self.live_server_url}{reverse('assessments:queue')}")
        row = page.locator("tr.queue-row", has_text=LONG)
        for label in ("Decision", "Due", "Why", "Assignee"):
            cell = row.locator(f'td[data-label="{label}"]')
            self.assertTrue(cell.is_visible(), label)
            box = cell.bounding_box()
            self.assertLessEqual(box["x"] + box["width"], 390, label)
        action = row.locator("td").last.locator("a, button").first
        self.assertTrue(action.is_visible())
        self.assertLessEqual(action.bounding_box()["x"] + action.bounding_box()["width"], 390)
        page.goto(f"{self.live_server_url}{reverse('assessments:api_tokens')}")
        # Revoke asks first (issue 21 item 7): a link to its confirmation, opened in a dialog.
        revoke = page.get_by_role("link", name="Revoke").first
        self.assertTrue(revoke.is_visible())
        self.assertLessEqual(revoke.bounding_box()["x"] + revoke.bounding_box()["width"], 390)

    def test_the_bell_in_the_open_menu_is_labelled(self):
        page = self.page_for(self.who["reviewer"], 390)
        page.click(".navbar-toggler")
        bell = page.locator("#nav-notifications")
        bell.wait_for(state="visible")
        label = bell.locator(".nav-bell-label")
        self.assertEqual(label.inner_text(), "Notifications")
        self.assertGreater(label.bounding_box()["width"], 40)  # shown, not only announced
        # At 1366 px the bell is an icon with the same name for screen readers.
        wide = self.page_for(self.who["reviewer"], 1366)
        self.assertEqual(wide.get_by_role("link", name="Notifications").count(), 1)
        self.assertLessEqual(
            wide.locator("#nav-notifications .nav-bell-label").bounding_box()["width"], 1
        )

    def test_the_api_docs_sit_in_the_layout_and_pass_axe(self):
        for width in (1366, 390):
            with self.subTest(width=width):
                page = self.page_for(self.who["viewer"], width)
                page.goto(f"{self.live_server_url}/api/v1/docs")
                page.locator(".opblock").first.wait_for(timeout=60_000)
                self.assertEqual(page.locator("nav.app-navbar").count(), 1)
                back = page.get_by_role("link", name="Back to the dashboard")
                self.assertTrue(back.is_visible())
                self.assertEqual(page.locator(".opblock-summary-control a[href]").count(), 0)
                self.assertEqual(self.axe_problems(page), [])
                sizes = page.evaluate(
                    "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
                )
                self.assertLessEqual(sizes[0], sizes[1])

    def test_an_import_preview_with_errors_passes_axe_and_its_table_takes_the_keyboard(self):
        page = self.page_for(self.who["assessor"], 1366)
        page.goto(f"{self.live_server_url}{reverse('assessments:agent_import')}")
        self.client.force_login(self.who["assessor"])
        text = edit(export(self.client), "nightly-export", team="Nowhere", environments="moon")
        page.set_input_files(
            "input[type=file]",
            files=[{"name": "agents.csv", "mimeType": "text/csv", "buffer": text.encode()}],
        )
        page.locator("form[enctype] button[type=submit]").first.click()
        page.locator(".table-danger").first.wait_for()
        self.assertEqual(self.axe_problems(page), [])
        region = page.locator(".table-responsive").first
        self.assertEqual(region.get_attribute("tabindex"), "0")
        self.assertTrue(region.get_attribute("aria-label"))
