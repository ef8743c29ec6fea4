"""The assessment report: what it states, that it is archival, and how it is kept."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tempfile
from pathlib import Path

import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from assessments import actions, engine
from assessments.models import AuditEvent, GapException, ReferenceNote, ReportRecord
from assessments.presentation import why
from assessments.reports.pdf import DOCUMENT_ID_RE
from assessments.views.wizard import display_value
from assessments.workflow import decisions, notifications
from tests import factories as f
from tests import report_helpers as h


def report_url(assessment):
    return reverse("assessments:assessment_report", args=[assessment.agent.slug, assessment.number])


class AssessmentReportContentTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()
        cls.assessment = h.approved_planner(cls.people["assessor"], cls.people["reviewer"])
        cls.issued = actions.issue_assessment_report(cls.people["viewer"], cls.assessment)
        cls.text = h.pdf_text(cls.issued.pdf)

    def test_it_states_the_decision(self):
        result = self.assessment.result
        self.assertEqual(result["classification"], "agent_identity")
        self.assertIn("Agent identity", self.text)
        self.assertIn(f"{result['tier']} · {result['tier_name'].capitalize()}", self.text)
        self.assertIn(f"Reviewed every {result['review_interval_days']} days", self.text)
        self.assertIn(self.assessment.next_review_on.strftime("%-d %b %Y"), self.text)

    def test_it_gives_every_sentence_of_the_rationale(self):
        self.assertTrue(self.assessment.result["rationale"])
        # Every sentence, with the answers it names in words.
        for sentence in why(engine.Result.from_dict(self.assessment.result)):
            self.assertIn(h.flat(sentence), self.text)

    def test_it_lists_each_required_control_with_its_status(self):
        for control in self.assessment.result["controls"]:
            self.assertIn(control["id"], self.text)
            self.assertIn(h.flat(control["title"]), self.text)
        self.assertIn("In place", self.text)
        self.assertIn("Gap", self.text)

    def test_it_maps_the_controls_to_framework_ids_with_their_titles(self):
        catalogue = decisions.catalogue_data(self.assessment.catalogue)
        titles = {
            (fw["key"], item["id"]): item["title"]
            for fw in catalogue["frameworks"]
            for item in fw["items"]
        }
        primary = [
            "owasp_asi_top10_2026",
            "owasp_nhi_top10_2025",
            "csa_maestro",
            "nist_ai_rmf_1_0",
        ]
        for key in primary:
            ids = self.assessment.result["framework_mappings"][key]
            self.assertTrue(ids, key)
            for item in ids:
                self.assertIn(h.flat(f"{item} · {titles[(key, item)]}"), self.text)

    def test_it_names_the_signals_with_the_answers_behind_them_and_the_flags(self):
        self.assertIn("Runtime decisions", self.text)
        self.assertIn("decisive indicator", self.text)
        q = decisions.questionnaire(self.assessment.questionnaire_version)
        label = display_value(q.question("decision_mode"), "planner_executor")
        self.assertIn(f"How it decides: {label}", self.text)
        self.assertIn("Audit gap", self.text)
        self.assertIn("Blocks approval", self.text)
        exception = GapException.objects.get(assessment=self.assessment, subject="audit_gap")
        self.assertIn(
            f"Accepted by exception until {exception.expires_on.strftime('%-d %b %Y')}", self.text
        )

    def test_it_carries_the_catalogue_notes_on_invalid_citations(self):
        notes = ReferenceNote.objects.filter(catalogue=self.assessment.catalogue, status="invalid")
        self.assertTrue(notes.exists())
        for note in notes:
            self.assertIn(h.flat(f"“{note.cited}”: not a valid citation."), self.text)

    def test_the_appendix_gives_every_answer_with_its_prompt(self):
        q = decisions.questionnaire(self.assessment.questionnaire_version)
        for key in ("decision_mode", "traced_policy_decision", "systems"):
            self.assertIn(h.flat(q.question(key).prompt), self.text)
        self.assertIn("kubernetes (write)", self.text)

    def test_sign_off_names_the_assessor_and_reviewer_and_the_approval_audit_event(self):
        self.assertIn("Sign-off", self.text)
        self.assertIn("Ada Assessor", self.text)
        self.assertIn("Rex Reviewer", self.text)
        event = AuditEvent.objects.get(verb="assessment.approve", object_id=str(self.assessment.pk))
        self.assertIn(event.hash, self.text.replace(" ", ""))

    def test_every_page_has_the_document_id_and_page_x_of_y(self):
        pages = h.pages_text(self.issued.pdf)
        self.assertGreater(len(pages), 3)
        for number, text in enumerate(pages, start=1):
            self.assertIn(self.issued.record.document_id, text)
            self.assertIn(f"Page {number} of {len(pages)}", text)
        self.assertEqual(self.issued.record.pages, len(pages))

    def test_the_printed_fingerprint_is_the_sha256_of_the_attached_content(self):
        record = self.issued.record
        content = h.attachment(self.issued.pdf)
        self.assertEqual(hashlib.sha256(content).hexdigest(), record.content_sha256)
        self.assertIn(record.content_sha256, self.text.replace(" ", ""))
        self.assertEqual(record.file_sha256, hashlib.sha256(self.issued.pdf).hexdigest())
        stated = json.loads(content)
        self.assertEqual(stated["decision"]["classification"], "agent_identity")
        self.assertEqual(stated["rationale"], why(engine.Result.from_dict(self.assessment.result)))

    def test_it_is_pdf_a_with_embedded_fonts_and_selectable_text(self):
        metadata = h.xmp(self.issued.pdf)
        self.assertIn(b'pdfaid:part="3"', metadata)
        self.assertIn(b'pdfaid:conformance="B"', metadata)
        self.assertEqual(h.fonts_without_embedded_file(self.issued.pdf), [])
        meta = h.reader(self.issued.pdf).metadata
        self.assertEqual(meta.title, "Assessment report: Incident planner v1")
        self.assertIn(self.issued.record.document_id, meta.keywords)
        self.assertIn("Incident planner · v1", self.text)  # real text, not pictures of it

    def test_an_approved_report_is_not_a_draft(self):
        self.assertFalse(h.has_draft_watermark(self.issued.pdf))
        self.assertIn("Approved", self.text)


class KeepingReportsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()
        cls.assessor, cls.reviewer = cls.people["assessor"], cls.people["reviewer"]

    def test_an_approved_report_is_rendered_once_and_every_download_is_the_same_file(self):
        approved = f.approved(f.agent(slug="script"), self.assessor, self.reviewer)
        self.client.force_login(self.people["viewer"])
        first = self.client.get(report_url(approved))
        second = self.client.get(report_url(approved))
        self.assertEqual(first.status_code, 200)
        self.assertEqual(first["Content-Type"], "application/pdf")
        self.assertIn("attachment;", first["Content-Disposition"])
        self.assertEqual(first.content, second.content)
        record = ReportRecord.objects.get(assessment=approved)
        self.assertEqual(bytes(record.pdf), first.content)
        self.assertIn(record.document_id, first["Content-Disposition"])
        self.assertEqual(AuditEvent.objects.filter(verb="report.issue").count(), 1)

    def test_a_draft_carries_the_watermark_and_each_copy_is_recorded_but_not_kept(self):
        draft = f.answered(f.agent(slug="drafty"), self.assessor)
        self.client.force_login(self.people["viewer"])
        first = self.client.get(report_url(draft))
        text = h.pdf_text(first.content)
        self.assertTrue(h.has_draft_watermark(first.content))
        self.assertTrue(h.has_draft_watermark(first.content, page=2))
        self.assertIn("Draft: not a record of decision.", text)
        changed = actions.save_answers(
            self.assessor, draft, {"network_reach": "internet"}, expected_version=draft.lock_version
        )
        second = self.client.get(report_url(changed))
        self.assertNotEqual(first.content, second.content)
        records = ReportRecord.objects.filter(assessment=draft)
        self.assertEqual(records.count(), 2)
        self.assertFalse(records.filter(pdf__isnull=False).exists())
        self.assertEqual(len({r.content_sha256 for r in records}), 2)

    def test_a_draft_is_evaluated_live_from_its_answers(self):
        draft = f.answered(f.agent(slug="live"), self.assessor, decision_mode="context_driven")
        issued = actions.issue_assessment_report(self.assessor, draft)
        text = h.pdf_text(issued.pdf)
        self.assertIn("Agent identity", text)
        self.assertIn("How it decides: Context-driven", text)

    def test_a_returned_assessment_shows_the_reviewers_comment(self):
        agent = f.agent(slug="back")
        submitted = actions.submit_assessment(self.assessor, f.answered(agent, self.assessor))
        returned = actions.return_assessment(
            self.reviewer, submitted, comment="Say which systems it writes to."
        )
        data = actions.issue_assessment_report(self.assessor, returned).pdf
        self.assertIn("Say which systems it writes to.", h.pdf_text(data))
        self.assertTrue(h.has_draft_watermark(data))

    def test_an_approved_report_shows_exceptions_as_they_stood_at_approval(self):
        approved = h.approved_planner(self.assessor, self.reviewer)
        # Revoked after approval: the approved record still shows the accepted exception;
        # the next version's draft has the gap open again.
        GapException.objects.filter(assessment=approved).update(revoked_at=timezone.now())
        kept = h.pdf_text(actions.issue_assessment_report(self.reviewer, approved).pdf)
        self.assertIn("Accepted by exception until", kept)
        draft = actions.start_assessment(self.assessor, approved.agent)
        live = h.pdf_text(actions.issue_assessment_report(self.reviewer, draft).pdf)
        self.assertIn("Audit gap", live)
        self.assertNotIn("Accepted by exception until", live)

    def test_pages_link_to_the_report(self):
        approved = f.approved(f.agent(slug="linked"), self.assessor, self.reviewer)
        self.client.force_login(self.people["viewer"])
        agent_page = self.client.get(approved.agent.get_absolute_url())
        self.assertContains(agent_page, report_url(approved))
        detail = self.client.get(approved.get_absolute_url())
        self.assertContains(detail, report_url(approved))
        self.assertContains(detail, "Report (PDF)")
        draft = actions.start_assessment(self.assessor, approved.agent)
        self.assertContains(self.client.get(draft.get_absolute_url()), "Draft report (PDF)")

    def test_people_without_a_role_cannot_download_reports(self):
        approved = f.approved(f.agent(slug="secret"), self.assessor, self.reviewer)
        self.client.force_login(f.outsider())
        self.assertEqual(self.client.get(report_url(approved)).status_code, 403)
        self.client.logout()
        self.assertEqual(self.client.get(report_url(approved)).status_code, 302)
        self.assertFalse(ReportRecord.objects.exists())


class ReportCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        people = h.people()
        cls.agent = f.agent(slug="nightly")
        cls.v1 = f.approved(cls.agent, people["assessor"], people["reviewer"])
        cls.v2 = f.answered(cls.agent, people["assessor"], decision_mode="context_driven")

    def run_report(self, *args):
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "out.pdf"
            out = tempfile.SpooledTemporaryFile(mode="w+")  # noqa: SIM115
            call_command("report", *args, "--output", str(target), "--user", "vera", stdout=out)
            out.seek(0)
            return target.read_bytes(), out.read()

    def test_the_latest_approved_version_by_default_and_the_same_file_as_the_browser(self):
        data, said = self.run_report("assessment", "nightly")
        record = ReportRecord.objects.get(assessment=self.v1)
        self.assertEqual(data, bytes(record.pdf))
        self.assertIn(record.document_id, said)
        self.assertEqual(record.created_by.username, "vera")
        self.assertIn(f"by {record.created_by.get_full_name()}", h.pdf_text(data))
        again, _ = self.run_report("assessment", "nightly")
        self.assertEqual(again, data)

    def test_a_named_version(self):
        data, _ = self.run_report("assessment", "nightly", "--version", "2")
        self.assertTrue(h.has_draft_watermark(data))
        self.assertTrue(ReportRecord.objects.filter(assessment=self.v2).exists())

    def test_unknown_agents_and_versions_are_errors(self):
        with self.assertRaisesMessage(CommandError, "No agent “nobody”"):
            self.run_report("assessment", "nobody")
        with self.assertRaisesMessage(CommandError, "no assessment version 9"):
            self.run_report("assessment", "nightly", "--version", "9")

    def test_dry_run_writes_nothing(self):
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "out.pdf"
            out = tempfile.SpooledTemporaryFile(mode="w+")  # noqa: SIM115
            call_command(
                "report",
                "assessment",
                "nightly",
                "--output",
                str(target),
                "--user",
                "vera",
                "--dry-run",
                stdout=out,
            )
            out.seek(0)
            self.assertIn("Would write the report of", out.read())
            self.assertFalse(target.exists())
        self.assertFalse(ReportRecord.objects.exists())

    def test_document_ids_are_well_formed_and_unique(self):
        ids = {actions.issue_assessment_report(None, self.v2).record.document_id for _ in range(3)}
        self.assertEqual(len(ids), 3)
        for document_id in ids:
            self.assertRegex(document_id, DOCUMENT_ID_RE)
            self.assertTrue(re.fullmatch(r"AIA-AR-\d{8}-[0-9A-Z]{8}", document_id))


class ApprovedReportSurfacesTests(TestCase):
    """The kept report states the agent as it was at approval, and every place that hands
    it out says when the review of its decision is overdue (the file never changes)."""

    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()
        cls.assessor, cls.reviewer = cls.people["assessor"], cls.people["reviewer"]
        with time_machine.travel(dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC), tick=False):
            cls.approved = f.approved(
                f.agent(slug="ledger", name="Ledger bot", purpose="Posts journal entries."),
                cls.assessor,
                cls.reviewer,
            )

    def test_the_kept_report_states_the_inventory_frozen_at_approval(self):
        agent = self.approved.agent
        actions.update_agent(
            self.assessor, agent, fields={"name": "Renamed bot", "purpose": "Something else."}
        )
        self.approved.refresh_from_db()
        data = actions.issue_assessment_report(self.people["viewer"], self.approved).pdf
        text = h.pdf_text(data)
        self.assertIn("Ledger bot", text)
        self.assertIn("Posts journal entries.", text)
        self.assertNotIn("Renamed bot", text)
        self.assertNotIn("Something else.", text)
        content = json.loads(h.attachment(data))
        self.assertEqual(content["agent"]["name"], "Ledger bot")

    def test_an_overdue_review_is_said_beside_every_download_and_the_file_stays_the_same(self):
        url = report_url(self.approved)
        with time_machine.travel(dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC), tick=False):
            self.client.force_login(self.people["viewer"])
            before = self.client.get(url).content
            page = self.client.get(self.approved.agent.get_absolute_url())
            self.assertNotContains(page, "Review overdue since")
        due = self.approved.next_review_on
        late = dt.datetime.combine(due + dt.timedelta(days=12), dt.time(9), tzinfo=dt.UTC)
        with time_machine.travel(late, tick=False):
            self.client.force_login(self.people["viewer"])
            sentence = f"Review overdue since {due:%-d %b %Y} (12 days)"
            agent_page = self.client.get(self.approved.agent.get_absolute_url())
            self.assertContains(agent_page, sentence)
            assessment_page = self.client.get(self.approved.get_absolute_url())
            self.assertContains(assessment_page, sentence)
            self.assertEqual(self.client.get(url).content, before)

            with tempfile.TemporaryDirectory() as folder:
                target = Path(folder) / "out.pdf"
                out = tempfile.SpooledTemporaryFile(mode="w+")  # noqa: SIM115
                call_command(
                    "report",
                    "assessment",
                    "ledger",
                    "--output",
                    str(target),
                    "--user",
                    "vera",
                    stdout=out,
                )
                out.seek(0)
                self.assertIn(sentence, out.read())
                self.assertEqual(target.read_bytes(), before)

            outcome = notifications.send_daily_digests()
        (message,) = mail.outbox
        self.assertEqual(len(outcome.sent), 1)
        self.assertIn("Report on file (v1; its review is overdue", message.body)
        self.assertIn(url, message.body)
        html = message.alternatives[0].content
        self.assertIn("Review overdue:", html)

    def test_a_report_first_made_after_the_review_fell_due_says_it_is_overdue(self):
        due = self.approved.next_review_on
        on_time = dt.datetime.combine(due - dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC)
        with time_machine.travel(on_time, tick=False):
            content = h.report_content_of(self.approved)
        self.assertIsNone(content["decision"]["review_overdue_since"])
        late = dt.datetime.combine(due + dt.timedelta(days=5), dt.time(9), tzinfo=dt.UTC)
        with time_machine.travel(late, tick=False):
            data = actions.issue_assessment_report(self.people["viewer"], self.approved).pdf
        text = h.flat(h.pdf_text(data))
        self.assertIn(f"Review overdue since {due:%-d %b %Y}", text)
        self.assertIn("5 days late", text)
        self.assertNotIn("Next review", text.split("Sign-off")[0][:2000])

    def test_an_undecided_draft_headlines_undecided_with_its_tier_bound(self):
        agent = f.agent(slug="writer", name="Writer", systems=[("erp", "write")])
        draft = actions.start_assessment(self.assessor, agent)
        text = h.flat(h.pdf_text(actions.issue_assessment_report(self.assessor, draft).pdf))
        content = h.report_content_of(draft)["decision"]
        self.assertFalse(content["decided"])
        self.assertTrue(content["tier_label"].startswith("at least "))  # as the pages bound it
        self.assertIn("CLASSIFICATION Undecided —", text)
        self.assertIn(f"GOVERNANCE TIER {content['tier_label']} Undecided: reviewed", text)
        self.assertNotIn("Reviewed every", text)

    def test_a_superseded_version_is_not_called_overdue(self):
        newer = f.approved(self.approved.agent, self.assessor, self.reviewer)
        late = dt.datetime.combine(
            newer.next_review_on + dt.timedelta(days=3), dt.time(9), tzinfo=dt.UTC
        )
        with time_machine.travel(late, tick=False):
            self.client.force_login(self.people["viewer"])
            self.assertNotContains(
                self.client.get(self.approved.get_absolute_url()), "Review overdue since"
            )
            self.assertContains(self.client.get(newer.get_absolute_url()), "Review overdue since")
