"""OSCAL exports (issue 27): assessment results of one assessment and of a board pack's
scope, and a POA&M of the portfolio or a team, valid against NIST's published schemas
and fingerprinted like the PDF reports."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from assessments import actions, portfolio
from assessments.models import AuditEvent, ReportRecord
from assessments.oscal.build import oscal_control_id
from tests import factories as f
from tests import oscal_helpers as o
from tests import report_helpers as h
from tests.test_evidence_web import upload

NS = "urn:agent-identity-assessor:oscal"


def props(node: dict, name: str) -> list[str]:
    return [p["value"] for p in node.get("props", []) if p["name"] == name and p.get("ns") == NS]


def approve_with_control_exception(assessor, reviewer, agent, control: str, days: int = 60):
    draft = f.answered(agent, assessor, **h.PLANNER_ANSWERS)
    draft = actions.submit_assessment(assessor, draft)
    subjects = [flag for flag in draft.result["flags"] if flag == "audit_gap"] + [control]
    return actions.approve_assessment(
        reviewer,
        draft,
        exception_subjects=subjects,
        exception_reason="Accepted while the policy engine is rolled out.",
        exception_expires_on=timezone.localdate() + dt.timedelta(days=days),
    )


class SchemaValidatorTests(TestCase):
    def test_the_validator_rejects_what_nist_schema_forbids(self):
        people = h.people()
        issued = actions.issue_oscal_results(
            people["viewer"], h.approved_planner(people["assessor"], people["reviewer"])
        )
        document = json.loads(issued.pdf)
        self.assertEqual(o.errors(document), [])
        broken = copy.deepcopy(document)
        del broken["assessment-results"]["results"][0]["reviewed-controls"]
        broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = (
            "fine"
        )
        # A token with a space: the schema's pattern is written with Unicode classes.
        broken["assessment-results"]["results"][0]["findings"][1]["target"]["target-id"] = "aic 01"
        found = " ".join(o.errors(broken))
        self.assertIn("'reviewed-controls' is a required property", found)
        self.assertIn("'fine' is not one of", found)
        self.assertIn("'aic 01' does not match", found)


class AssessmentResultsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()
        cls.assessor, cls.reviewer = cls.people["assessor"], cls.people["reviewer"]
        cls.assessment = approve_with_control_exception(
            cls.assessor, cls.reviewer, f.agent(slug="planner", name="Incident planner"), "AIC-03"
        )
        cls.issued = actions.issue_oscal_results(cls.people["viewer"], cls.assessment)
        cls.document = json.loads(cls.issued.pdf)
        cls.ar = cls.document["assessment-results"]
        (cls.result,) = cls.ar["results"]

    def test_it_is_valid_against_nists_assessment_results_schema(self):
        self.assertEqual(o.errors(self.document), [])
        self.assertEqual(self.ar["metadata"]["oscal-version"], "1.2.1")

    def test_one_finding_per_required_control_with_its_state(self):
        controls = {c["id"]: c["status"] for c in self.assessment.result["controls"]}
        findings = {
            f_["target"]["target-id"]: f_["target"]["status"] for f_ in self.result["findings"]
        }
        self.assertEqual(set(findings), {c.lower() for c in controls})
        for control, status in controls.items():
            state = findings[control.lower()]
            expected = "satisfied" if status == "in_place" else "not-satisfied"
            self.assertEqual(state["state"], expected, control)
        self.assertEqual(findings["aic-01"], {"state": "satisfied", "reason": "pass"})
        self.assertEqual(controls["AIC-05"], "gap")
        self.assertEqual(findings["aic-05"], {"state": "not-satisfied", "reason": "fail"})

    def test_a_gap_under_an_exception_is_a_risk_accepted_until_its_end_date(self):
        expires = timezone.localdate() + dt.timedelta(days=60)
        finding = next(x for x in self.result["findings"] if x["target"]["target-id"] == "aic-03")
        self.assertEqual(finding["target"]["status"]["reason"], "other")
        self.assertIn(f"until {expires:%Y-%m-%d}", finding["target"]["status"]["remarks"])
        risks = {r["uuid"]: r for r in self.result["risks"]}
        (risk,) = [risks[x["risk-uuid"]] for x in finding["related-risks"]]
        self.assertEqual(risk["status"], "deviation-approved")
        self.assertTrue(risk["deadline"].startswith(expires.isoformat()))
        open_gap = next(x for x in self.result["findings"] if x["target"]["target-id"] == "aic-05")
        (open_risk,) = [risks[x["risk-uuid"]] for x in open_gap["related-risks"]]
        self.assertEqual(open_risk["status"], "open")

    def test_findings_name_the_800_53_controls_and_the_result_reviews_them(self):
        finding = next(x for x in self.result["findings"] if x["target"]["target-id"] == "aic-01")
        self.assertEqual(props(finding, "nist-sp-800-53"), ["ia-4", "ia-9", "ac-2"])
        (selection,) = self.result["reviewed-controls"]["control-selections"]
        reviewed = [c["control-id"] for c in selection["include-controls"]]
        self.assertIn("ia-4", reviewed)
        self.assertIn("ac-6.7", reviewed)
        self.assertEqual(len(reviewed), len(set(reviewed)))
        self.assertEqual(oscal_control_id("AC-6(10)"), "ac-6.10")

    def test_assessor_reviewer_and_owner_are_parties_and_the_catalogue_version_is_named(self):
        parties = {p["uuid"]: p["name"] for p in self.ar["metadata"]["parties"]}
        roles = {
            r["role-id"]: [parties[u] for u in r["party-uuids"]]
            for r in self.ar["metadata"]["responsible-parties"]
        }
        self.assertEqual(roles["assessor"], ["Ada Assessor"])
        self.assertEqual(roles["reviewer"], ["Rex Reviewer"])
        self.assertEqual(roles["asset-owner"], ["owner"])
        self.assertEqual(props(self.ar["metadata"], "catalogue-version"), ["2026.1"])
        self.assertEqual(props(self.result, "catalogue-version"), ["2026.1"])

    def test_observations_come_from_the_answers(self):
        observations = self.result["observations"]
        by_question = {props(x, "question")[0]: x for x in observations}
        self.assertIn("credential_model", by_question)
        obs = by_question["credential_model"]
        self.assertEqual(obs["methods"], ["EXAMINE"])
        self.assertTrue(obs["description"].startswith("Answer: "))
        self.assertTrue(obs["collected"])

    def test_it_carries_the_same_content_fingerprint_as_the_pdf_report(self):
        pdf = actions.issue_assessment_report(self.people["viewer"], self.assessment)
        self.assertEqual(props(self.ar["metadata"], "content-sha256"), [pdf.record.content_sha256])
        record = self.issued.record
        self.assertEqual(record.kind, ReportRecord.Kind.OSCAL_RESULTS)
        self.assertEqual(record.content_sha256, pdf.record.content_sha256)
        self.assertEqual(record.file_sha256, hashlib.sha256(self.issued.pdf).hexdigest())
        self.assertEqual(props(self.ar["metadata"], "document-id"), [record.document_id])
        self.assertTrue(record.document_id.startswith("AIA-OA-"))

    def test_an_approved_assessment_exports_the_same_file_every_time_and_it_is_audited(self):
        again = actions.issue_oscal_results(self.people["viewer"], self.assessment)
        self.assertEqual(again.pdf, self.issued.pdf)
        self.assertEqual(again.record.pk, self.issued.record.pk)
        event = AuditEvent.objects.get(verb="report.issue", changes__kind="oscal-results")
        self.assertEqual(event.changes["file_sha256"], self.issued.record.file_sha256)


class EvidenceObservationTests(TestCase):
    def test_accepted_evidence_is_a_test_observation_linking_the_files_sha256(self):
        assessor = f.assessor()
        agent = f.agent(slug="release-planner", systems=[("s3", "read")])
        draft = actions.start_assessment(assessor, agent)
        stored = upload(assessor, agent, assessment=draft).upload
        actions.accept_proposal(assessor, stored.proposals.get(key="alters_own_access"), draft)
        draft.refresh_from_db()
        issued = actions.issue_oscal_results(assessor, draft)
        document = json.loads(issued.pdf)
        self.assertEqual(o.errors(document), [])
        ar = document["assessment-results"]
        (result,) = ar["results"]
        obs = next(
            x for x in result["observations"] if props(x, "question") == ["alters_own_access"]
        )
        self.assertEqual(obs["methods"], ["TEST"])
        (file,) = stored.files.all()
        (evidence,) = obs["relevant-evidence"]
        self.assertEqual(props(evidence, "sha256"), [file.sha256])
        (resource,) = ar["back-matter"]["resources"]
        self.assertEqual(evidence["href"], f"#{resource['uuid']}")
        (rlink,) = resource["rlinks"]
        self.assertEqual(rlink["hashes"], [{"algorithm": "SHA-256", "value": file.sha256}])
        self.assertEqual(rlink["href"], stored.get_absolute_url())
        self.assertEqual(props(result, "assessment-status"), ["draft"])
        self.assertIsNone(issued.record.pdf)  # a draft's export is recorded, not kept


class BoardScopeResultsTests(TestCase):
    def test_one_result_per_agent_in_the_scope_and_valid(self):
        people = h.people()
        h.approved_planner(people["assessor"], people["reviewer"])
        other = f.team("Payments")
        f.approved(f.agent(slug="script", team=other), people["assessor"], people["reviewer"])
        issued = actions.issue_oscal_board_results(people["viewer"], {})
        document = json.loads(issued.pdf)
        self.assertEqual(o.errors(document), [])
        titles = [r["title"] for r in document["assessment-results"]["results"]]
        self.assertEqual(len(titles), 2)
        self.assertEqual(issued.record.kind, ReportRecord.Kind.OSCAL_BOARD)
        team_only = actions.issue_oscal_board_results(people["viewer"], {"team": other.slug})
        (result,) = json.loads(team_only.pdf)["assessment-results"]["results"]
        self.assertEqual(props(result, "agent-slug"), ["script"])

    def test_a_scope_without_approved_assessments_is_refused_in_words(self):
        with self.assertRaisesMessage(actions.NothingToExport, "has an approved assessment"):
            actions.issue_oscal_board_results(f.viewer(), {})
        self.assertFalse(ReportRecord.objects.exists())


class PoamTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()
        cls.assessor, cls.reviewer = cls.people["assessor"], cls.people["reviewer"]
        cls.platform = f.team("Platform")
        cls.payments = f.team("Payments")
        cls.planner = approve_with_control_exception(
            cls.assessor, cls.reviewer, f.agent(slug="planner", team=cls.platform), "AIC-03"
        )
        cls.other = h.approved_planner(
            cls.assessor, cls.reviewer, slug="pay-bot", name="Pay bot", team=cls.payments
        )
        cls.issued = actions.issue_oscal_poam(cls.people["viewer"])
        cls.document = json.loads(cls.issued.pdf)
        cls.poam = cls.document["plan-of-action-and-milestones"]

    def test_it_is_valid_against_nists_poam_schema(self):
        self.assertEqual(o.errors(self.document), [])
        self.assertEqual(self.issued.record.kind, ReportRecord.Kind.OSCAL_POAM)
        self.assertTrue(self.issued.record.document_id.startswith("AIA-OP-"))

    def test_every_gap_is_an_item_and_the_open_ones_are_the_portfolio_open_gaps(self):
        gaps = [
            (a.agent.slug, c["id"])
            for a in (self.planner, self.other)
            for c in a.result["controls"]
            if c["status"] == "gap"
        ]
        items = self.poam["poam-items"]
        self.assertEqual(
            sorted((props(i, "agent-slug")[0], props(i, "control")[0]) for i in items), sorted(gaps)
        )
        open_items = [i for i in items if not props(i, "exception-expires")]
        self.assertEqual(len(open_items), portfolio.open_gaps(timezone.localdate()).total)

    def test_items_carry_owner_due_date_and_the_accepting_exception(self):
        expires = timezone.localdate() + dt.timedelta(days=60)
        items = {
            (props(i, "agent-slug")[0], props(i, "control")[0]): i for i in self.poam["poam-items"]
        }
        risks = {r["uuid"]: r for r in self.poam["risks"]}
        accepted = items[("planner", "AIC-03")]
        self.assertEqual(props(accepted, "exception-expires"), [expires.isoformat()])
        self.assertEqual(props(accepted, "due-date"), [expires.isoformat()])
        self.assertEqual(props(accepted, "owner"), ["owner"])
        (risk,) = [risks[r["risk-uuid"]] for r in accepted["related-risks"]]
        self.assertEqual(risk["status"], "deviation-approved")
        self.assertIn(
            "Accepted while the policy engine", risk["risk-log"]["entries"][0]["description"]
        )
        open_item = items[("pay-bot", "AIC-05")]
        self.assertEqual(props(open_item, "due-date"), [self.other.next_review_on.isoformat()])
        (open_risk,) = [risks[r["risk-uuid"]] for r in open_item["related-risks"]]
        self.assertEqual(open_risk["status"], "open")
        owner = open_risk["remediations"][0]["origins"][0]["actors"][0]["actor-uuid"]
        parties = {p["uuid"]: p for p in self.poam["metadata"]["parties"]}
        self.assertEqual(parties[owner]["email-addresses"], ["owner@example.com"])

    def test_a_team_poam_holds_only_that_teams_agents(self):
        issued = actions.issue_oscal_poam(self.people["viewer"], team=self.payments)
        document = json.loads(issued.pdf)
        self.assertEqual(o.errors(document), [])
        slugs = {
            props(i, "agent-slug")[0]
            for i in document["plan-of-action-and-milestones"]["poam-items"]
        }
        self.assertEqual(slugs, {"pay-bot"})
        self.assertEqual(issued.record.params["team"], self.payments.slug)

    def test_nothing_to_plan_is_refused_in_words(self):
        empty = f.team("Empty")
        with self.assertRaisesMessage(actions.NothingToExport, "no gap"):
            actions.issue_oscal_poam(self.people["viewer"], team=empty)


class SurfaceTests(TestCase):
    """The download buttons, ``manage.py report oscal`` and the API give the same files,
    and ``verify_report`` knows them."""

    @classmethod
    def setUpTestData(cls):
        cls.people = h.people()
        cls.assessment = h.approved_planner(cls.people["assessor"], cls.people["reviewer"])

    def setUp(self):
        self.client.force_login(self.people["viewer"])

    def test_the_assessment_page_offers_oscal_beside_the_pdf_and_it_downloads(self):
        page = self.client.get(self.assessment.get_absolute_url())
        url = reverse("assessments:assessment_oscal", args=["planner", self.assessment.number])
        html = page.content.decode()
        self.assertIn(url, html)
        self.assertLess(
            html.index(reverse("assessments:assessment_report", args=["planner", 1])),
            html.index(url),
        )
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/json; charset=utf-8")
        self.assertIn("attachment;", response["Content-Disposition"])
        self.assertEqual(o.errors(json.loads(response.content)), [])
        self.assertEqual(self.client.get(url).content, response.content)

    def test_a_missing_assessment_is_a_404(self):
        url = reverse("assessments:assessment_oscal", args=["planner", 99])
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_the_reports_page_offers_the_poam_and_an_unknown_team_is_a_message(self):
        page = self.client.get(reverse("assessments:reports"))
        self.assertContains(page, reverse("assessments:oscal_poam"))
        self.assertContains(page, "Download POA&amp;M (OSCAL)")
        response = self.client.get(reverse("assessments:oscal_poam"), {"team": "nope"}, follow=True)
        self.assertContains(response, "There is no such team among those you can read.")
        self.assertFalse(ReportRecord.objects.filter(kind="oscal-poam").exists())
        response = self.client.get(reverse("assessments:oscal_poam"))
        self.assertEqual(response.status_code, 200)
        document = json.loads(response.content)
        self.assertEqual(o.errors(document), [])

    def test_a_finished_board_pack_offers_its_scopes_results(self):
        from assessments.models import BoardPackJob

        job = BoardPackJob.objects.create(
            requested_by=self.people["viewer"], state=BoardPackJob.State.DONE, pdf=b"%PDF-1.7 x"
        )
        url = reverse("assessments:board_pack_oscal", args=[job.pk])
        self.assertContains(
            self.client.get(reverse("assessments:board_pack_status", args=[job.pk])), url
        )
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        (result,) = json.loads(response.content)["assessment-results"]["results"]
        self.assertEqual(props(result, "agent-slug"), ["planner"])

    def test_the_command_writes_each_export_and_refuses_bad_input_in_words(self):
        import tempfile
        from io import StringIO
        from pathlib import Path

        from django.core.management import call_command
        from django.core.management.base import CommandError

        user = ["--user", self.people["viewer"].get_username()]  # who makes it is recorded
        with tempfile.TemporaryDirectory() as folder:
            for args in (["results", "planner"], ["board"], ["poam"]):
                target = Path(folder) / f"{args[0]}.json"
                out = StringIO()
                call_command("report", "oscal", *args, *user, "--output", str(target), stdout=out)
                self.assertIn("content fingerprint", out.getvalue())
                self.assertEqual(o.errors(json.loads(target.read_bytes())), [], args)
            dry = StringIO()
            call_command(
                "report",
                "oscal",
                "poam",
                *user,
                "--output",
                str(Path(folder) / "x.json"),
                "--dry-run",
                stdout=dry,
            )
            self.assertIn("Would write", dry.getvalue())
            self.assertFalse((Path(folder) / "x.json").exists())
            with self.assertRaisesMessage(CommandError, "There is no team “nope”."):
                call_command("report", "oscal", "poam", "--team", "nope", *user, "-o", str(target))
            with self.assertRaisesMessage(CommandError, "No agent “ghost”"):
                call_command("report", "oscal", "results", "ghost", *user, "-o", str(target))

    def test_the_api_gives_the_same_file_as_the_page(self):
        from tests.api_helpers import ApiClient, token_for

        api = ApiClient(self.client, token_for(self.people["viewer"]))
        page = self.client.get(
            reverse("assessments:assessment_oscal", args=["planner", self.assessment.number])
        )
        response = api.get(
            f"/agents/planner/assessments/{self.assessment.number}/oscal-results.json"
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, page.content)
        poam = api.get("/exports/oscal-poam.json")
        self.assertEqual(poam.status_code, 200)
        self.assertEqual(o.errors(json.loads(poam.content)), [])
        self.assertEqual(api.get("/exports/oscal-poam.json", team="nope").status_code, 404)

    def test_verify_report_knows_an_export_and_a_changed_copy(self):
        from assessments.reports.verify import CHANGED, MATCH, UNKNOWN, UNREADABLE, verify_bytes

        issued = actions.issue_oscal_results(self.people["viewer"], self.assessment)
        found = verify_bytes(issued.pdf)
        self.assertEqual(found.verdict, MATCH)
        self.assertIn("OSCAL assessment results of Incident planner", found.message)
        changed = issued.pdf.replace(b'"Answer: ', b'"Answer:  ', 1)
        found = verify_bytes(changed)
        self.assertEqual(found.verdict, CHANGED)
        self.assertIn(issued.record.document_id, found.message)
        self.assertIn(
            "content fingerprint it states is still the issued one", " ".join(found.details)
        )
        forged = json.loads(issued.pdf)
        for prop in forged["assessment-results"]["metadata"]["props"]:
            if prop["name"] == "document-id":
                prop["value"] = "AIA-OA-20200101-ABCDEFGH"
        self.assertEqual(verify_bytes(json.dumps(forged).encode()).verdict, UNKNOWN)
        self.assertEqual(verify_bytes(b'{"something": 1}').verdict, UNREADABLE)
        self.assertEqual(verify_bytes(b"hello").message, "The file is not a PDF.")

    def test_the_verify_command_reads_an_oscal_file(self):
        import tempfile
        from io import StringIO
        from pathlib import Path

        from django.core.management import call_command

        issued = actions.issue_oscal_poam(self.people["viewer"])
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "poam.json"
            target.write_bytes(issued.pdf)
            out = StringIO()
            call_command("verify_report", str(target), stdout=out)
        self.assertIn("OSCAL plan of action and milestones of all active agents", out.getvalue())
