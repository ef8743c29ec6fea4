"""Sponsors and successors through the API, the CSV import and export, manifests and
the board pack's register (issue 26, item 1)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone

from assessments import actions
from assessments.actions.ownership import successors
from assessments.models import Agent, AuditEvent, ServiceAccount
from assessments.reports import board
from tests import factories as f
from tests.api_helpers import ApiClient, token_for
from tests.test_import import LABEL, edit, export

DAY = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)


class People(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.owner = f.user("olga", "viewer", first_name="Olga", last_name="Owner")
        cls.sue = f.user("sue", "viewer", first_name="Sue", last_name="Sponsor")
        cls.sam = f.user("sam", "viewer", first_name="Sam", last_name="Second")
        cls.tess = f.user("tess", "viewer", first_name="Tess", last_name="Third")
        cls.unreachable = f.user("nomail", "viewer")
        cls.unreachable.email = ""
        cls.unreachable.save()
        cls.gone = f.user("gone", "viewer")
        cls.gone.is_active = False
        cls.gone.save()
        robot = f.user("robot", None)
        ServiceAccount.objects.create(user=robot, created_by=cls.assessor)
        cls.team = f.team("Platform")
        cls.agent = f.agent(cls.owner, team=cls.team, slug="alpha", name="Alpha")


class ApiTests(People):
    def setUp(self):
        self.api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))

    def test_an_agent_reads_with_its_sponsor_successors_and_single_owner_warning(self):
        body = self.api.get("/agents/alpha").json()
        self.assertEqual((body["sponsor"], body["successors"]), ("olga", []))
        self.assertTrue(body["single_owner"])
        listed = self.api.get("/agents").json()["results"][0]
        self.assertEqual(listed["sponsor"], "olga")

    def test_an_agent_is_created_with_a_sponsor_and_successors_in_order(self):
        response = self.api.post(
            "/agents",
            {
                "name": "Beta",
                "purpose": "p",
                "owner": "olga",
                "team": "platform",
                "sponsor": "sue@example.com",
                "successors": ["tess", "sam@example.com"],
            },
        )
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["sponsor"], body["successors"]), ("sue", ["tess", "sam"]))
        self.assertFalse(body["single_owner"])
        agent = Agent.objects.get(slug="beta")
        self.assertEqual(agent.sponsor, self.sue)
        self.assertEqual(successors(agent), [self.tess, self.sam])
        self.assertTrue(AuditEvent.objects.filter(verb="agent.ownership").exists())

    def test_a_patch_changes_the_sponsor_and_replaces_the_successors(self):
        version = self.api.get("/agents/alpha").json()["lock_version"]
        response = self.api.patch(
            "/agents/alpha", {"lock_version": version, "sponsor": "sue", "successors": ["sam"]}
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(
            (response.json()["sponsor"], response.json()["successors"]), ("sue", ["sam"])
        )
        version = response.json()["lock_version"]
        cleared = self.api.patch("/agents/alpha", {"lock_version": version, "successors": []})
        self.assertEqual((cleared.json()["sponsor"], cleared.json()["successors"]), ("sue", []))

    def test_a_bad_sponsor_or_successor_is_a_422_naming_it_and_changes_nothing(self):
        version = Agent.objects.get(pk=self.agent.pk).lock_version
        last = AuditEvent.objects.order_by("pk").last().pk
        for sponsor, words in [
            ("robot", "service account"),
            ("gone", "No active person"),
            ("nomail", "no e-mail address"),
            ("nobody", "No active person"),
        ]:
            with self.subTest(sponsor=sponsor):
                response = self.api.patch(
                    "/agents/alpha",
                    {"lock_version": version, "sponsor": sponsor, "platform": "Lambda"},
                )
                self.assertEqual(response.status_code, 422, response.content)
                self.assertEqual(response.json()["errors"][0]["location"], "body.sponsor")
                self.assertIn(words, response.json()["errors"][0]["message"])
        response = self.api.patch(
            "/agents/alpha", {"lock_version": version, "successors": ["sam", "robot"]}
        )
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["errors"][0]["location"], "body.successors")
        created = self.api.post(
            "/agents",
            {
                "name": "Gamma",
                "purpose": "p",
                "owner": "olga",
                "team": "platform",
                "sponsor": "robot",
            },
        )
        self.assertEqual(created.status_code, 422)
        self.assertFalse(Agent.objects.filter(slug="gamma").exists())
        agent = Agent.objects.get(pk=self.agent.pk)
        self.assertEqual((agent.lock_version, agent.platform), (version, "Kubernetes"))
        self.assertFalse(AuditEvent.objects.filter(pk__gt=last, verb__startswith="agent.").exists())

    def test_more_than_three_successors_are_refused(self):
        f.user("uma", "viewer")
        response = self.api.post(
            "/agents",
            {
                "name": "Delta",
                "purpose": "p",
                "owner": "olga",
                "team": "platform",
                "successors": ["sue", "sam", "tess", "uma"],
            },
        )
        self.assertEqual(response.status_code, 422)
        self.assertFalse(Agent.objects.filter(slug="delta").exists())

    def test_the_schema_documents_sponsor_and_successors(self):
        from assessments.api import api

        schema = api.get_openapi_schema()["components"]["schemas"]
        for name in ("AgentOut", "AgentIn", "AgentUpdate"):
            with self.subTest(schema=name):
                self.assertIn("sponsor", schema[name]["properties"])
                self.assertIn("successors", schema[name]["properties"])


class CsvTests(People):
    def setUp(self):
        self.client.force_login(self.assessor)

    def upload(self, text: str):
        return self.client.post(
            "/agents/import/", {"file": SimpleUploadedFile("a.csv", text.encode("utf-8-sig"))}
        )

    def rows(self) -> dict[str, dict[str, str]]:
        return {r[LABEL["slug"]]: r for r in csv.DictReader(io.StringIO(export(self.client)))}

    def test_the_export_carries_sponsor_and_successors(self):
        actions.set_ownership(
            self.assessor,
            self.agent,
            owner=self.owner,
            sponsor=self.sue,
            co_owners=[self.sam, self.tess],
            lock_version=Agent.objects.get(pk=self.agent.pk).lock_version,
        )
        row = self.rows()["alpha"]
        self.assertEqual(row[LABEL["sponsor"]], "Sue Sponsor")
        self.assertEqual(row[LABEL["sponsor_email"]], "sue@example.com")
        self.assertEqual(row[LABEL["successors"]], "sam@example.com; tess@example.com")
        # And the unchanged export imports as no change.
        plan = self.upload(export(self.client)).context["plan"]
        self.assertEqual([r.action for r in plan.rows], ["unchanged"])

    def test_an_edited_sponsor_and_successors_are_imported(self):
        text = edit(
            export(self.client),
            "alpha",
            sponsor="Sue Sponsor",
            sponsor_email="sue@example.com",
            successors="tess; sam@example.com",
        )
        preview = self.upload(text)
        plan = preview.context["plan"]
        self.assertTrue(plan.ok, [r.errors for r in plan.rows])
        self.assertEqual(plan.rows[0].action, "update")
        self.assertContains(preview, "sponsor: Olga Owner → Sue Sponsor")
        self.client.post("/agents/import/", {"apply": "1", "key": preview.context["key"]})
        agent = Agent.objects.get(pk=self.agent.pk)
        self.assertEqual(agent.sponsor, self.sue)
        self.assertEqual(successors(agent), [self.tess, self.sam])

    def test_a_bad_sponsor_is_a_row_error_and_nothing_changes(self):
        for cells, words in [
            ({"sponsor": "robot", "sponsor_email": ""}, "service account"),
            ({"sponsor": "nomail", "sponsor_email": ""}, "no e-mail address"),
            ({"successors": "nobody@example.com"}, "No active person"),
        ]:
            with self.subTest(cells=cells):
                plan = self.upload(edit(export(self.client), "alpha", **cells)).context["plan"]
                self.assertFalse(plan.ok)
                self.assertIn(words, " ".join(plan.rows[0].errors))
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).sponsor, self.owner)

    def test_an_older_export_without_the_columns_keeps_them(self):
        actions.set_ownership(
            self.assessor,
            self.agent,
            owner=self.owner,
            sponsor=self.sue,
            co_owners=[self.sam],
            lock_version=Agent.objects.get(pk=self.agent.pk).lock_version,
        )
        rows = list(csv.DictReader(io.StringIO(export(self.client))))
        keep = [
            h
            for h in rows[0]
            if h not in (LABEL["sponsor"], LABEL["sponsor_email"], LABEL["successors"])
        ]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=keep, extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        plan = self.upload(out.getvalue()).context["plan"]
        self.assertEqual([r.action for r in plan.rows], ["unchanged"])


MANIFEST = """
agent:
  name: Invoice triage assistant
  slug: invoice-triage
  owner: olga
{extra}
answers:
  decision_mode: context_driven
