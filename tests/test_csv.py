"""CSV exports: what each row says, formula neutralisation, streaming, constant queries."""

from __future__ import annotations

import csv
import io

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import actions
from assessments.models import GapException
from assessments.reports import exports
from assessments.reports.exports import safe_cell
from tests import factories as f
from tests import report_helpers as h

INVENTORY = reverse("assessments:export_inventory")
ASSESSMENTS = reverse("assessments:export_assessments")


# The headers are words; rows are read by column key.
KEYS = {label: key for key, label in exports.INVENTORY_COLUMNS + exports.ASSESSMENT_COLUMNS}


def read_csv(response) -> tuple[bytes, list[dict[str, str]]]:
    raw = b"".join(response.streaming_content)
    text = raw.decode("utf-8-sig")
    rows = csv.DictReader(io.StringIO(text, newline=""))
    return raw, [{KEYS[label]: value for label, value in row.items()} for row in rows]


class SafeCellTests(TestCase):
    def test_cells_a_spreadsheet_would_run_are_prefixed(self):
        for value in ["=1+1", "+33 1 23", "-2", "@SUM(A1)", "\tTAB", "\rCR", '=HYPERLINK("x")']:
            with self.subTest(value=value):
                self.assertEqual(safe_cell(value), "'" + value)

    def test_other_values_are_written_as_they_are(self):
        self.assertEqual(safe_cell("Invoice bot = fast"), "Invoice bot = fast")
        self.assertEqual(safe_cell(3), 3)
        self.assertEqual(safe_cell(None), "")
        self.assertEqual(safe_cell(True), "yes")
        self.assertEqual(safe_cell("Zoë’s agent"), "Zoë’s agent")


class InventoryCsvTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        people = h.people()
        cls.viewer = people["viewer"]
        cls.planner = h.approved_planner(people["assessor"], people["reviewer"])
        cls.evil = f.agent(
            slug="evil",
            name='=HYPERLINK("http://attacker.example","click")',
            purpose="+1 call me; -2 and @home",
            platform="\tsneaky",
            systems=[("@crm", "read")],
        )
        cls.zoe = f.agent(slug="zoe", name="Zoë’s naïve agent")

    def get(self, url=INVENTORY):
        self.client.force_login(self.viewer)
        return self.client.get(url)

    def test_it_streams_utf8_with_a_bom_as_an_attachment(self):
        response = self.get()
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.streaming)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertRegex(
            response["Content-Disposition"],
            r'attachment; filename="agent-inventory-\d{4}-\d\d-\d\d\.csv"',
        )
        raw, rows = read_csv(response)
        self.assertTrue(raw.startswith(b"\xef\xbb\xbf"))
        self.assertIn(b"\r\n", raw)
        self.assertEqual(len(rows), 3)
        self.assertIn("Zoë’s naïve agent", [r["name"] for r in rows])

    def test_one_row_per_agent_with_class_tier_flags_gaps_review_owner_team_systems(self):
        _, rows = read_csv(self.get())
        row = next(r for r in rows if r["slug"] == "planner")
        result = self.planner.result
        self.assertEqual(row["classification"], "agent_identity")
        self.assertEqual(row["tier"], str(result["tier"]))
        self.assertEqual(row["tier_name"], result["tier_name"])
        self.assertEqual(row["flags"], "; ".join(result["flags"]))
        gaps = [c["id"] for c in result["controls"] if c["status"] == "gap"]
        self.assertEqual(row["gaps"], "; ".join(gaps))
        self.assertEqual(row["next_review_on"], self.planner.next_review_on.isoformat())
        self.assertEqual(row["owner"], "owner")
        self.assertEqual(row["team"], "Platform")
        self.assertEqual(row["systems"], "kubernetes (write); pagerduty (write); wiki (read)")
        exception = GapException.objects.get(assessment=self.planner)
        self.assertEqual(row["exceptions"], f"audit_gap until {exception.expires_on.isoformat()}")
        self.assertEqual(row["approved_version"], "1")
        unassessed = next(r for r in rows if r["slug"] == "zoe")
        self.assertEqual((unassessed["classification"], unassessed["tier"]), ("", ""))

    def test_formulas_are_neutralised(self):
        _, rows = read_csv(self.get())
        row = next(r for r in rows if r["slug"] == "evil")
        self.assertEqual(row["name"], '\'=HYPERLINK("http://attacker.example","click")')
        self.assertEqual(row["purpose"], "'+1 call me; -2 and @home")
        self.assertEqual(row["platform"], "'\tsneaky")
        self.assertEqual(row["systems"], "'@crm (read)")
        for r in rows:
            for value in r.values():
                self.assertFalse(value.startswith(("=", "+", "-", "@", "\t", "\r")), value)

    def test_the_number_of_queries_does_not_grow_with_the_inventory(self):
        self.client.force_login(self.viewer)

        def count() -> int:
            with CaptureQueriesContext(connection) as queries:
                b"".join(self.client.get(INVENTORY).streaming_content)
            return len(queries)

        few = count()
        for n in range(12):
            f.agent(slug=f"more-{n}", systems=[("erp", "write"), ("crm", "read")])
        for n in range(3):
            f.approved(f.agent(slug=f"done-{n}"), self.planner.assessor, self.planner.reviewer)
        self.assertEqual(count(), few)

    def test_only_people_with_a_role_can_export(self):
        self.client.force_login(f.outsider())
        self.assertEqual(self.client.get(INVENTORY).status_code, 403)
        self.assertEqual(self.client.get(ASSESSMENTS).status_code, 403)


class AssessmentsCsvTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        people = h.people()
        cls.viewer = people["viewer"]
        cls.v1 = h.approved_planner(people["assessor"], people["reviewer"])
        cls.v2 = actions.start_assessment(people["assessor"], cls.v1.agent)
        agent = f.agent(slug="returned-one")
        submitted = actions.submit_assessment(
            people["assessor"], f.answered(agent, people["assessor"])
        )
        cls.returned = actions.return_assessment(
            people["reviewer"], submitted, comment="=cmd|'/C calc'!A0"
        )

    def rows(self):
        self.client.force_login(self.viewer)
        return read_csv(self.client.get(ASSESSMENTS))[1]

    def test_one_row_per_version(self):
        rows = self.rows()
        # By agent name ("Agent 1" before "Incident planner"), then version.
        self.assertEqual(
            [(r["agent_slug"], r["version"]) for r in rows],
            [("returned-one", "1"), ("planner", "1"), ("planner", "2")],
        )
        v1 = next(r for r in rows if r["agent_slug"] == "planner" and r["version"] == "1")
        self.assertEqual(v1["status"], "approved")
        self.assertEqual(v1["classification"], "agent_identity")
        self.assertEqual(v1["tier"], str(self.v1.tier))
        self.assertEqual(v1["review_interval_days"], str(self.v1.result["review_interval_days"]))
        self.assertEqual(v1["flags"], "; ".join(self.v1.result["flags"]))
        self.assertEqual(v1["reviewer"], "Rex Reviewer")
        self.assertEqual(v1["provisional"], "no")

    def test_versions_without_a_frozen_decision_leave_the_decision_empty(self):
        rows = self.rows()
        draft = next(r for r in rows if r["agent_slug"] == "planner" and r["version"] == "2")
        self.assertEqual(draft["status"], "draft")
        self.assertEqual((draft["classification"], draft["tier"], draft["flags"]), ("", "", ""))

    def test_a_reviewers_comment_cannot_become_a_formula(self):
        row = next(r for r in self.rows() if r["agent_slug"] == "returned-one")
        self.assertEqual(row["review_comment"], "'=cmd|'/C calc'!A0")
