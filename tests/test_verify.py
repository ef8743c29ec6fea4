"""Verifying a PDF: the issued file matches its record; any change, or a stranger, fails."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from pypdf import PdfWriter

from assessments import actions
from assessments.reports import verify
from assessments.reports.verify import CHANGED, MATCH, UNKNOWN, UNREADABLE, verify_bytes
from tests import factories as f
from tests import report_helpers as h


def stranger_pdf() -> bytes:
    """A valid PDF this application never issued."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted(data: bytes) -> bytes:
    writer = PdfWriter(clone_from=h.reader(data))
    writer.encrypt(user_password="", owner_password="secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class VerifyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        people = h.people()
        cls.viewer = people["viewer"]
        approved = f.approved(
            f.agent(slug="kept", name="Kept agent"), people["assessor"], people["reviewer"]
        )
        cls.issued = actions.issue_assessment_report(people["reviewer"], approved)
        cls.pdf = cls.issued.pdf

    def test_the_issued_file_matches_its_record(self):
        result = verify_bytes(self.pdf)
        self.assertEqual(result.verdict, MATCH)
        self.assertEqual(result.exit_code, 0)
        self.assertEqual(result.record, self.issued.record)
        self.assertIn(self.issued.record.document_id, result.message)
        self.assertIn("Kept agent (kept), version 1, approved", result.message)
        self.assertIn("by Rex Reviewer", result.message)

    def test_one_changed_byte_fails(self):
        for at in (len(self.pdf) // 3, len(self.pdf) // 2, len(self.pdf) - 40):
            with self.subTest(at=at):
                result = verify_bytes(h.flip_byte(self.pdf, at))
                self.assertIn(result.verdict, (CHANGED, UNKNOWN))
                self.assertEqual(result.exit_code, 1)
                if result.verdict == CHANGED:
                    self.assertEqual(result.record, self.issued.record)

    def test_a_resaved_copy_says_which_report_it_claims_to_be(self):
        result = verify_bytes(h.resaved_with_new_author(self.pdf))
        self.assertEqual(result.verdict, CHANGED)
        self.assertEqual(result.claimed_id, self.issued.record.document_id)
        self.assertIn(f"claims to be {self.issued.record.document_id}", result.message)
        self.assertIn("not the file that was issued", result.message)
        self.assertIn(self.issued.record.file_sha256, " ".join(result.details))
        self.assertIn("attached content still matches", " ".join(result.details))

    def test_a_pdf_this_application_never_issued_does_not_match(self):
        result = verify_bytes(stranger_pdf())
        self.assertEqual(result.verdict, UNKNOWN)
        self.assertEqual(result.exit_code, 1)
        self.assertIn("does not match any report", result.message)

    def test_a_made_up_document_id_is_named_but_not_found(self):
        data = stranger_pdf()
        writer = PdfWriter(clone_from=h.reader(data))
        writer.add_metadata({"/Keywords": "AIA-AR-20261102-ZZZZZZZZ"})
        out = io.BytesIO()
        writer.write(out)
        result = verify_bytes(out.getvalue())
        self.assertEqual(result.verdict, UNKNOWN)
        self.assertIn("claims to be report AIA-AR-20261102-ZZZZZZZZ", result.message)

    def test_files_that_cannot_be_checked(self):
        for data, message in [
            (b"", "empty"),
            (b"GIF89a not a pdf", "not a PDF"),
            (b"%PDF-1.7 but nothing else", "The file is incomplete"),
        ]:
            with self.subTest(message=message):
                result = verify_bytes(data)
                self.assertIn(message, result.message)
        self.assertEqual(verify_bytes(b"").verdict, UNREADABLE)
        self.assertEqual(verify_bytes(b"plain text").exit_code, 2)
        self.assertEqual(verify_bytes(b"%PDF-1.7 truncated").exit_code, 2)

    def test_what_cannot_be_read_as_a_pdf_cannot_be_checked_and_says_why_plainly(self):
        cases = {
            "truncated": (self.pdf[: len(self.pdf) // 2], "The file is incomplete"),
            "cut before its end": (self.pdf[:-40], "The file is incomplete"),
            "encrypted": (encrypted(self.pdf), "The file is encrypted"),
            "garbage after a header": (b"%PDF-1.7\n" + b"\x00" * 500 + b"\n%%EOF\n", "damaged"),
            "not a PDF": (b"GIF89a" + b"x" * 100, "not a PDF"),
        }
        for name, (data, message) in cases.items():
            with self.subTest(name):
                result = verify_bytes(data)
                self.assertEqual(result.verdict, UNREADABLE)
                self.assertEqual(result.exit_code, 2)
                self.assertIn(message, result.message)
                self.assertNotRegex(
                    " ".join([result.message, *result.details]), r"[A-Z][a-z]+(Error|Exception)"
                )

    def test_it_says_when_the_attached_content_is_missing(self):
        writer = PdfWriter(clone_from=h.reader(self.pdf))
        writer._root_object["/Names"].pop("/EmbeddedFiles")
        out = io.BytesIO()
        writer.write(out)
        result = verify_bytes(out.getvalue())
        self.assertEqual(result.verdict, CHANGED)
        self.assertIn("carries no attached report-content.json", " ".join(result.details))
        stranger = verify_bytes(stranger_pdf())
        self.assertIn("carries no attached report-content.json", " ".join(stranger.details))
        self.assertNotIn(
            "carries no attached",
            " ".join(verify_bytes(h.resaved_with_new_author(self.pdf)).details),
        )

    def test_a_board_pack_is_named_by_its_scope_and_period(self):
        issued = actions.issue_board_pack(
            None,
            {"team": "platform", "tier": 1, "since": "2026-01-01", "until": "2026-03-31"},
            actor_label="cron",
        )
        result = verify_bytes(issued.pdf)
        self.assertEqual(result.verdict, MATCH)
        self.assertIn("a board pack of team Platform, tier 1 · Baseline", result.message)
        self.assertIn("period 1 Jan 2026 to 31 Mar 2026", result.message)

    def test_files_over_the_limit_are_refused_before_they_are_read(self):
        class Big:
            size = verify.MAX_BYTES + 1

            def read(self, *args):
                raise AssertionError("a file over the limit is not read")

        result = verify.verify_file(Big())
        self.assertEqual(result.verdict, UNREADABLE)
        self.assertIn("larger than 20 MB", result.message)


class VerifyPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        people = h.people()
        cls.viewer = people["viewer"]
        approved = f.approved(f.agent(slug="kept"), people["assessor"], people["reviewer"])
        cls.pdf = actions.issue_assessment_report(people["reviewer"], approved).pdf
        cls.url = reverse("assessments:report_verify")

    def upload(self, data, name="report.pdf", **headers):
        self.client.force_login(self.viewer)
        return self.client.post(
            self.url,
            {"file": SimpleUploadedFile(name, data, content_type="application/pdf")},
            headers=headers,
        )

    def test_a_viewer_uploads_the_issued_report_and_is_told_it_verifies(self):
        response = self.upload(self.pdf)
        self.assertContains(response, "Verified")
        self.assertContains(response, "unchanged")

    def test_a_changed_copy_is_flagged(self):
        response = self.upload(h.resaved_with_new_author(self.pdf))
        self.assertContains(response, "Changed: does not verify")
        self.assertContains(response, "claims to be")

    def test_with_htmx_only_the_verification_card_comes_back(self):
        response = self.upload(self.pdf, **{"HX-Request": "true"})
        self.assertContains(response, 'id="verify"')
        self.assertNotContains(response, "<html")

    def test_bad_uploads_get_a_clear_message_not_an_error_page(self):
        self.assertContains(self.upload(b"hello", name="notes.txt"), "The file is not a PDF.")
        empty = self.upload(b"")
        self.assertContains(empty, "The file is empty", status_code=422)
        self.client.force_login(self.viewer)
        missing = self.client.post(self.url, {})
        self.assertContains(missing, "Choose the PDF to verify.", status_code=422)

    def test_a_truncated_upload_cannot_be_checked_and_the_page_says_why(self):
        response = self.upload(self.pdf[: len(self.pdf) // 3])
        self.assertContains(response, "Cannot be checked")
        self.assertContains(response, "The file is incomplete")

    def test_an_upload_over_20_mb_is_refused(self):
        response = self.upload(b"%PDF-" + b"0" * (verify.MAX_BYTES))
        self.assertContains(response, "larger than 20 MB", status_code=422)

    def test_outsiders_cannot_verify(self):
        self.client.force_login(f.outsider())
        response = self.client.post(
            self.url, {"file": SimpleUploadedFile("r.pdf", self.pdf, "application/pdf")}
        )
        self.assertEqual(response.status_code, 403)


class VerifyCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        people = h.people()
        approved = f.approved(f.agent(slug="kept"), people["assessor"], people["reviewer"])
        cls.issued = actions.issue_assessment_report(None, approved, actor_label="cron")

    def run_verify(self, data: bytes | None) -> tuple[int, str]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.pdf"
            if data is not None:
                path.write_bytes(data)
            out, err = io.StringIO(), io.StringIO()
            try:
                call_command("verify_report", str(path), stdout=out, stderr=err)
                code = 0
            except SystemExit as exit:
                code = exit.code
            return code, out.getvalue() + err.getvalue()

    def test_exit_codes(self):
        code, said = self.run_verify(self.issued.pdf)
        self.assertEqual(code, 0, said)
        self.assertIn(self.issued.record.document_id, said)
        self.assertIn("by cron", said)
        code, said = self.run_verify(h.resaved_with_new_author(self.issued.pdf))
        self.assertEqual(code, 1)
        self.assertIn("claims to be", said)
        self.assertEqual(self.run_verify(h.flip_byte(self.issued.pdf))[0], 1)
        self.assertEqual(self.run_verify(stranger_pdf())[0], 1)
        code, said = self.run_verify(b"not a pdf at all")
        self.assertEqual((code, "not a PDF" in said), (2, True))
        self.assertEqual(self.run_verify(b"")[0], 2)
        code, said = self.run_verify(None)
        self.assertEqual((code, "cannot be read" in said), (2, True))
        code, said = self.run_verify(self.issued.pdf[:-100])
        self.assertEqual(code, 2)
        self.assertIn("The file is incomplete", said)
        self.assertNotIn("Error", said)
        code, said = self.run_verify(encrypted(self.issued.pdf))
        self.assertEqual((code, "The file is encrypted" in said), (2, True))