"""


class ManifestTests(People):
    def setUp(self):
        self.api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))

    def push(self, extra: str, **query):
        import yaml

        manifest = yaml.safe_load(MANIFEST.format(extra=extra))
        return self.api.post("/manifests", manifest, team="platform", **query)

    def test_a_manifest_names_the_sponsor_and_successors(self):
        response = self.push("  sponsor: sue@example.com\n  successors: [sam, tess]")
        self.assertEqual(response.status_code, 200, response.content)
        agent = Agent.objects.get(slug="invoice-triage")
        self.assertEqual(agent.sponsor, self.sue)
        self.assertEqual(successors(agent), [self.sam, self.tess])
        # Pushed again: nothing changes; with another order, the dry run says so.
        again = self.push("  sponsor: sue\n  successors: [sam, tess]", dry_run="true").json()
        self.assertNotIn("owners", again["changes"])
        moved = self.push("  sponsor: sue\n  successors: [tess]", dry_run="true").json()
        self.assertEqual(
            moved["changes"]["owners"], ["successors: Sam Second, Tess Third → Tess Third"]
        )

    def test_a_manifest_without_them_keeps_them(self):
        self.push("  sponsor: sue\n  successors: [sam]")
        self.push("")
        agent = Agent.objects.get(slug="invoice-triage")
        self.assertEqual((agent.sponsor, successors(agent)), (self.sue, [self.sam]))

    def test_a_bad_sponsor_or_successors_refuse_the_manifest(self):
        for extra, key in [
            ("  sponsor: robot", "agent.sponsor"),
            ("  successors: sam", "agent.successors"),
            ("  successors: [sam, sue, tess, olga]", "agent.successors"),
        ]:
            with self.subTest(extra=extra):
                response = self.push(extra)
                self.assertEqual(response.status_code, 422, response.content)
                self.assertEqual(response.json()["errors"][0]["key"], key)
        self.assertFalse(Agent.objects.filter(slug="invoice-triage").exists())

    def test_the_assess_command_accepts_them(self):
        import yaml

        from assessments.interchange.manifest import check_manifest

        checked = check_manifest(
            yaml.safe_load(MANIFEST.format(extra="  sponsor: sue\n  successors: [sam]")), file="x"
        )
        self.assertEqual((checked.agent["sponsor"], checked.agent["successors"]), ("sue", ["sam"]))


class BoardPackTests(People):
    @time_machine.travel(DAY, tick=False)
    def test_the_register_and_headline_carry_who_answers(self):
        today = timezone.localdate()
        actions.set_ownership(
            self.assessor,
            self.agent,
            owner=self.owner,
            sponsor=self.sue,
            co_owners=[self.sam],
            lock_version=Agent.objects.get(pk=self.agent.pk).lock_version,
        )
        lonely = f.agent(self.owner, team=self.team, slug="lonely", name="Lonely")
        Agent.objects.filter(pk=lonely.pk).update(
            orphaned_at=timezone.now() - dt.timedelta(days=3),
            last_activity_on=today - dt.timedelta(days=200),
        )
        content = board.board_content(
            board.BoardFilters(since=today - dt.timedelta(days=90), until=today), today=today
        )
        self.assertEqual((content["headline"]["orphaned"], content["headline"]["inactive"]), (1, 1))
        status = {s["key"]: s for s in content["status"]}
        self.assertEqual(status["orphaned"]["label"], "Orphaned agents")
        self.assertEqual(status["orphaned"]["status"], "amber")
        self.assertEqual(status["inactive"]["value"], 1)
        self.assertEqual(
            content["accountability"]["orphaned_agents"],
            [{"agent": "Lonely", "slug": "lonely", "since": today - dt.timedelta(days=3)}],
        )
        register = {
            r["slug"]: r
            for r in csv.DictReader(io.StringIO(board.register_csv(content["register"]).decode()))
        }
        self.assertEqual(register["alpha"]["sponsor"], "Sue Sponsor")
        self.assertEqual(register["alpha"]["successors"], "Sam Second")
        self.assertEqual(register["lonely"]["orphaned since"], str(today - dt.timedelta(days=3)))
        # The two figures recount from the register.
        self.assertEqual(sum(1 for r in register.values() if r["orphaned since"]), 1)
        self.assertEqual(sum(1 for r in register.values() if r["inactive"] == "yes"), 1)

    @time_machine.travel(DAY, tick=False)
    def test_the_printed_pack_lists_the_orphaned_agents(self):
        from tests import report_helpers as rh

        lonely = f.agent(self.owner, team=self.team, slug="lonely", name="Lonely")
        Agent.objects.filter(pk=lonely.pk).update(orphaned_at=timezone.now())
        pack = board.render_board_pack(
            board.BoardFilters.from_params({}),
            document_id="AIA-BP-20260601-0000TEST",
            generated_at=timezone.now(),
            generated_by="test",
        )
        text = rh.flat(rh.pdf_text(pack.rendered.data))
        self.assertIn("Who answers for the agents", text)
        self.assertIn("Orphaned agents", text)
        self.assertIn("Lonely", text)
        self.assertIn("Inactive agents", text)
