"""Backup and restore: export_data, then import_data into an empty database, and the
audit log still verifies."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import TestCase, TransactionTestCase

from assessments import actions
from assessments.models import (
    Agent,
    AgentLink,
    Assessment,
    AuditCheckpoint,
    AuditEvent,
    CalendarFeed,
    ReportRecord,
)
from assessments.records import audit
from tests import factories as f
from tests.records_helpers import verify_audit_log


def build_portfolio() -> None:
    ada, rex = f.assessor(), f.reviewer()
    bot = f.agent(slug="bot", actor=ada, systems=[("erp", "read"), ("crm", "write")])
    helper = f.agent(slug="helper", actor=ada)
    AgentLink.objects.create(source=bot, target=helper, kind=AgentLink.Kind.ORCHESTRATES)
    approved = f.approved(bot, ada, rex)
    f.answered(helper, ada)
    actions.retire_agent(ada, f.agent(slug="old", actor=ada))
    ReportRecord.objects.create(
        document_id="AIA-TEST-1",
        kind=ReportRecord.Kind.ASSESSMENT,
        assessment=approved,
        content_sha256="a" * 64,
        file_sha256="b" * 64,
        pdf=b"%PDF-1.7 \x00\xff binary",
        created_by=ada,
    )
    CalendarFeed.objects.create(owner=rex, scope=CalendarFeed.Scope.MINE, token_hash="c" * 64)
    audit.write_checkpoint()
    audit.record("test.after_checkpoint", actor=rex, changes={"ünïcode": "✓", "n": [1, 2.5]})


def export(path: Path) -> dict:
    call_command("export_data", str(path), stdout=io.StringIO())
    return json.loads(path.read_text(encoding="utf-8"))


class RoundTripTests(TransactionTestCase):
    def setUp(self):
        f.ensure_reference_data()
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.dir = Path(directory.name)

    def start_over(self) -> None:
        """An empty database, as migrate leaves it: role groups and the shipped catalogue."""
        call_command("flush", interactive=False, verbosity=0)
        f.ensure_reference_data()
        self.assertEqual(AuditEvent.objects.count(), 0)

    def test_an_export_restores_into_an_empty_database_with_the_audit_log_intact(self):
        build_portfolio()
        original = export(self.dir / "backup.json")
        self.assertEqual(verify_audit_log()[0], 0)
        events, checkpoints = AuditEvent.objects.count(), AuditCheckpoint.objects.count()

        self.start_over()
        out = io.StringIO()
        call_command("import_data", str(self.dir / "backup.json"), stdout=out)
        self.assertIn("Intact", out.getvalue())

        code, output = verify_audit_log()
        self.assertEqual(code, 0, output)
        self.assertIn("checkpoint", output)
        # Everything came back as it was, plus the import's own audit event.
        self.assertEqual(AuditEvent.objects.count(), events + 1)
        self.assertEqual(AuditEvent.objects.order_by("-id").first().verb, "data.import")
        self.assertEqual(AuditCheckpoint.objects.count(), checkpoints)
        restored = export(self.dir / "again.json")
        imported_event = restored["objects"].pop(
            next(
                i
                for i, o in enumerate(restored["objects"])
                if o["model"] == "assessments.auditevent" and o["fields"]["verb"] == "data.import"
            )
        )
        self.assertEqual(imported_event["fields"]["changes"]["rows"], len(original["objects"]))
        self.assertEqual(restored["objects"], original["objects"])
        self.assertEqual(bytes(ReportRecord.objects.get().pdf), b"%PDF-1.7 \x00\xff binary")
        self.assertEqual(Assessment.objects.approved().get().agent.slug, "bot")
        # People sign in with their old passwords, and new records get fresh ids.
        self.assertTrue(self.client.login(username="ada", password=f.PASSWORD))
        f.agent(slug="new-after-restore")
        self.assertEqual(Agent.objects.count(), 4)

    def test_a_bad_file_is_refused_and_changes_nothing(self):
        build_portfolio()
        good = export(self.dir / "backup.json")
        self.start_over()
        cases = {
            "not json": ("{nope", "not JSON"),
            "another format": (json.dumps({"format": "x"}), "not an export"),
            "a newer version": (json.dumps({**good, "version": 99}), "format version 99"),
            "another schema": (
                json.dumps({**good, "schema": good["schema"][:-1]}),
                "different schema version",
            ),
            "a foreign record": (
                json.dumps({**good, "objects": [{"model": "sessions.session", "pk": "x"}]}),
                "does not keep",
            ),
            "a broken record": (
                json.dumps(
                    {**good, "objects": [*good["objects"][:-1], {"model": "assessments.agent"}]}
                ),
                "could not be loaded",
            ),
        }
        for name, (text, message) in cases.items():
            with self.subTest(name):
                path = self.dir / "bad.json"
                path.write_text(text, encoding="utf-8")
                with self.assertRaisesMessage(CommandError, message):
                    call_command("import_data", str(path), stdout=io.StringIO())
                self.assertEqual(AuditEvent.objects.count(), 0)
                self.assertFalse(Agent.objects.exists())
        with self.assertRaisesMessage(CommandError, "cannot be read"):
            call_command("import_data", str(self.dir / "missing.json"))


class ImportRefusalTests(TestCase):
    def test_an_import_into_a_database_with_data_is_refused(self):
        build_portfolio()
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "backup.json"
            export(path)
            before = AuditEvent.objects.count()
            with self.assertRaisesMessage(CommandError, "This database is not empty: it holds"):
                call_command("import_data", str(path), stdout=io.StringIO())
        self.assertEqual(AuditEvent.objects.count(), before)
        self.assertEqual(Agent.objects.count(), 3)
