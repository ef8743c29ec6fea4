"""The wizard's live panel and the assessment page never state an unanswered signal as a
value, never call an undecided result a class, and show evidence awaiting a decision
beside the signal it would change."""

from __future__ import annotations

import re

from django.test import TestCase
from django.urls import reverse

from assessments import actions
from assessments.models import Assessment, EvidenceProposal, EvidenceUpload
from tests import factories as f

SIGNALS = ("runtime_decisions", "per_task_access", "traceability", "alters_own_access")


def signal_value(html: str, signal: str) -> str:
    """The words the panel shows as ``signal``'s value."""
    match = re.search(
        rf'data-signal="{signal}".*?<span class="small signal-value[^"]*">([^<]*)</span>',
        html,
        re.S,
    )
    assert match, f"no {signal} signal in the panel"
    return match.group(1)


def panel(html: str) -> str:
    start = html.index('id="decision-panel"')
    return html[start : html.index("</section>", start)]


class LivePanelTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        # Two systems in the inventory: unattended reach hangs on the approval answer.
        self.agent = f.agent(slug="bot", systems=[("erp", "write"), ("docs", "read")])
        self.a = actions.start_assessment(self.assessor, self.agent)
        self.client.force_login(self.assessor)

    def wizard(self, step: str = "runtime") -> str:
        url = reverse("assessments:wizard_step", args=["bot", self.a.number, step])
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return panel(response.content.decode())

    def answer(self, **answers):
        Assessment.objects.filter(pk=self.a.pk).update(answers=answers)

    def test_an_empty_draft_says_not_answered_and_never_names_a_class(self):
        html = self.wizard()
        for signal in SIGNALS:
            self.assertEqual(signal_value(html, signal), "Not answered", signal)
        # The systems come from the inventory; who approves their use is not answered.
        self.assertEqual(signal_value(html, "unattended_reach"), "Not fully answered")
        self.assertIn("text-body-secondary fst-italic", html)  # muted
        self.assertNotIn("belongs in the machine identity class", html)
        self.assertNotIn("fit,", html)
        self.assertNotIn("controls are enough", html)
        self.assertIn("Undecided", html)
        self.assertIn("No answer so far leans to either class", html)
        self.assertIn("Not decided yet: no answer that decides the class is given", html)

    def test_a_half_answered_draft_says_what_the_answers_lean_to_and_what_decides(self):
        self.answer(
            decision_mode="fixed_script",
            tool_selection="fixed",
            decides_own_scopes=False,
            traced_identity="all",
            traced_policy_decision="all",
        )
        html = self.wizard()
        self.assertEqual(signal_value(html, "per_task_access"), "No")
        # Runtime decisions is partly answered: crossing environments could still fire it.
        self.assertEqual(signal_value(html, "runtime_decisions"), "Not fully answered")
        self.assertEqual(signal_value(html, "alters_own_access"), "Not answered")
        # Traceability counts the missing item as not traced: at least what is shown.
        self.assertEqual(signal_value(html, "traceability"), "At least partial")
        self.assertEqual(signal_value(html, "unattended_reach"), "Not fully answered")
        self.assertIn("the answers so far lean to the machine identity class", html)
        self.assertIn("Crosses environments", html)  # a missing answer that decides, in words
        self.assertNotIn("belongs in the machine identity class", html)
        self.assertNotIn("controls (IAM, PAM, service-account hygiene) fit", html)

    def test_a_signal_that_no_missing_answer_can_fire_reads_no(self):
        self.answer(alters_own_access=False, decides_own_scopes=False)
        html = self.wizard()
        self.assertEqual(signal_value(html, "alters_own_access"), "No")
        self.assertEqual(signal_value(html, "per_task_access"), "No")

    def test_a_pending_evidence_proposal_shows_beside_the_signal_it_would_change(self):
        self.answer(alters_own_access=False)
        upload = EvidenceUpload.objects.create(
            agent=self.agent, kind="aws", fingerprint="x" * 64, uploaded_by=self.assessor
        )
        EvidenceProposal.objects.create(
            upload=upload, key="alters_own_access", value=True, rule="aws.iam_write"
        )
        html = self.wizard()
        self.assertEqual(signal_value(html, "alters_own_access"), "No")
        signal = html[html.index('data-signal="alters_own_access"') :]
        signal = signal[: signal.index("</li>")]
        self.assertIn("Evidence proposes Yes, awaiting your decision", signal)
        self.assertIn(upload.get_absolute_url(), signal)

        # Once decided, the proposal no longer shows.
        EvidenceProposal.objects.update(status="rejected", rejection_reason="Not this agent.")
        self.assertNotIn("Evidence proposes", self.wizard())

    def test_a_proposal_that_repeats_the_answer_is_not_shown(self):
        self.answer(alters_own_access=True)
        upload = EvidenceUpload.objects.create(
            agent=self.agent, kind="aws", fingerprint="y" * 64, uploaded_by=self.assessor
        )
        EvidenceProposal.objects.create(
            upload=upload, key="alters_own_access", value=True, rule="aws.iam_write"
        )
        self.assertNotIn("Evidence proposes", self.wizard())

    def test_the_assessment_page_of_a_draft_shows_the_same_panel(self):
        response = self.client.get(self.a.get_absolute_url())
        html = panel(response.content.decode())
        self.assertEqual(signal_value(html, "alters_own_access"), "Not answered")
        self.assertNotIn("belongs in the machine identity class", html)
