"""CSV import of agents: preview, all-or-nothing apply, and the export round trip."""

from __future__ import annotations

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from assessments import actions
from assessments.models import Agent, AgentLink, AuditEvent
from assessments.reports import exports
from tests import factories as f

URL = "/agents/import/"
LABEL = dict(exports.INVENTORY_COLUMNS)  # the export's header, in words, by column key


def export(client) -> str:
    response = client.get("/reports/inventory.csv")
    return b"".join(response.streaming_content).decode("utf-8-sig")


def edit(text: str, slug: str, **cells: str) -> str:
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        if row[LABEL["slug"]] == slug:
            row.update({LABEL[key]: value for key, value in cells.items()})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def add_row(text: str, **cells: str) -> str:
    """``text`` with one more row: ``cells`` by column name, the others empty."""
    header = next(csv.reader(io.StringIO(text)))
    by_label = {LABEL[key]: value for key, value in cells.items()}
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([by_label.get(name, "") for name in header])
    return text + out.getvalue()


class ImportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.owner = f.user("olga", "viewer", first_name="Olga", last_name="Owner")
        f.team("Platform")
        f.team("Payments")
        cls.a = f.agent(
            cls.owner,
            slug="alpha",
            name="Alpha",
            purpose="=cmd|' /C calc'!A0",  # exported with an apostrophe, imported without
            systems=[("erp", "write"), ("wiki", "read")],
        )
        cls.b = f.agent(cls.owner, slug="beta", name="Beta", links=[("orchestrates", "alpha")])
        actions.retire_agent(cls.assessor, f.agent(cls.owner, slug="gone", name="Gone"))

    def setUp(self):
        self.client.force_login(self.assessor)

    def upload(self, text: str):
        return self.client.post(
            URL, {"file": SimpleUploadedFile("agents.csv", text.encode("utf-8-sig"))}
        )

    def apply(self, preview):
        return self.client.post(URL, {"apply": "1", "key": preview.context["key"]}, follow=True)

    def test_an_unchanged_export_imports_as_no_change_and_writes_nothing(self):
        text = export(self.client)
        last = AuditEvent.objects.order_by("id").last().pk
        preview = self.upload(text)
        self.assertEqual(preview.status_code, 200)
        plan = preview.context["plan"]
        self.assertTrue(plan.ok, [r.errors for r in plan.rows])
        self.assertEqual([r.action for r in plan.rows], ["unchanged"] * 3)
        self.apply(preview)
        self.assertEqual(
            list(AuditEvent.objects.filter(id__gt=last).values_list("verb", flat=True)), []
        )

    def test_an_edited_export_applies_exactly_the_edits(self):
        text = export(self.client)
        text = edit(text, "alpha", platform="Lambda", systems="erp (admin); wiki (read)")
        text = edit(text, "gone", status="active")
        text = add_row(
            text,
            slug="new-one",
            name="New one",
            status="active",
            team="Payments",
            owner="Olga Owner",
            owner_email="olga@example.com",
            platform="ECS",
            environments="production",
            purpose="Makes things.",
        )
        preview = self.upload(text)
        plan = preview.context["plan"]
        self.assertTrue(plan.ok, [r.errors for r in plan.rows])
        actions_by_slug = {r.slug: r.action for r in plan.rows}
        self.assertEqual(
            actions_by_slug,
            {"alpha": "update", "beta": "unchanged", "gone": "reactivate", "new-one": "create"},
        )
        self.assertContains(preview, "platform: “Kubernetes” → “Lambda”")
        self.assertFalse(Agent.objects.filter(slug="new-one").exists())  # a preview only
        done = self.apply(preview)
        self.assertContains(done, "3 agents changed, 1 unchanged")
        alpha = Agent.objects.get(slug="alpha")
        self.assertEqual(alpha.platform, "Lambda")
        self.assertEqual(alpha.purpose, "=cmd|' /C calc'!A0")
        self.assertEqual(
            sorted(alpha.systems.values_list("name", "access")),
            [("erp", "admin"), ("wiki", "read")],
        )
        self.assertEqual(Agent.objects.get(slug="gone").status, "active")
        new = Agent.objects.get(slug="new-one")
        self.assertEqual((new.owner, new.team.name), (self.owner, "Payments"))
        # Exporting again and importing again changes nothing more.
        again = self.upload(export(self.client)).context["plan"]
        self.assertEqual({r.action for r in again.rows}, {"unchanged"})

    def test_a_row_with_an_error_blocks_every_row(self):
        text = export(self.client)
        text = edit(text, "alpha", platform="Lambda")
        text = edit(text, "beta", team="Nowhere", environments="moon")
        preview = self.upload(text)
        self.assertEqual(preview.status_code, 422)
        errors = {r.slug: r.errors for r in preview.context["plan"].rows}
        self.assertIn("Team: no team is called “Nowhere”.", errors["beta"])
        self.assertTrue(any("moon" in e for e in errors["beta"]))
        self.assertNotContains(preview, 'name="apply"', status_code=422)
        self.client.post(URL, {"apply": "1", "key": "forged"})
        self.assertEqual(Agent.objects.get(slug="alpha").platform, "Kubernetes")

    def test_every_error_of_every_row_is_listed_by_column_label_with_allowed_values(self):
        text = export(self.client)
        text = edit(text, "alpha", credential_model="magic", status="dormant")
        text = edit(text, "beta", team="Nowhere", environments="moon", platform="")
        preview = self.upload(text)
        self.assertEqual(preview.status_code, 422)
        errors = {r.slug: r.errors for r in preview.context["plan"].rows}
        # Both errors of alpha, each under its column's header, the choice with its values.
        self.assertIn("Status: use active or retired.", errors["alpha"])
        [credential] = [e for e in errors["alpha"] if e.startswith("Credential model: ")]
        self.assertIn("“magic” is not one of the allowed values; use one of: ", credential)
        for value in ("static_secret", "vaulted_rotated", "workload_identity"):
            self.assertIn(value, credential)
        self.assertEqual(len(errors["alpha"]), 2, errors["alpha"])
        self.assertTrue(any(e.startswith("Team: ") for e in errors["beta"]))
        self.assertTrue(any(e.startswith("Environments: ") for e in errors["beta"]))
        for row_errors in errors.values():
            for error in row_errors:
                self.assertNotRegex(error, r"^[a-z]+_[a-z_]+:", error)  # no column keys
        self.assertContains(preview, "use one of: ", status_code=422)

    def test_a_link_changed_on_one_side_only_is_an_error(self):
        text = edit(export(self.client), "beta", linked_agents="")
        plan = self.upload(text).context["plan"]
        errors = {r.slug: r.errors for r in plan.rows}
        self.assertTrue(any("does not list the link" in e for e in errors["alpha"]), errors)
        both = edit(text, "alpha", linked_agents="")
        plan = self.upload(both).context["plan"]
        self.assertTrue(plan.ok, [r.errors for r in plan.rows])
        self.apply(self.upload(both))
        self.assertFalse(AgentLink.objects.exists())

    def test_a_change_to_the_inventory_after_the_preview_asks_to_check_again(self):
        preview = self.upload(edit(export(self.client), "alpha", platform="Lambda"))
        alpha = Agent.objects.get(slug="alpha")
        actions.update_agent(self.assessor, alpha, fields={"name": "Alpha renamed"})
        response = self.client.post(URL, {"apply": "1", "key": preview.context["key"]})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(Agent.objects.get(slug="alpha").platform, "Kubernetes")

    def test_files_that_are_not_exports_are_refused_with_a_reason(self):
        for content, words in [
            (b"\xff\xfe\x00junk", "not UTF-8"),
            (b"a,b\r\n1,2\r\n", "has no slug, name, team, purpose columns"),
            (",".join(["slug", "name", "team", "purpose"]).encode() + b"\r\n", "no rows"),
        ]:
            with self.subTest(words=words):
                response = self.client.post(URL, {"file": SimpleUploadedFile("x.csv", content)})
                self.assertContains(response, words, status_code=422)

    def test_viewers_cannot_import(self):
        self.client.force_login(f.viewer())
        self.assertEqual(self.client.get(URL).status_code, 403)


