"""A board's sign-off of an issued pack, recorded from the web page, the API and the
command line (``actions.record_board_signoff``): who may, what is kept and shown, and
that it is recorded once."""

from __future__ import annotations

import datetime as dt
import json

from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from assessments import actions
from assessments.models import AuditEvent, BoardPackJob, ReportRecord
from assessments.reports.board import BoardFilters, baseline_pack, recorded_packs
from tests import factories as f


def pack(document_id: str = "AIA-BP-20261101-SIGNME01", **params) -> ReportRecord:
    """A recorded board pack of every team (no PDF is needed to sign one off)."""
    return ReportRecord.objects.create(
        document_id=document_id,
        kind=ReportRecord.Kind.BOARD,
        content_sha256="0" * 64,
        file_sha256=document_id.ljust(64, "0")[:64],
        params={"team": "", "tier": None, "classification": "", "figures": {"overdue": 2}} | params,
        pages=12,
    )


def minutes(**changes) -> dict[str, str]:
    return {
        "chair": "Chair Person",
        "attendees": "A One, B Two, Ünal Üç",
        "resolution": "Noted; owners to close the gaps by January.",
        "meeting_date": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
        **changes,
    }


class SignoffPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.reviewer = f.reviewer("rex")
        cls.record = pack()
        cls.url = reverse("assessments:board_pack_signoff", args=[cls.record.document_id])

    def setUp(self):
        self.client.force_login(self.reviewer)

    def test_a_reviewer_records_the_boards_signoff_and_it_is_audited(self):
        page = self.client.get(self.url)
        self.assertContains(page, "Record the board's sign-off")
        for field in ("chair", "attendees", "resolution", "meeting_date"):
            self.assertContains(page, f'for="id_{field}"')  # a label for every field
        response = self.client.post(self.url, minutes())
        self.assertRedirects(response, self.url)
        self.record.refresh_from_db()
        signed = self.record.params["signed_off"]
        self.assertEqual(signed["chair"], "Chair Person")
        self.assertEqual(signed["attendees"], ["A One", "B Two", "Ünal Üç"])
        self.assertEqual(signed["resolution"], "Noted; owners to close the gaps by January.")
        self.assertEqual(signed["recorded_by"], "rex")
        self.assertEqual(self.record.params["figures"], {"overdue": 2})  # the rest is kept
        event = AuditEvent.objects.get(verb="report.signoff")
        self.assertEqual((event.actor, event.object_repr), (self.reviewer, self.record.document_id))
        self.assertEqual(event.changes["signed_off"]["chair"], "Chair Person")
        shown = self.client.get(self.url)
        self.assertContains(shown, "Signed off by the board")
        self.assertContains(shown, "Ünal Üç")
        self.assertContains(shown, "Rex Reviewer")  # who recorded it
        self.assertNotContains(shown, '<form method="post" action="' + self.url)

    def test_the_reports_page_shows_the_signoff_on_the_packs_row(self):
        reports = reverse("assessments:reports")
        self.assertContains(self.client.get(reports), "Record the board's sign-off")
        self.client.post(self.url, minutes())
        page = self.client.get(reports)
        self.assertContains(page, "Signed off by the board on")
        self.assertContains(page, "Chair Person")
        self.assertNotContains(page, "Record the board's sign-off")
        # Readers see the sign-off too, but not the way to record one.
        self.client.force_login(f.viewer("vera"))
        self.assertContains(self.client.get(reports), "Noted; owners to close the gaps")

    def test_the_finished_packs_page_shows_its_signoff(self):
        job = BoardPackJob.objects.create(
            requested_by=self.reviewer,
            state=BoardPackJob.State.DONE,
            pdf=b"%PDF-1.7",
            report=self.record,
        )
        status = reverse("assessments:board_pack_status", args=[job.pk])
        self.assertContains(self.client.get(status), self.url)
        self.client.post(self.url, minutes())
        self.assertContains(self.client.get(status), "Signed off by the board on")

    def test_a_second_signoff_is_refused_and_changes_nothing(self):
        self.client.post(self.url, minutes())
        response = self.client.post(self.url, minutes(chair="Someone Else"))
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "already signed off", status_code=409)
        self.record.refresh_from_db()
        self.assertEqual(self.record.params["signed_off"]["chair"], "Chair Person")
        self.assertEqual(AuditEvent.objects.filter(verb="report.signoff").count(), 1)
        with self.assertRaisesMessage(actions.AlreadySignedOff, "already signed off"):
            actions.record_board_signoff(
                self.reviewer, self.record, **{**minutes(), "meeting_date": dt.date(2026, 1, 1)}
            )

    def test_bad_input_is_refused_beside_its_field_and_changes_nothing(self):
        future = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
        cases = {
            "chair": ({"chair": "   "}, "Name the chair of the meeting."),
            "resolution": ({"resolution": ""}, "Write the resolution the board passed."),
            "future": ({"meeting_date": future}, "cannot be in the future"),
            "no date": ({"meeting_date": "tomorrow"}, "Enter a valid date."),
            "too many": (
                {"attendees": ", ".join(f"P{n}" for n in range(51))},
                "Name at most 50 attendees.",
            ),
            "NUL": ({"chair": "Chair\x00Person"}, "Null characters are not allowed."),
            "too long": ({"resolution": "x" * 2001}, "at most 2000 characters"),
        }
        for name, (change, message) in cases.items():
            with self.subTest(name):
                response = self.client.post(self.url, minutes(**change))
                self.assertEqual(response.status_code, 422)
                self.assertContains(response, message, status_code=422)
                self.assertContains(response, "is-invalid", status_code=422)  # inline
        self.record.refresh_from_db()
        self.assertNotIn("signed_off", self.record.params)
        self.assertFalse(AuditEvent.objects.filter(verb="report.signoff").exists())

    def test_only_reviewers_and_administrators_record_a_signoff(self):
        for person, status in [
            (f.viewer("vera"), 403),
            (f.assessor("ada"), 403),
            (f.outsider("otto"), 403),
            (f.administrator("root"), 200),
            (self.reviewer, 200),
        ]:
            with self.subTest(person.username):
                self.client.force_login(person)
                self.assertEqual(self.client.get(self.url).status_code, status)
                if status == 403:
                    self.assertEqual(self.client.post(self.url, minutes()).status_code, 403)
        self.record.refresh_from_db()
        self.assertNotIn("signed_off", self.record.params)
        self.client.logout()
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("login")))

    def test_only_a_board_pack_is_signed_off_and_an_unknown_one_is_not_found(self):
        other = ReportRecord.objects.create(
            document_id="AIA-AR-20261101-NOTBOARD",
            kind=ReportRecord.Kind.ASSESSMENT,
            content_sha256="0" * 64,
            file_sha256="9" * 64,
        )
        for document_id in (other.document_id, "AIA-BP-NOPE", "x" * 300, "AIA-BP-\x00"):
            with self.subTest(document_id[:20]):
                url = reverse("assessments:board_pack_signoff", args=[document_id])
                self.assertEqual(self.client.post(url, minutes()).status_code, 404)
        with self.assertRaisesMessage(actions.ActionError, "Only a board pack"):
            actions.record_board_signoff(
                self.reviewer, other, **{**minutes(), "meeting_date": dt.date(2026, 1, 1)}
            )

    def test_with_editing_team_scoped_a_reviewer_signs_off_only_their_teams_packs(self):
        home, away = f.team("Platform"), f.team("Research")
        self.reviewer.teams.set([home])
        theirs = pack("AIA-BP-20261101-PLATFORM", team=home.slug)
        others = pack("AIA-BP-20261101-RESEARCH", team=away.slug)
        everyone = self.record  # a pack of every team: for administrators
        with self.settings(TEAM_SCOPED_EDITING=True):
            for record, status in [(theirs, 302), (others, 403), (everyone, 403)]:
                with self.subTest(record.document_id):
                    url = reverse("assessments:board_pack_signoff", args=[record.document_id])
                    response = self.client.post(url, minutes())
                    self.assertEqual(response.status_code, status)
            refused = self.client.get(
                reverse("assessments:board_pack_signoff", args=[others.document_id])
            )
            self.assertContains(
                refused,
                "You record sign-offs only of your teams&#x27; board packs",
                status_code=403,
            )
            self.client.force_login(f.administrator("root"))
            url = reverse("assessments:board_pack_signoff", args=[everyone.document_id])
            self.assertEqual(self.client.post(url, minutes()).status_code, 302)

    def test_the_signed_off_pack_is_the_baseline_of_the_next_pack_of_its_scope(self):
        later = pack("AIA-BP-20261102-LATERONE", meeting_date="2026-11-02")
        filters = BoardFilters.from_params({})
        self.assertEqual(baseline_pack(recorded_packs(filters))["document_id"], later.document_id)
        self.client.post(self.url, minutes())
        found = recorded_packs(filters)
        self.assertEqual(baseline_pack(found)["document_id"], self.record.document_id)
        self.assertEqual(baseline_pack(found)["recorded"], "signed off")


