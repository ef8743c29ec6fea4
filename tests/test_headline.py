"""Provisional never reads as safe: one headline (presentation.headline) on every surface."""

from __future__ import annotations

import csv
import io
import tempfile
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from assessments import actions, engine
from assessments.presentation import headline
from assessments.reports import exports
from tests import factories as f
from tests import report_helpers as rh

SAFE = "controls are enough"

# A fixed workflow (machine identity) whose linked agent reaches a bank API with admin
# access it does not have itself: composite escalation, tier 4.
COMPOSITE = {
    **f.SCRIPT_ANSWERS,
    "systems": [{"name": "erp", "access": "read"}],
    "orchestration": "orchestrated_by_agent",
    "linked_agents": [{"slug": "payments", "systems": [{"name": "bank-api", "access": "admin"}]}],
}


def empty_title() -> str:
    n = len(engine.evaluate({}).unanswered)
    return f"Undecided — {n} answers could change the class"


class HeadlineTests(SimpleTestCase):
    def test_an_empty_answer_set_is_undecided_and_its_tier_could_still_rise(self):
        result = engine.evaluate({})
        self.assertEqual(result.classification, "machine_identity")
        h = headline(result, {})
        self.assertFalse(h.decided)
        self.assertEqual(h.title, empty_title())
        # Nothing answered leans nowhere: no class is stated as if the answers showed it.
        self.assertEqual(h.leaning, "No answer so far leans to either class")
        self.assertEqual(h.tier, "at least 1 · Baseline")
        self.assertNotIn(SAFE, h.meaning)

    def test_a_half_answered_set_says_what_the_answers_so_far_lean_to(self):
        answers = {"decision_mode": "fixed_script", "tool_selection": "fixed"}
        h = headline(engine.evaluate(answers), answers)
        self.assertFalse(h.decided)
        self.assertEqual(h.leaning, "The answers so far lean to machine identity")

    def test_a_missing_answer_that_cannot_raise_the_tier_keeps_it_exact(self):
        answers = {**f.SCRIPT_ANSWERS, "alters_own_access": True}
        del answers["traced_identity"]
        result = engine.evaluate(answers)
        self.assertEqual((result.tier, bool(result.missing)), (4, True))
        self.assertEqual(headline(result, answers).tier, "4 · Critical")

    def test_a_complete_answer_set_is_decided(self):
        answers = {**f.SCRIPT_ANSWERS, "systems": [{"name": "erp", "access": "read"}]}
        result = engine.evaluate(answers)
        self.assertFalse(result.missing)
        h = headline(result, answers)
        self.assertTrue(h.decided)
        self.assertEqual((h.title, h.tier), ("Machine identity", "1 · Baseline"))

    def test_a_machine_identity_at_tier_4_says_what_must_be_reviewed(self):
        result = engine.evaluate(COMPOSITE)
        self.assertEqual((result.classification, result.tier), ("machine_identity", 4))
        self.assertIn("composite_escalation", result.flags)
        h = headline(result, COMPOSITE)
        self.assertTrue(h.decided)
        self.assertNotIn(SAFE, h.meaning)
        self.assertIn("not enough", h.meaning)
        self.assertIn("Review the combined privileges", h.meaning)


class EmptyDraftOnEverySurfaceTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.agent = f.agent(slug="blank")
        cls.draft = actions.start_assessment(cls.assessor, cls.agent)

    def setUp(self):
        self.client.force_login(self.assessor)

    def assert_undecided(self, text: str) -> None:
        self.assertIn(empty_title(), text)
        self.assertNotIn(SAFE, text)

    def test_the_wizard_panel(self):
        url = reverse("assessments:wizard", args=[self.agent.slug, self.draft.number])
        self.assert_undecided(self.client.get(url, follow=True).content.decode())

    def test_the_assessment_page(self):
        url = reverse("assessments:assessment_detail", args=[self.agent.slug, self.draft.number])
        self.assert_undecided(self.client.get(url).content.decode())

    def test_the_agent_list_badge(self):
        text = self.client.get(reverse("assessments:agent_list")).content.decode()
        self.assert_undecided(text)
        self.assertIn("undecided-badge", text)

    def test_the_assessments_csv(self):
        response = self.client.get(reverse("assessments:export_assessments"))
        raw = b"".join(response.streaming_content).decode("utf-8-sig")
        keys = {label: key for key, label in exports.ASSESSMENT_COLUMNS}
        rows = [{keys.get(k, k): v for k, v in r.items()} for r in csv.DictReader(io.StringIO(raw))]
        row = next(r for r in rows if r["agent_slug"] == "blank")
        self.assertTrue(row["headline"].startswith(empty_title()), row["headline"])
        self.assertEqual(row["classification"], "")

    def test_the_pdf_report(self):
        issued = actions.issue_assessment_report(self.assessor, self.draft)
        text = rh.flat(rh.pdf_text(issued.pdf))
        self.assert_undecided(text)
        self.assertIn("at least 1 · Baseline", text)

    def test_assess_text(self):
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "blank.yaml"
            manifest.write_text(
                "agent: {name: Blank, slug: blank-cli, owner: a@example.com}\nanswers: {}\n"
            )
            out = StringIO()
            call_command("assess", str(manifest), "--format", "text", stdout=out)
        text = " ".join(out.getvalue().split())
        self.assert_undecided(text)
        self.assertIn("Tier at least 1 · Baseline", text)
