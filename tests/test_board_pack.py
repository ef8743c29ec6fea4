"""The board pack: its figures, its filters, the PDF, and rendering in the background."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import tempfile
from collections import defaultdict
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import actions, portfolio
from assessments.models import (
    Agent,
    Assessment,
    AuditEvent,
    BoardPackJob,
    GapException,
    ReportRecord,
    Review,
)
from assessments.reports import board
from assessments.reports.board import DUE_WITHIN_DAYS, BoardFilters, FilterError, board_content
from assessments.reports.verify import MATCH, verify_bytes
from assessments.workflow import decisions
from tests import factories as f
from tests import report_helpers as h

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def days_ago(n):
    return NOW - dt.timedelta(days=n)


class Portfolio:
    """Five active agents and a retired one, decided at known times before NOW."""

    @classmethod
    def build(cls, target):
        people = h.people()
        cls_ = target
        cls_.people = people  # the personas, for tests that sign in
        a, r = people["assessor"], people["reviewer"]
        research = f.team("Research")
        with time_machine.travel(days_ago(200), tick=False):
            cls_.steady = f.approved(f.agent(slug="steady", name="Steady script"), a, r)
            cls_.grower_v1 = f.approved(f.agent(slug="grower", name="Growing helper"), a, r)
        with time_machine.travel(days_ago(120), tick=False):
            cls_.old_v1 = f.approved(f.agent(slug="old-change", name="Old change"), a, r)
        with time_machine.travel(days_ago(100), tick=False):
            cls_.old_v2 = f.approved(
                cls_.old_v1.agent, a, r, decision_mode="context_driven", human_approval="none"
            )
            cls_.planner = h.approved_planner(a, r)
        with time_machine.travel(days_ago(30), tick=False):
            cls_.grower_v2 = f.approved(cls_.grower_v1.agent, a, r, decision_mode="context_driven")
        cls_.fresh = f.agent(slug="fresh", name="Fresh arrival", team=research)
        gone = f.agent(slug="gone", name="Gone agent")
        actions.retire_agent(a, gone)


class BoardContentTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        Portfolio.build(cls)

    def setUp(self):
        self.enterContext(time_machine.travel(NOW, tick=False))

    def content(self, **params):
        return board_content(BoardFilters.from_params(params), today=TODAY)

    def test_figures_count_active_agents_by_their_latest_approved_assessment(self):
        c = self.content()
        self.assertEqual(c["figures"]["agents"], 5)  # the retired agent is left out
        self.assertEqual(c["figures"]["assessed"], 4)
        self.assertEqual(c["figures"]["undecided"], 1)
        self.assertEqual(c["figures"]["never_assessed"], 1)
        latest = [self.steady, self.grower_v2, self.old_v2, self.planner]
        expected = defaultdict(int)
        for a in latest:
            expected[(a.tier, a.classification)] += 1
        # Most critical first, as every tier table and chart in the pack.
        for row, tier in zip(c["distribution"], (4, 3, 2, 1, None), strict=True):
            for cls in ("agent_identity", "machine_identity"):
                self.assertEqual(row[cls], expected[(tier, cls)], (tier, cls))
        self.assertEqual(c["distribution"][4]["unassessed"], 1)
        agent_ids = sum(1 for a in latest if a.classification == "agent_identity")
        self.assertEqual(c["figures"]["agent_identity"], agent_ids)
        self.assertEqual(c["figures"]["agent_identity_pct"], f"{round(100 * agent_ids / 4)}%")

    def test_reclassifications_are_those_approved_in_the_period_with_a_new_class_or_tier(self):
        c = self.content()
        self.assertEqual([r["slug"] for r in c["reclassifications"]], ["grower"])
        row = c["reclassifications"][0]
        self.assertEqual(row["versions"], "v1 → v2")
        self.assertEqual(row["from"], f"Machine identity, tier {self.grower_v1.tier}")
        self.assertEqual(row["to"], f"Agent identity, tier {self.grower_v2.tier}")
        wider = self.content(since=days_ago(150).date().isoformat())
        self.assertEqual(
            sorted(r["slug"] for r in wider["reclassifications"]), ["grower", "old-change"]
        )
        self.assertEqual(wider["figures"]["first_decisions"], 2)  # old-change v1, planner

    def test_overdue_and_due_reviews(self):
        c = self.content()
        # The planner (tier 3, every 90 days) was approved 100 days ago.
        self.assertEqual([(r["slug"], r["days"]) for r in c["overdue"]], [("planner", 10)])
        due = {r["agent"] for r in c["due"]}
        self.assertNotIn("Incident planner", due)
        for r in c["due"]:
            self.assertTrue(0 <= r["days_left"] <= 30)
        self.assertEqual(c["figures"]["due"], len(c["due"]))

    def test_gaps_by_control_and_exceptions_in_force(self):
        c = self.content()
        latest = [self.steady, self.grower_v2, self.old_v2, self.planner]
        expected = defaultdict(int)
        for a in latest:
            for control in a.result["controls"]:
                if control["status"] == "gap":
                    expected[control["id"]] += 1
        self.assertEqual({g["id"]: g["agents"] for g in c["gaps"]}, dict(expected))
        # The planner's audit-gap exception ran 90 days from its approval 100 days ago: it
        # expired in the period, so its gap is open again and none is in force.
        self.assertEqual(c["exceptions_by_subject"], [])
        self.assertEqual(c["figures"]["exceptions"], 0)
        self.assertEqual(
            [(e["slug"], e["subject"]) for e in c["expired_exceptions"]], [("planner", "audit_gap")]
        )

    def test_an_exception_in_force_is_counted_with_its_next_expiry(self):
        with time_machine.travel(days_ago(100) + dt.timedelta(days=50), tick=False):
            c = board_content(BoardFilters.from_params({}))
        self.assertEqual(
            [(x["subject"], x["count"]) for x in c["exceptions_by_subject"]], [("audit_gap", 1)]
        )
        self.assertEqual(c["exceptions_by_subject"][0]["next_expiry"], (days_ago(10)).date())

    def test_coverage_counts_distinct_agents_with_a_control_in_place_or_only_gaps(self):
        c = self.content()
        data = decisions.catalogue_data(self.planner.catalogue)
        parents = {
            (fw["key"], it["id"]): (fw["key"], it["parent"])
            for fw in data["frameworks"]
            for it in fw["items"]
            if it.get("parent")
        }

        def up(key):
            while key is not None:
                yield key
                key = parents.get(key)

        mapped = {
            ctl["id"]: {(m["framework"], m["item"]) for m in ctl["mappings"]}
            for ctl in data["controls"]
        }
        in_place, gap = defaultdict(set), defaultdict(set)
        assessed = [self.steady, self.grower_v2, self.old_v2, self.planner]
        for a in assessed:
            for control in a.result["controls"]:
                for direct in mapped[control["id"]]:
                    for key in up(direct):  # a parent is addressed when a child is
                        if control["status"] == "in_place":
                            in_place[key].add(a.agent_id)
                        elif control["status"] == "gap":
                            gap[key].add(a.agent_id)
        checked = 0
        for fw in c["frameworks"]:
            for item in fw["items"]:
                key = (fw["key"], item["id"])
                self.assertEqual(item["in_place"], len(in_place[key]), key)
                self.assertEqual(item["gap"], len(gap[key] - in_place[key]), key)
                self.assertLessEqual(item["in_place"] + item["gap"], len(assessed), key)
                checked += 1
        self.assertGreater(checked, 20)
        asi = next(fw for fw in c["frameworks"] if fw["key"] == "owasp_asi_top10_2026")
        self.assertIn("ASI03", [i["id"] for i in asi["items"]])
        nist = next(fw for fw in c["frameworks"] if fw["key"] == "nist_ai_rmf_1_0")
        # Parents of mapped subcategories are not "not addressed by any control".
        self.assertNotIn("GOVERN", nist["unmapped"])
        self.assertEqual(
            [level.split(" ")[0] for level in nist["levels"]],
            ["functions", "categories", "subcategories"],
        )
        self.assertTrue(nist["levels"][2].endswith("of 72"))
        self.assertTrue(nist["levels"][1].endswith("of 19"))

    def test_filters_by_team_tier_and_class(self):
        by_team = self.content(team="research")
        self.assertEqual([r["agent"] for r in by_team["register"]], ["Fresh arrival"])
        by_tier = self.content(tier=self.planner.tier)
        self.assertIn("Incident planner", [r["agent"] for r in by_tier["register"]])
        self.assertTrue(all(r["tier"] == self.planner.tier for r in by_tier["overdue"]))
        unassessed = self.content(classification="unassessed")
        self.assertEqual(unassessed["figures"]["agents"], 1)
        self.assertEqual(unassessed["figures"]["assessed"], 0)
        machines = self.content(classification="machine_identity")
        self.assertEqual(
            machines["figures"]["agents"],
            sum(
                1
                for a in (self.steady, self.grower_v2, self.old_v2, self.planner)
                if a.classification == "machine_identity"
            ),
        )

    def test_bad_filters_are_refused_with_a_reason(self):
        for params, message in [
            ({"since": "2026-11-02", "until": "2026-10-01"}, "must start on or before"),
            ({"team": "nobody"}, "There is no team"),
            ({"tier": 7}, "The tier must be"),
            ({"classification": "robot"}, "The class must be"),
            ({"since": "yesterday"}, "YYYY-MM-DD"),
            ({"top": 0}, "The appendix lists 1 to 200 agents"),
            ({"top": "many"}, "The appendix lists 1 to 200 agents"),
        ]:
            with self.subTest(params=params), self.assertRaisesMessage(FilterError, message):
                BoardFilters.from_params(params)

    def test_the_register_has_every_agent_and_the_appendix_the_most_at_risk(self):
        c = self.content()
        self.assertEqual(
            sorted(r["slug"] for r in c["register"]),
            ["fresh", "grower", "old-change", "planner", "steady"],
        )
        planner = next(r for r in c["register"] if r["slug"] == "planner")
        self.assertEqual(planner["days_overdue"], 10)
        self.assertEqual(planner["tier"], self.planner.tier)
        # Needing attention: those late, never assessed, or with an open gap or blocking
        # flag; most at risk first (tier, blocking flags, open gaps, days overdue).
        needing = {
            r["slug"]
            for r in c["register"]
            if r["days_overdue"] or r["version"] is None or r["open_gaps"] or r["blocking_flags"]
        }
        self.assertEqual({r["slug"] for r in c["attention"]}, needing)
        self.assertNotIn("steady", needing)
        self.assertEqual(c["attention"][-1]["slug"], "fresh")  # no tier: ranked last
        keys = [
            (-(r["tier"] or 0), -len(r["open_gaps"]), -r["days_overdue"]) for r in c["attention"]
        ]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(c["attention_total"], len(needing))
        listed = next(r for r in c["attention"] if r["slug"] == "planner")
        self.assertIn("Complete the overdue review (10 days late)", listed["action"])
        self.assertEqual(listed["owner"], planner["owner"])
        self.assertIn("Assess it", c["attention"][-1]["action"])
        top_one = self.content(top=1)
        self.assertEqual(top_one["attention"], c["attention"][:1])
        self.assertEqual(top_one["attention_total"], len(needing))

    def test_the_key_points_state_the_figures(self):
        points = " ".join(self.content()["key_points"])
        self.assertIn("4 of 5 agents have an approved assessment", points)
        self.assertIn(
            "1 review is overdue; the longest is 10 days late (\u2068Incident planner\u2069)",
            points,
        )
        self.assertIn("1 agent has no approved assessment yet: 1 never assessed", points)
        self.assertIn(
            "1 reclassification of 1 agent in the period; 1 moved to a higher tier", points
        )


class BoardPdfTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        Portfolio.build(cls)
        with time_machine.travel(NOW, tick=False):
            cls.issued = actions.issue_board_pack(cls.people["reviewer"], {})
        cls.pages = h.pages_text(cls.issued.pdf)
        cls.text = h.flat(" ".join(cls.pages))

    def test_it_has_every_section_with_its_figures_and_the_agents_needing_attention(self):
        for title in [
            "1 · Executive summary",
            "2 · Top risks and actions",
            "3 · Decisions requested",
            "4 · Trends",
            "5 · Classification and tier",
            "6 · Reviews overdue and due",
            "7 · Open gaps and exceptions",
            "8 · Reclassifications in the period",
            "9 · Framework coverage",
            "Appendix A · Agents that need attention",
            "Sign-off",
        ]:
            self.assertIn(title, self.text)
        appendix = self.text[self.text.index("Appendix A · Agents that need attention") :]
        for name in ["Incident planner", "Fresh arrival"]:
            self.assertIn(name, appendix)
        self.assertNotIn("Steady script", appendix)
        self.assertNotIn("Gone agent", self.text)
        self.assertIn("Assess it: nobody has decided how it must be governed", appendix)

    def test_every_agent_is_in_the_attached_register(self):
        register = h.attachment(self.issued.pdf, "agent-register.csv").decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(register)))
        self.assertEqual(
            sorted(r["agent"] for r in rows),
            ["Fresh arrival", "Growing helper", "Incident planner", "Old change", "Steady script"],
        )
        planner = next(r for r in rows if r["slug"] == "planner")
        self.assertEqual(planner["days overdue"], "10")
        self.assertEqual(planner["tier"], str(self.planner.tier))
        names = h.reader(self.issued.pdf).attachments
        self.assertEqual(sorted(names), ["agent-register.csv", "report-content.json"])

    def test_the_contents_give_the_page_each_section_starts_on(self):
        cover = h.flat(self.pages[0])
        for heading, entry in [
            ("1 · Executive summary", "Executive summary"),
            ("2 · Top risks and actions", "Top risks and actions"),
            ("7 · Open gaps and exceptions", "Open gaps and exceptions"),
            ("Appendix A · Agents that need attention", "Appendix A: agents that need attention"),
        ]:
            match = re.search(re.escape(entry) + r" (\d+)", cover)
            self.assertIsNotNone(match, entry)
            page = int(match[1])
            self.assertIn(heading, h.flat(self.pages[page - 1]), heading)

    def test_the_distribution_chart_is_drawn(self):
        svg_text = self.text
        for label in [
            "1 · Baseline",
            "2 · Elevated",
            "3 · High",
            "4 · Critical",
            portfolio.UNASSESSED_LABEL,
        ]:
            self.assertIn(label, svg_text)
        # The dashboard's name for agents with no class, not a second one.
        self.assertNotIn("Not assessed", svg_text)

    def test_pdf_a_fonts_page_numbers_and_fingerprint(self):
        self.assertIn(b'pdfaid:part="3"', h.xmp(self.issued.pdf))
        self.assertEqual(h.fonts_without_embedded_file(self.issued.pdf), [])
        for number, text in enumerate(self.pages, start=1):
            self.assertIn(f"Page {number} of {len(self.pages)}", text)
        record = self.issued.record
        self.assertEqual(record.kind, "board")
        self.assertEqual(record.pages, len(self.pages))
        self.assertEqual(
            hashlib.sha256(h.attachment(self.issued.pdf)).hexdigest(), record.content_sha256
        )
        self.assertIn(record.content_sha256, self.text.replace(" ", ""))
        self.assertIsNone(record.pdf)
        self.assertEqual(verify_bytes(self.issued.pdf).verdict, MATCH)


class BoardPackInTheBrowserTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()
        f.approved(f.agent(slug="one"), cls.people["assessor"], cls.people["reviewer"])
        cls.url = reverse("assessments:board_pack_request")

    def test_a_request_queues_a_job_whose_fragment_polls_every_second(self):
        self.client.force_login(self.people["assessor"])
        response = self.client.post(self.url, {"tier": ""}, headers={"HX-Request": "true"})
        self.assertEqual(response.status_code, 200)
        job = BoardPackJob.objects.get()
        self.assertEqual(job.state, "queued")
        self.assertContains(response, 'hx-trigger="every 1s"')
        self.assertContains(response, reverse("assessments:board_pack_status", args=[job.pk]))
        self.assertTrue(AuditEvent.objects.filter(verb="report.board_request").exists())

    def test_the_task_renders_the_pack_and_the_fragment_offers_the_download(self):
        self.client.force_login(self.people["assessor"])
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.url, {"team": "platform"})
        job = BoardPackJob.objects.get()
        self.assertRedirects(response, reverse("assessments:board_pack_status", args=[job.pk]))
        job.refresh_from_db()
        self.assertEqual((job.state, job.progress), ("done", 100))
        self.assertEqual(job.report.kind, ReportRecord.Kind.BOARD)
        self.assertEqual(job.report.params["team"], "platform")
        fragment = self.client.get(
            reverse("assessments:board_pack_status", args=[job.pk]), headers={"HX-Request": "true"}
        )
        self.assertNotContains(fragment, "hx-trigger")  # done: polling stops
        download_url = reverse("assessments:board_pack_download", args=[job.pk])
        self.assertContains(fragment, download_url)
        self.client.force_login(self.people["viewer"])  # viewers download packs too
        download = self.client.get(download_url)
        self.assertEqual(download["Content-Type"], "application/pdf")
        self.assertEqual(verify_bytes(download.content).record, job.report)
        register_url = reverse("assessments:board_pack_register", args=[job.pk])
        self.assertContains(fragment, register_url)
        register = self.client.get(register_url)
        self.assertEqual(register["Content-Type"], "text/csv; charset=utf-8")
        self.assertIn(".csv", register["Content-Disposition"])
        self.assertEqual(register.content, h.attachment(download.content, "agent-register.csv"))
        self.assertIn("one", register.content.decode("utf-8-sig"))

    def test_people_without_a_role_cannot_request_packs(self):
        # Viewers can (they are the board's readers); someone with no role cannot.
        self.client.force_login(f.outsider())
        self.assertEqual(self.client.post(self.url, {}).status_code, 403)
        self.assertFalse(BoardPackJob.objects.exists())

    def test_a_bad_period_is_refused_with_the_form(self):
        self.client.force_login(self.people["assessor"])
        response = self.client.post(self.url, {"since": "2026-10-02", "until": "2026-09-01"})
        self.assertContains(response, "must start on or before", status_code=422)
        htmx = self.client.post(
            self.url, {"since": "2026-10-02", "until": "2026-09-01"}, headers={"HX-Request": "true"}
        )
        self.assertEqual(htmx.status_code, 422)
        self.assertEqual(htmx["HX-Retarget"], "#board-form")
        self.assertFalse(BoardPackJob.objects.exists())

    def test_an_unfinished_pack_cannot_be_downloaded_yet(self):
        job = BoardPackJob.objects.create(requested_by=self.people["assessor"], params={})
        self.client.force_login(self.people["viewer"])
        response = self.client.get(reverse("assessments:board_pack_download", args=[job.pk]))
        self.assertRedirects(response, reverse("assessments:board_pack_status", args=[job.pk]))
        page = self.client.get(reverse("assessments:board_pack_status", args=[job.pk]))
        self.assertContains(page, "Waiting for a worker")
        self.assertContains(page, "<progress")

    def test_a_failure_is_reported_on_the_job_and_records_nothing(self):
        job = BoardPackJob.objects.create(requested_by=self.people["assessor"], params={})
        with (
            mock.patch.object(board, "render_board_pack", side_effect=RuntimeError("boom")),
            self.assertLogs("assessments.actions", "ERROR"),
        ):
            actions.run_board_pack_job(job.pk)
        job.refresh_from_db()
        self.assertEqual(job.state, "failed")
        self.assertIn("could not be made (RuntimeError)", job.message)
        self.assertFalse(ReportRecord.objects.exists())

    def test_a_job_runs_once(self):
        job = BoardPackJob.objects.create(requested_by=self.people["assessor"], params={})
        actions.run_board_pack_job(job.pk)
        actions.run_board_pack_job(job.pk)
        self.assertEqual(ReportRecord.objects.count(), 1)

    def test_progress_advances_through_the_pages(self):
        seen = []
        board.render_board_pack(
            BoardFilters.from_params({}),
            document_id="AIA-BP-20261102-0000TEST",
            generated_at=NOW,
            generated_by="test",
            progress=lambda percent, message: seen.append((percent, message)),
        )
        percents = [p for p, _ in seen]
        self.assertEqual(percents, sorted(percents))
        self.assertTrue(any(m.startswith("Laying out page") for _, m in seen))
        self.assertEqual(seen[-1], (95, "Recording the pack"))


class BoardCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        people = h.people()
        f.approved(f.agent(slug="one"), people["assessor"], people["reviewer"])

    def test_it_writes_and_records_a_filtered_pack(self):
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "pack.pdf"
            call_command(
                "report",
                "board",
                "--team",
                "platform",
                "--tier",
                "1",
                "--output",
                str(target),
                "--user",
                "rex",
                stdout=tempfile.TemporaryFile(mode="w+"),  # noqa: SIM115
            )
            data = target.read_bytes()
        record = ReportRecord.objects.get(kind="board")
        self.assertEqual(record.created_by.username, "rex")
        self.assertIn("by Rex Reviewer", h.flat(h.pdf_text(data)))
        self.assertEqual(record.file_sha256, hashlib.sha256(data).hexdigest())
        self.assertEqual((record.params["team"], record.params["tier"]), ("platform", 1))
        self.assertIn("Platform, tier 1", h.pdf_text(data))

    def test_bad_filters_are_command_errors(self):
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "pack.pdf"
            with self.assertRaisesMessage(CommandError, "There is no team “ghosts”"):
                call_command(
                    "report", "board", "--team", "ghosts", "--output", str(target), "--user", "rex"
                )
            with self.assertRaisesMessage(
                CommandError, "No active user or service account “nobody”"
            ):
                call_command("report", "board", "--output", str(target), "--user", "nobody")
            with self.assertRaisesMessage(CommandError, "must start on or before"):
                call_command(
                    "report",
                    "board",
                    "--since",
                    "2026-10-01",
                    "--until",
                    "2026-09-01",
                    "--output",
                    str(target),
                    "--user",
                    "rex",
                )
            self.assertFalse(target.exists())
        self.assertFalse(ReportRecord.objects.exists())


class ReportsPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()

    def add_history(self, n):
        for i in range(n):
            agent = f.agent(slug=f"page-{self.counter}-{i}")
            ReportRecord.objects.create(
                document_id=f"AIA-AR-20261102-{self.counter:04d}{i:04d}",
                kind="assessment",
                assessment=f.answered(agent, self.people["assessor"]),
                content_sha256="0" * 64,
                file_sha256=f"{self.counter:032d}{i:032d}",
                params={"status": "draft", "generated_by": "Ada Assessor"},
                created_by=self.people["assessor"],
            )
            BoardPackJob.objects.create(
                requested_by=self.people["reviewer"], params={"team": "platform", "tier": 2}
            )
        self.counter += 1

    def test_recent_packs_and_reports_are_listed_in_a_constant_number_of_queries(self):
        self.counter = 1
        self.client.force_login(self.people["assessor"])
        url = reverse("assessments:reports")
        self.add_history(2)
        self.client.get(url)  # warm the session and caches
        with CaptureQueriesContext(connection) as few:
            self.client.get(url)
        self.add_history(6)
        with CaptureQueriesContext(connection) as many:
            page = self.client.get(url)
        self.assertEqual(len(many), len(few))
        self.assertContains(page, "Platform, tier 2 · Elevated")
        self.assertContains(page, "AIA-AR-20261102-00020005")
        self.assertContains(page, "Make the board pack")

    def test_the_page_asks_for_commentary_chair_and_attendees_and_the_pack_gets_them(self):
        self.client.force_login(self.people["reviewer"])
        page = self.client.get(reverse("assessments:reports")).content.decode()
        for name in ("commentary", "chair", "attendees", "decision", "meeting_date"):
            self.assertIn(f'name="{name}"', page)
        self.client.post(
            reverse("assessments:board_pack_request"),
            {
                "commentary": "Gaps fell after the vault roll-out.",
                "chair": "Chair Person",
                "attendees": "A One, B Two",
                "top": "10",
            },
        )
        job = BoardPackJob.objects.latest("pk")
        self.assertEqual(job.params["commentary"], "Gaps fell after the vault roll-out.")
        self.assertEqual(
            (job.params["chair"], job.params["attendees"]), ("Chair Person", "A One, B Two")
        )

    def test_a_pack_nobody_picks_up_says_to_check_the_worker(self):
        job = BoardPackJob.objects.create(requested_by=self.people["assessor"], params={})
        self.client.force_login(self.people["viewer"])
        url = reverse("assessments:board_pack_status", args=[job.pk])
        self.assertNotContains(self.client.get(url), "No worker has picked this up yet")
        BoardPackJob.objects.filter(pk=job.pk).update(
            created_at=job.created_at - dt.timedelta(minutes=3)
        )
        self.assertContains(self.client.get(url), "No worker has picked this up yet")


class BoardPackStructureTests(TestCase):
    """Executive summary, top risks, decisions, trends and sign-off, checked against the
    portfolio's own definitions (assessments/portfolio/ and the review queries)."""

    @classmethod
    def setUpTestData(cls):
        Portfolio.build(cls)
        a = cls.people["assessor"]
        with time_machine.travel(days_ago(2), tick=False):
            cls.waiting = actions.submit_assessment(
                a, f.answered(f.agent(slug="waiting", name="Waiting for review"), a)
            )

    def setUp(self):
        self.enterContext(time_machine.travel(NOW, tick=False))

    def content(self, **params):
        return board_content(BoardFilters.from_params(params), today=TODAY)

    def test_headline_figures_match_the_portfolio_definitions(self):
        c = self.content()
        headline = {f["key"]: f["value"] for f in c["status"]}
        mix = portfolio.class_tier()
        self.assertEqual(headline["undecided"], mix.unassessed)
        self.assertEqual(headline["never_assessed"], portfolio.assessment_states()["never_started"])
        self.assertEqual(headline["critical"], sum(mix.count(k, 4) for k in portfolio.CLASSES))
        self.assertEqual(
            headline["overdue"],
            Review.objects.overdue(TODAY).filter(agent__status="active").count(),
        )
        gaps = portfolio.open_gaps(TODAY)
        self.assertEqual(headline["agents_with_open_gaps"], len(gaps.agents))
        self.assertEqual(c["headline"]["open_gaps"], gaps.total)
        self.assertEqual(
            headline["expiring"], len(portfolio.expiring_exceptions(TODAY, DUE_WITHIN_DAYS))
        )
        statuses = {f["key"]: f["status"] for f in c["status"]}
        self.assertEqual(statuses["overdue"], "red")  # 1 of 4 assessed is more than 5%
        self.assertIn(statuses["reclassified_up"], ("amber", "green"))
        self.assertTrue(all(f["status"] in ("red", "amber", "green") for f in c["status"]))

    def test_each_headline_shows_its_change_since_the_recorded_baseline_of_the_same_scope(self):
        board_meeting = {"meeting_date": "2026-11-01"}
        first = actions.issue_board_pack(None, board_meeting, actor_label="cron")
        actions.issue_board_pack(None, {}, actor_label="cron")  # a draft run: not recorded
        actions.issue_board_pack(  # another scope
            None, {"team": "research", **board_meeting}, actor_label="cron"
        )
        f.agent(slug="newcomer", name="Newcomer")
        c = self.content()
        self.assertEqual(c["previous"]["document_id"], first.record.document_id)
        self.assertEqual(c["previous"]["recorded"], "issued to a board")
        self.assertEqual(c["changes"]["never_assessed"], "+1")
        self.assertEqual(c["changes"]["overdue"], "±0")
        self.assertEqual(
            first.record.params["figures"]["never_assessed"], c["headline"]["never_assessed"] - 1
        )
        # A later pack issued to a board does not replace a signed-off one as the baseline.
        later = actions.issue_board_pack(None, board_meeting, actor_label="cron")
        self.assertEqual(self.content()["previous"]["document_id"], later.record.document_id)
        actions.record_board_signoff(
            self.people["reviewer"],
            first.record,
            chair="Chair Person",
            attendees="A One, B Two",
            resolution="Noted; owners to close the gaps.",
            meeting_date=dt.date(2026, 11, 1),
        )
        c = self.content()
        self.assertEqual(c["previous"]["document_id"], first.record.document_id)
        self.assertEqual(c["previous"]["recorded"], "signed off")
        self.assertTrue(AuditEvent.objects.filter(verb="report.signoff").exists())
        with self.assertRaisesMessage(actions.ActionError, "already signed off"):
            actions.record_board_signoff(
                self.people["reviewer"],
                first.record,
                chair="X",
                attendees="",
                resolution="Y",
                meeting_date=dt.date(2026, 11, 1),
            )

    def test_the_boards_appetite_sets_each_band_owner_and_target(self):
        from assessments.models import AppetiteBand

        c = self.content()
        overdue = next(f_ for f_ in c["status"] if f_["key"] == "overdue")
        self.assertEqual(overdue["status"], "red")  # default: red above 5% of assessed
        self.assertIn("Green ≤ 0", overdue["rule"])
        self.assertIn("red above 5% of assessed", overdue["rule"])
        baseline = actions.issue_board_pack(None, {"meeting_date": "2026-11-01"}, actor_label="c")
        self.assertEqual(baseline.record.params["status"]["overdue"], "red")
        AppetiteBand.objects.create(
            figure="overdue",
            unit="count",
            green_up_to=1,
            red_above=5,
            owner="Cass CISO",
            target="0 by 31 Mar 2027",
        )
        c = self.content()
        overdue = next(f_ for f_ in c["status"] if f_["key"] == "overdue")
        self.assertEqual(overdue["status"], "green")
        self.assertEqual(overdue["rule"], "Green ≤ 1; amber up to 5; red above 5")
        self.assertEqual((overdue["owner"], overdue["target"]), ("Cass CISO", "0 by 31 Mar 2027"))
        self.assertEqual(
            c["moved_band"],
            [{"key": "overdue", "label": "Reviews overdue", "from": "red", "to": "green"}],
        )
        self.assertTrue(any(r["figure"] == "moved_band" for r in c["resolutions"]))

    def test_administrators_set_the_appetite_in_the_admin_and_it_is_audited(self):
        from assessments.models import AppetiteBand

        admin_user = f.administrator("boss")
        self.client.force_login(admin_user)
        response = self.client.post(
            reverse("admin:assessments_appetiteband_add"),
            {
                "figure": "critical",
                "unit": "count",
                "green_up_to": "0",
                "red_above": "3",
                "owner": "Cass CISO",
                "target": "None by June",
            },
        )
        self.assertEqual(response.status_code, 302, getattr(response, "context", None))
        self.assertEqual(AppetiteBand.objects.get().red_above, 3)
        self.assertTrue(AuditEvent.objects.filter(verb="appetiteband.create").exists())
        bad = self.client.post(
            reverse("admin:assessments_appetiteband_add"),
            {"figure": "overdue", "unit": "count", "green_up_to": "5", "red_above": "2"},
        )
        self.assertContains(bad, "Red must begin at or above where green ends.")

    def test_resolutions_and_the_baseline_packs_resolutions_with_their_status(self):
        baseline = actions.issue_board_pack(None, {"meeting_date": "2026-11-01"}, actor_label="c")
        asked = baseline.record.params["resolutions"]
        self.assertTrue(asked)
        for r in asked:
            self.assertIn(r["kind"], ("For decision", "For noting"))
            self.assertTrue(r["proposed"] and r["recommendation"] and r["items"])
        c = self.content(commentary="Gaps fell after the vault roll-out.")
        self.assertEqual(
            [r["number"] for r in c["previous_resolutions"]], [r["number"] for r in asked]
        )
        for r in c["previous_resolutions"]:
            self.assertIn(r["status"], ("Done", "Improved", "Open"))
        issued = actions.issue_board_pack(
            None,
            {
                "commentary": "Gaps fell after the vault roll-out.",
                "chair": "Chair Person",
                "attendees": "A One, B Two",
                "decision": "Resolved to ratify.",
            },
            actor_label="c",
        )
        text = h.flat(h.pdf_text(issued.pdf))
        self.assertIn("Management's commentary Gaps fell after the vault roll-out.", text)
        self.assertIn("The baseline pack's resolutions", text)
        self.assertIn("Chair Person", text)
        self.assertIn("Glossary", text)

    def test_top_risks_are_ranked_with_owner_action_and_due_date(self):
        c = self.content()
        risks = c["top_risks"]
        self.assertLessEqual(len(risks), board.TOP_RISKS)
        self.assertEqual(risks, sorted(risks, key=board.risk_key))
        for r in risks:
            self.assertTrue(r["owner"])
            self.assertTrue(r["action"])
        planner = next(r for r in risks if r["slug"] == "planner")
        self.assertEqual(planner["due_on"], Agent.objects.get(slug="planner").next_review_on)

    def test_decisions_requested_list_submissions_expiring_exceptions_and_changes_to_ratify(self):
        c = self.content()
        decisions_ = c["decisions"]
        self.assertEqual([a["slug"] for a in decisions_["awaiting"]], ["waiting"])
        self.assertEqual(decisions_["awaiting_total"], 1)
        self.assertEqual(decisions_["expiring"], c["figures"]["expiring"])
        self.assertEqual([r["slug"] for r in decisions_["ratify"]], ["grower"])

    def test_trends_are_one_point_per_month_oldest_first_whatever_was_made_today(self):
        for _ in range(4):  # packs made on one day, none recorded with a board
            actions.issue_board_pack(None, {"meeting_date": TODAY.isoformat()}, actor_label="cron")
        c = self.content()
        dates = c["trend"]["dates"]
        self.assertEqual(c["trend"]["period"], "month")
        self.assertEqual(len(dates), 6)
        self.assertEqual(dates, sorted(dates))
        self.assertEqual(len({(d.year, d.month) for d in dates}), 6)  # one per month
        self.assertEqual(dates[-1], TODAY)
        for day in dates[:-1]:
            self.assertEqual((day + dt.timedelta(days=1)).day, 1)  # a month's last day
        self.assertEqual(c["trend"]["rebuilt"], 5)
        self.assertEqual(len(c["trend"]["tiers"]), 6)

    def test_a_months_point_is_the_pack_recorded_with_a_board_in_it(self):
        c = self.content()
        self.assertEqual((c["trend"]["points"], c["trend"]["rebuilt"]), (6, 5))
        rebuilt = [t for t in c["trend"]["tiers"] if t["rebuilt"]]
        scope = Agent.objects.filter(status="active")
        for t in rebuilt:  # each rebuilt point counts what the records say held then
            end = dt.datetime.combine(t["on"], dt.time.max, tzinfo=dt.UTC)
            latest = Assessment.objects.latest_approved(end).filter(agent__in=scope)
            self.assertEqual(
                t["tiers"], [latest.filter(tier=n).count() for n in (4, 3, 2, 1)], t["on"]
            )
        with time_machine.travel(NOW - dt.timedelta(days=40), tick=False):
            recorded = actions.issue_board_pack(
                None, {"meeting_date": "2026-09-25"}, actor_label="cron"
            )
        c = self.content()
        self.assertEqual((c["trend"]["points"], c["trend"]["rebuilt"]), (6, 4))
        self.assertIn(timezone.localdate(recorded.record.created_at), c["trend"]["dates"])
        overdue = next(s for s in c["trend"]["series"] if s["label"] == "Reviews overdue")
        self.assertEqual(sum(1 for p in overdue["points"] if p["rebuilt"]), 4)

    def test_a_bounded_list_says_how_many_are_shown_and_where_the_rest_are(self):
        from unittest import mock

        with mock.patch.object(board.content, "TOP_RISKS", 1):
            issued = actions.issue_board_pack(None, {"top": 1}, actor_label="c")
        content = json.loads(h.attachment(issued.pdf))
        total = content["attention_total"]
        self.assertGreater(total, 1)
        text = h.flat(h.pdf_text(issued.pdf))
        sentence = (
            f"1 of {total} shown; all {total} in the register attached to this PDF "
            f"(agent-register.csv), column “{board.REGISTER_HEADERS['state']}”."
        )
        self.assertEqual(text.count(sentence), 2)  # top risks and the appendix
        self.assertIn(board.REGISTER_HEADERS["state"], board.REGISTER_HEADER)
        # Every page's footer carries the document id, the first page's included.
        for number, page in enumerate(h.pages_text(issued.pdf), start=1):
            self.assertIn(issued.record.document_id, page, number)

    def test_a_rebuilt_point_sees_the_past_not_today(self):
        scope = Agent.objects.filter(status="active")
        long_ago = TODAY - dt.timedelta(days=3650)
        self.assertEqual(
            portfolio.figures_as_of(long_ago, scope),
            {
                "tiers": {"4": 0, "3": 0, "2": 0, "1": 0},
                "never_assessed": 0,
                "undecided": 0,
                "overdue": 0,
                "agents_with_open_gaps": 0,
                "critical": 0,
                "expiring": 0,
                "reclassified_up": 0,
                "orphaned": 0,
                "inactive": 0,
                "exceptions": 0,
                "open_gaps": 0,
            },
        )
        today_figures = portfolio.figures_as_of(TODAY, scope)
        self.assertEqual(today_figures["open_gaps"], portfolio.open_gaps(TODAY).total)
        self.assertEqual(
            today_figures["exceptions"],
            GapException.objects.in_force(TODAY).filter(agent__in=scope).count(),
        )

    def test_every_headline_figure_has_its_trend_oldest_first_one_per_period(self):
        c = self.content()
        series = {s["key"]: s for s in c["trend"]["series"]}
        scope = Agent.objects.filter(status="active")
        rebuilt: dict[dt.date, dict] = {}
        self.assertEqual(len(c["status"]), 9)
        for figure in c["status"]:
            with self.subTest(figure=figure["key"]):
                self.assertTrue(series[figure["key"]]["headline"])
                points = series[figure["key"]]["points"]
                days = [p["on"] for p in points]
                self.assertEqual(days, c["trend"]["dates"])
                self.assertEqual(len(days), 6)  # at least four where history allows
                self.assertEqual(days, sorted(days))  # oldest first
                self.assertEqual(len({(d.year, d.month) for d in days}), 6)  # one per month
                self.assertEqual((days[-1], points[-1]["value"]), (TODAY, figure["value"]))
                self.assertFalse(points[-1]["rebuilt"])
                for p in points[:-1]:  # no pack was recorded with a board: all rebuilt
                    then = rebuilt.setdefault(p["on"], portfolio.figures_as_of(p["on"], scope))
                    self.assertEqual((p["value"], p["rebuilt"]), (then[figure["key"]], True))
        # The rebuilt points see the past: the gaps grew and the planner moved up a tier.
        gaps = [p["value"] for p in series["agents_with_open_gaps"]["points"]]
        self.assertEqual(gaps, [0, 2, 2, 2, 3, 3])
        self.assertEqual([p["value"] for p in series["reclassified_up"]["points"]][1:], [1] * 5)

    def test_a_figure_an_older_pack_did_not_state_is_rebuilt_and_marked(self):
        on = NOW - dt.timedelta(days=40)
        old = ReportRecord.objects.create(
            document_id="AIA-BP-20260923-OLDPACK1",
            kind=ReportRecord.Kind.BOARD,
            content_sha256="0" * 64,
            file_sha256="2" * 64,
            params={"meeting_date": "2026-09-25", "figures": {"overdue": 7, "critical": 0}},
        )
        ReportRecord.objects.filter(pk=old.pk).update(created_at=on)
        c = self.content()
        day = timezone.localdate(on)
        at = c["trend"]["dates"].index(day)
        series = {s["key"]: s for s in c["trend"]["series"]}
        self.assertEqual(series["overdue"]["points"][at], {"on": day, "value": 7, "rebuilt": False})
        scope = Agent.objects.filter(status="active")
        then = portfolio.figures_as_of(day, scope)
        for key in ("orphaned", "agents_with_open_gaps", "never_assessed"):
            self.assertEqual(
                series[key]["points"][at], {"on": day, "value": then[key], "rebuilt": True}
            )

    def test_the_attached_content_and_the_pdf_carry_each_headline_figures_trend(self):
        issued = actions.issue_board_pack(None, {}, actor_label="cron")
        content = json.loads(h.attachment(issued.pdf))
        series = {s["key"]: s for s in content["trend"]["series"]}
        for figure in content["status"]:
            with self.subTest(figure=figure["key"]):
                points = series[figure["key"]]["points"]
                days = [p["on"] for p in points]
                self.assertEqual(days, sorted(days))
                self.assertEqual(len(days), 6)
                self.assertEqual(points[-1]["value"], figure["value"])
        text = h.flat(h.pdf_text(issued.pdf))
        self.assertIn("Agents with an open gap 0 2 2 2 3 3", text)
        self.assertIn("Moved to a higher tier in the period 0 1 1 1 1 1", text)
        self.assertIn("Inactive agents 0 0 0 0 0 0", text)

    def test_the_pack_shows_every_new_section_and_signs_off_on_the_last_page(self):
        issued = actions.issue_board_pack(
            None,
            {
                "prepared_by": "Ada Assessor",
                "reviewed_by": "Board chair",
                "meeting_date": "2026-11-20",
                "decision": "Accepted; owners to close gaps by January.",
            },
            actor_label="cron",
        )
        pages = h.pages_text(issued.pdf)
        text = h.flat(" ".join(pages))
        for heading in ["Executive summary", "Top risks and actions", "Decisions requested"]:
            self.assertIn(heading, text)
        self.assertIn("Waiting for review", text)
        self.assertIn("class changed", text)  # grower became an agent identity
        last = h.flat(pages[-1])
        for field in ["Ada Assessor", "Board chair", "20 November 2026", "close gaps by January"]:
            self.assertIn(field, last)
        # Tiers run most critical first in every table, never 1 to 4.
        self.assertIn("TIER 4 TIER 3 TIER 2 TIER 1", text.upper())
        self.assertNotIn("TIER 1 TIER 2 TIER 3 TIER 4", text.upper())

    def test_an_empty_filter_prints_a_short_nothing_matches_pack(self):
        issued = actions.issue_board_pack(
            None, {"team": "research", "classification": "agent_identity"}, actor_label="cron"
        )
        text = h.pdf_text(issued.pdf)
        self.assertIn("Nothing matches", text)
        self.assertNotIn("Executive summary", text)
        self.assertLessEqual(issued.record.pages, 2)