def zip_of(files: dict[str, str]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class ManifestZipImportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        f.user("finance-platform", "viewer")  # the fixture manifest's owner e-mail
        f.team("Finance")

    def setUp(self):
        self.client.force_login(self.assessor)
        from pathlib import Path

        self.fixture = (Path(__file__).parent / "fixtures" / "invoice-triage.yaml").read_text()

    def upload(self, data: bytes, team: str = "finance"):
        return self.client.post(
            URL, {"file": SimpleUploadedFile("manifests.zip", data), "team": team}
        )

    def test_a_zip_of_manifests_previews_then_creates_agents_with_drafts(self):
        second = self.fixture.replace("slug: invoice-triage", "slug: invoice-two").replace(
            "name: Invoice triage assistant", "name: Invoice two"
        )
        data = zip_of({"a/invoice.yaml": self.fixture, "b/two.yml": second, "README.md": "x"})
        preview = self.upload(data)
        self.assertEqual(preview.status_code, 200, preview.content[:2000])
        plan = preview.context["plan"]
        self.assertEqual(
            [(r.source, r.action) for r in plan.rows],
            [("a/invoice.yaml", "create"), ("b/two.yml", "create")],
        )
        self.assertFalse(Agent.objects.exists())
        done = self.client.post(URL, {"apply": "1", "key": preview.context["key"]}, follow=True)
        self.assertContains(done, "2 agents changed")
        agent = Agent.objects.get(slug="invoice-triage")
        draft = agent.assessments.get()
        self.assertEqual(
            (draft.status, draft.answers["decision_mode"]), ("draft", "context_driven")
        )
        # The same zip again changes nothing.
        again = self.upload(data).context["plan"]
        self.assertEqual({r.action for r in again.rows}, {"unchanged"})

    def test_one_bad_manifest_blocks_the_whole_zip(self):
        bad = self.fixture.replace("decision_mode: context_driven", "decision_mode: vibes")
        data = zip_of({"good.yaml": self.fixture, "bad.yaml": bad.replace("invoice-triage", "x")})
        preview = self.upload(data)
        self.assertEqual(preview.status_code, 422)
        errors = {r.source: r.errors for r in preview.context["plan"].rows}
        self.assertTrue(any("answers.decision_mode" in e for e in errors["bad.yaml"]), errors)
        self.assertEqual(errors["good.yaml"], [])
        self.assertFalse(Agent.objects.exists())

    def test_a_new_agent_needs_a_team_and_junk_zips_are_refused(self):
        preview = self.upload(zip_of({"a.yaml": self.fixture}), team="")
        self.assertTrue(any("team" in e for e in preview.context["plan"].rows[0].errors))
        response = self.upload(b"PK\x03\x04 not really a zip")
        self.assertContains(response, "not a zip archive", status_code=422)
        response = self.upload(zip_of({"notes.txt": "hello"}))
        self.assertContains(response, "no .yaml, .yml or .json manifests", status_code=422)