class SignoffCommandTests(TestCase):
    def test_the_command_records_through_the_same_action_and_refuses_a_viewer(self):
        record = pack()
        f.viewer("vera")
        f.reviewer("rex")
        args = ["report", "signoff", record.document_id, "--chair", "Chair Person"]
        args += ["--resolution", "Noted.", "--meeting-date", "2026-01-15"]
        with self.assertRaisesMessage(CommandError, "Only reviewers and administrators"):
            call_command(*args, "--user", "vera")
        call_command(*args, "--user", "rex")
        record.refresh_from_db()
        self.assertEqual(record.params["signed_off"]["recorded_by"], "rex")
        with self.assertRaisesMessage(CommandError, "already signed off"):
            call_command(*args, "--user", "rex")


class SignoffApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.reviewer = f.reviewer("rex")
        cls.record = pack()
        cls.job = BoardPackJob.objects.create(
            requested_by=cls.reviewer,
            state=BoardPackJob.State.DONE,
            pdf=b"%PDF-1.7",
            report=cls.record,
        )
        cls.url = f"/api/v1/board-packs/{cls.job.pk}/sign-off"

    def setUp(self):
        self.client.force_login(self.reviewer)

    def post(self, body, url=None):
        return self.client.post(url or self.url, json.dumps(body), content_type="application/json")

    def test_it_records_the_signoff_once_and_says_so(self):
        response = self.post(minutes())
        self.assertEqual(response.status_code, 200, response.content)
        signed = response.json()["signed_off"]
        self.assertEqual(signed["chair"], "Chair Person")
        self.assertEqual(signed["attendees"], ["A One", "B Two", "Ünal Üç"])
        self.assertEqual(signed["recorded_by"], "rex")
        self.assertTrue(
            AuditEvent.objects.filter(verb="report.signoff", actor=self.reviewer).exists()
        )
        self.assertEqual(
            self.client.get(f"/api/v1/board-packs/{self.job.pk}").json()["signed_off"]["chair"],
            "Chair Person",
        )
        again = self.post(minutes(chair="Someone Else"))
        self.assertEqual(again.status_code, 409)
        self.assertIn("already signed off", again.json()["detail"])
        self.record.refresh_from_db()
        self.assertEqual(self.record.params["signed_off"]["chair"], "Chair Person")

    def test_a_mistyped_or_wrong_body_is_a_422_and_changes_nothing(self):
        future = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
        for body in [
            [minutes()],
            "minutes",
            None,
            {**minutes(), "meeting_date": "soon"},
            {**minutes(), "chair": ["Chair"]},
            {**minutes(), "chair": ""},
            {**minutes(), "meeting_date": future},
            {k: v for k, v in minutes().items() if k != "resolution"},
        ]:
            with self.subTest(body=str(body)[:60]):
                response = self.post(body)
                self.assertEqual(response.status_code, 422, response.content)
                self.assertEqual(response["Content-Type"], "application/problem+json")
        self.record.refresh_from_db()
        self.assertNotIn("signed_off", self.record.params)
        self.assertFalse(AuditEvent.objects.filter(verb="report.signoff").exists())

    def test_a_pack_not_finished_yet_cannot_be_signed_off(self):
        waiting = BoardPackJob.objects.create(requested_by=self.reviewer)
        response = self.post(minutes(), url=f"/api/v1/board-packs/{waiting.pk}/sign-off")
        self.assertEqual(response.status_code, 409)
        self.assertEqual(
            self.post(minutes(), url="/api/v1/board-packs/0/sign-off").status_code, 404
        )