class RebuiltFiguresTests(TestCase):
    """``portfolio.figures_as_of``: each headline figure as the records say it stood at
    the end of a past day (the trend's points with no pack recorded in their period)."""

    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()

    def setUp(self):
        self.enterContext(time_machine.travel(NOW, tick=False))

    def at(self, days: int, agent: Agent) -> dict:
        return portfolio.figures_as_of(
            TODAY - dt.timedelta(days=days), Agent.objects.filter(pk=agent.pk)
        )

    def test_never_assessed_and_no_approved_assessment_yet_as_they_stood(self):
        a, r = self.people["assessor"], self.people["reviewer"]
        with time_machine.travel(days_ago(50), tick=False):
            agent = f.agent(slug="later", name="Registered later")
        with time_machine.travel(days_ago(40), tick=False):
            submitted = actions.submit_assessment(a, f.answered(agent, a))
        with time_machine.travel(days_ago(20), tick=False):
            actions.approve_assessment(r, submitted)
        figures = [
            (self.at(n, agent)["never_assessed"], self.at(n, agent)["undecided"])
            for n in (60, 45, 30, 10)
        ]
        # Not registered yet; registered, nothing started; started, not approved; approved.
        self.assertEqual(figures, [(0, 0), (1, 1), (0, 1), (0, 0)])

    def test_a_past_day_is_the_local_day_the_pages_show(self):
        # In New York, 22:00 on a day is already the next day in UTC: what happened
        # then counts for that day, as the pages and the pack's period count it.
        a, r = self.people["assessor"], self.people["reviewer"]
        zone = ZoneInfo("America/New_York")
        day = TODAY - dt.timedelta(days=20)
        late = dt.datetime.combine(day, dt.time(22, 0), tzinfo=zone)
        with time_machine.travel(days_ago(50), tick=False):
            agent = f.agent(slug="late-evening", name="Decided late")
        with time_machine.travel(days_ago(40), tick=False):
            submitted = actions.submit_assessment(a, f.answered(agent, a))
        with time_machine.travel(late, tick=False):
            approved = actions.approve_assessment(r, submitted)
            GapException.objects.create(
                agent=agent,
                assessment=approved,
                subject="AIC-01",
                reason="Accepted.",
                expires_on=TODAY + dt.timedelta(days=90),
                accepted_by=r,
            )
        with timezone.override(zone):
            before, that_day = (
                portfolio.figures_as_of(d, Agent.objects.filter(pk=agent.pk))
                for d in (day - dt.timedelta(days=1), day)
            )
        self.assertEqual((before["undecided"], before["exceptions"]), (1, 0))
        self.assertEqual((that_day["undecided"], that_day["exceptions"]), (0, 1))

    def test_an_agent_loaded_with_its_history_counts_from_its_first_assessment(self):
        a, r = self.people["assessor"], self.people["reviewer"]
        with time_machine.travel(days_ago(40), tick=False):
            agent = f.agent(slug="imported", name="Loaded in bulk")
            submitted = actions.submit_assessment(a, f.answered(agent, a))
        with time_machine.travel(days_ago(20), tick=False):
            actions.approve_assessment(r, submitted)
        Agent.objects.filter(pk=agent.pk).update(created_at=NOW)  # its record is new
        figures = [
            (self.at(n, agent)["never_assessed"], self.at(n, agent)["undecided"])
            for n in (50, 30, 10)
        ]
        self.assertEqual(figures, [(0, 0), (0, 1), (0, 0)])

    def test_orphaned_as_it_stood_until_someone_took_it_on(self):
        leaver = f.user("leaver", "viewer")
        with time_machine.travel(days_ago(300), tick=False):
            agent = f.agent(leaver, slug="left-behind")
        with time_machine.travel(days_ago(60), tick=False):
            actions.person_left(leaver, how="left the company")
        self.assertEqual([self.at(n, agent)["orphaned"] for n in (70, 40, 10)], [0, 1, 1])
        with time_machine.travel(days_ago(20), tick=False):
            actions.take_on_agent(self.people["assessor"], Agent.objects.get(pk=agent.pk))
        self.assertEqual([self.at(n, agent)["orphaned"] for n in (70, 40, 10)], [0, 1, 0])

    def test_inactive_as_it_stood_from_the_activity_recorded(self):
        a = self.people["assessor"]
        with time_machine.travel(days_ago(300), tick=False):
            agent = f.agent(slug="quiet")
        with time_machine.travel(days_ago(290), tick=False):
            actions.record_activity(a, agent, (NOW - dt.timedelta(days=290)).date(), source="hand")
        with time_machine.travel(days_ago(30), tick=False):
            agent.refresh_from_db()
            actions.record_activity(a, agent, (NOW - dt.timedelta(days=30)).date(), source="hand")
        # Never seen by then; seen recently; idle past the cutoff; seen again lately.
        self.assertEqual([self.at(n, agent)["inactive"] for n in (295, 250, 100, 10)], [0, 0, 1, 0])
        self.assertEqual(
            self.at(0, agent)["inactive"],
            portfolio.accountability(TODAY, Agent.objects.filter(pk=agent.pk)).inactive,
        )
