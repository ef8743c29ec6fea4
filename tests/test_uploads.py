"""Oversized bodies are refused from Content-Length before anything reads them."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse

from tests import factories as f

GIGABYTE = 1024**3


class UnreadableBody:
    """A request body that fails the test if anything reads it."""

    read_calls = 0

    def read(self, *args):
        UnreadableBody.read_calls += 1
        raise AssertionError("the body was read")

    readline = read


class UploadLimitTests(TestCase):
    def setUp(self):
        # CSRF checks on: Django's CSRF middleware reads the body of a POST, so this
        # proves the refusal comes before it.
        self.client = Client(enforce_csrf_checks=True)
        self.client.force_login(f.viewer())
        UnreadableBody.read_calls = 0

    def post_claiming(self, url: str, length: int):
        return self.client.generic(
            "POST",
            url,
            b"x",
            content_type="multipart/form-data; boundary=BoUnDaRy",
            CONTENT_LENGTH=str(length),
            **{"wsgi.input": UnreadableBody()},
        )

    def test_a_gigabyte_upload_to_verify_is_refused_unread(self):
        response = self.post_claiming(reverse("assessments:report_verify"), GIGABYTE)
        self.assertEqual(response.status_code, 413)
        self.assertEqual(UnreadableBody.read_calls, 0)

    def test_forms_elsewhere_are_capped_at_the_form_limit(self):
        url = reverse("assessments:calendar_feeds")
        response = self.post_claiming(url, settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
        self.assertEqual(response.status_code, 413)
        self.assertEqual(UnreadableBody.read_calls, 0)

    def test_a_report_within_the_limit_is_still_checked(self):
        client = Client()
        client.force_login(f.viewer("vic"))
        pdf = SimpleUploadedFile("copy.pdf", b"%PDF-1.7 " + b"0" * (3 * 1024 * 1024))
        response = client.post(reverse("assessments:report_verify"), {"file": pdf})
        self.assertEqual(response.status_code, 200)

    def test_memory_limits_are_set(self):
        self.assertEqual(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, 2 * 1024 * 1024)
        self.assertEqual(settings.FILE_UPLOAD_MAX_MEMORY_SIZE, 5 * 1024 * 1024)

    def test_a_garbled_content_length_is_a_400(self):
        response = self.post_claiming(reverse("assessments:report_verify"), 0)
        self.assertLess(response.status_code, 500)
        bad = self.client.generic(
            "POST", reverse("assessments:report_verify"), b"", CONTENT_LENGTH="lots"
        )
        self.assertEqual(bad.status_code, 400)
