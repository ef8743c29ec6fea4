"""Accessibility and phone layout, checked in a real browser with axe-core.

Every page type, for every role, at 1366 px and at 390 px (a phone): no serious or
critical axe violation, and at 390 px no horizontal page scroll. Also: the skip link is
the first stop and moves focus to the content, the wizard's focus order follows the
questions, and the wizard shows a sticky decision summary on phones. One browser, one
page per role and width, reused.
"""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core.management import call_command
from django.db import connections
from django.urls import reverse

from assessments.models import Assessment, BoardPackJob, ReportRecord
from tests import factories as f
from tests.test_browser import _launch

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
ROLES = ("viewer", "assessor", "reviewer", "admin")
BLOCKING = {"serious", "critical"}
WIDEST_JS = """(width) => {
  const out = [];
  for (const e of document.querySelectorAll("body *")) {
    const r = e.getBoundingClientRect();
    if (r.right > width + 1 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > width + 1)) {
      out.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + [...e.classList].join(".") + " " + Math.round(r.right));
    }
  }
  return out.slice(0, 4).join(", ");
}"""


class AccessibilityTests(StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from axe_playwright_python.sync_playwright import Axe
        from playwright.sync_api import sync_playwright

        cls.axe = Axe()
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        cls._pw = sync_playwright().start()
        cls.browser, _context = _launch(cls._pw)
        _context.close()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls._pw.stop()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        connections.close_all()
        super().tearDownClass()

    def setUp(self):
        f.ensure_reference_data()
        call_command("load_demo", stdout=StringIO())
        self.addCleanup(connections.close_all)

    def urls_for(self, role: str) -> list[str]:
        draft = Assessment.objects.filter(status="draft").select_related("agent").first()
        submitted = Assessment.objects.filter(status="submitted").select_related("agent").first()
        approved = Assessment.objects.filter(status="approved").select_related("agent").first()
        twice = (
            Assessment.objects.filter(number=2)
            .select_related("agent")
            .values_list("agent__slug", flat=True)
        ).first()
        urls = [
            reverse("assessments:dashboard"),
            reverse("assessments:agent_list"),
            approved.agent.get_absolute_url(),
            approved.get_absolute_url(),
            submitted.get_absolute_url(),
            reverse("assessments:assessment_compare", args=[twice]),
            reverse("assessments:queue"),
            reverse("assessments:reports"),
            reverse("assessments:catalogue"),
            reverse("assessments:calendar_feeds"),
            reverse("password_change"),
        ]
        job = BoardPackJob.objects.first()
        if job:
            urls.append(reverse("assessments:board_pack_status", args=[job.pk]))
        if role != "viewer":
            slug = approved.agent.slug
            urls += [
                reverse("assessments:agent_create"),
                reverse("assessments:agent_edit", args=[slug]),
                reverse("assessments:agent_retire", args=[slug]),
                reverse(
                    "assessments:wizard_step",
                    args=[draft.agent.slug, draft.number, "runtime"],
                ),
                reverse("assessments:wizard_review", args=[draft.agent.slug, draft.number]),
            ]
        if role in ("reviewer", "admin"):
            urls.append(reverse("assessments:audit_list"))
            pack = ReportRecord.objects.filter(kind="board").first()
            if pack:
                urls.append(reverse("assessments:board_pack_signoff", args=[pack.document_id]))
        return urls

    def open_page(self, width: str):
        w, h = WIDTHS[width]
        context = self.browser.new_context(viewport={"width": w, "height": h})
        self.addCleanup(context.close)
        return context.new_page()

    def sign_in(self, page, username):
        page.goto(f"{self.live_server_url}/accounts/login/")
        page.fill("#id_login", username)
        page.fill("#id_password", "demo-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.live_server_url}/")

    def problems_on(self, page, width: str) -> list[str]:
        found = []
        result = self.axe.run(page)
        for v in result.response["violations"]:
            if v["impact"] in BLOCKING:
                targets = [", ".join(map(str, n["target"])) for n in v["nodes"][:3]]
                found.append(f"{v['impact']} {v['id']}: {'; '.join(targets)}")
        if width == "phone":
            scroll = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if scroll[0] > scroll[1]:
                # Name the outermost elements that stick out, to say what to fix.
                culprits = page.evaluate(WIDEST_JS, scroll[1])
                found.append(
                    f"horizontal scroll: {scroll[0]} px wide in {scroll[1]} px ({culprits})"
                )
        return found

    def test_every_page_for_every_role_at_both_widths(self):
        problems: dict[str, list[str]] = {}
        anonymous = self.open_page("phone")
        anonymous.goto(f"{self.live_server_url}/accounts/login/")
        if found := self.problems_on(anonymous, "phone"):
            problems["anonymous phone /accounts/login/"] = found
        for role in ROLES:
            for width in WIDTHS:
                page = self.open_page(width)
                self.sign_in(page, role)
                for url in self.urls_for(role):
                    page.goto(f"{self.live_server_url}{url}")
                    if found := self.problems_on(page, width):
                        problems[f"{role} {width} {url}"] = found
        self.assertFalse(problems, "\n".join(f"{k}: {' | '.join(v)}" for k, v in problems.items()))

    def test_skip_link_and_the_wizard_focus_order(self):
        page = self.open_page("desktop")
        self.sign_in(page, "assessor")
        draft = Assessment.objects.filter(status="draft").select_related("agent").first()
        page.goto(
            self.live_server_url
            + reverse("assessments:wizard_step", args=[draft.agent.slug, draft.number, "runtime"])
        )
        page.keyboard.press("Tab")
        self.assertEqual(
            page.evaluate("document.activeElement.textContent.trim()"), "Skip to main content"
        )
        page.keyboard.press("Enter")
        self.assertEqual(page.evaluate("document.activeElement.id"), "main")
        # From the content, the questions come before the form's buttons and the panel.
        order = []
        for _ in range(60):
            page.keyboard.press("Tab")
            order.append(
                page.evaluate(
                    "(() => { const e = document.activeElement;"
                    " return (e.name || '') + '|' + (e.textContent || '').trim().slice(0, 30)"
                    " + '|' + (e.closest('#decision-panel') ? 'panel' : ''); })()"
                )
            )
        first_question = next(i for i, o in enumerate(order) if o.startswith("decision_mode|"))
        save = next(i for i, o in enumerate(order) if "Save and continue" in o)
        self.assertLess(first_question, save)
        panel = [i for i, o in enumerate(order) if o.endswith("|panel")]
        if panel:
            self.assertLess(save, min(panel))

    def test_the_wizard_shows_a_sticky_decision_summary_on_phones(self):
        page = self.open_page("phone")
        self.sign_in(page, "assessor")
        draft = Assessment.objects.filter(status="draft").select_related("agent").first()
        page.goto(
            self.live_server_url
            + reverse("assessments:wizard_step", args=[draft.agent.slug, draft.number, "runtime"])
        )
        summary = page.locator("#decision-summary")
        self.assertTrue(summary.is_visible())
        page.mouse.wheel(0, 2000)
        page.wait_for_timeout(200)
        box = summary.bounding_box()
        self.assertIsNotNone(box)
        self.assertGreaterEqual(box["y"], 0)
        self.assertLess(box["y"] + box["height"], 844 + 1)  # still on screen after scrolling
        text = summary.inner_text()
        self.assertRegex(text, r"(Agent|Machine) identity")
        self.assertRegex(text, r"\d · (Baseline|Elevated|High|Critical)")
        summary.click()
        page.wait_for_timeout(200)
        panel = page.locator("#decision-panel").bounding_box()
        self.assertLess(abs(panel["y"]), 844)  # the full panel is on screen
