"""Approved assessments are covered by the audit chain (issue 23, item 4): the approval
event records the content hash of the approved version, and verify_audit_log recomputes
it, so a row changed, replaced, deleted or added behind the guards is caught; an event
with a key id no configured key has is tampering; SQLite refuses INSERT OR REPLACE over
an approved row; import_data leaves nothing loaded when the log does not verify."""

from __future__ import annotations

import io
import json

from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import TestCase, TransactionTestCase, override_settings

from assessments.models import Agent, Assessment, AuditEvent
from assessments.records import audit, backup, guards
from tests import factories as f
from tests.records_helpers import remove, rewrite, verify_audit_log


def _columns() -> list[str]:
    return [f.column for f in Assessment._meta.concrete_fields]


class ApprovedVersionTests(TestCase):
    def setUp(self):
        self.assessor, self.reviewer = f.assessor(), f.reviewer()
        self.agent = f.agent(slug="bot", actor=self.assessor)
        self.approved = f.approved(self.agent, self.assessor, self.reviewer)

    def test_the_approval_event_records_the_content_hash_and_an_untouched_log_verifies(self):
        event = AuditEvent.objects.get(verb="assessment.approve")
        self.assertEqual(len(event.changes["content_hash"]), 64)
        self.assertEqual(
            event.changes["content_hash"], audit.approved_content_hash(self.approved.pk)
        )
        code, output = verify_audit_log()
        self.assertEqual(code, 0, output)

    def test_a_tier_changed_with_the_triggers_off_is_caught(self):
        rewrite(Assessment.objects.filter(pk=self.approved.pk), tier=4)
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn("approved assessment changed", output)
        self.assertIn(f"assessment #{self.approved.pk}", output)

    def test_answers_changed_are_caught_too(self):
        answers = {**self.approved.answers, "network_reach": "isolated"}
        rewrite(Assessment.objects.filter(pk=self.approved.pk), answers=answers)
        self.assertEqual(verify_audit_log()[0], 1)

    def test_a_deleted_approved_assessment_is_caught(self):
        remove(Assessment.objects.filter(pk=self.approved.pk))
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn("approved assessment missing", output)

    def test_an_approved_row_inserted_without_an_approval_is_caught(self):
        with guards.lifted():
            extra = Assessment(
                agent=f.agent(slug="forged"),
                number=1,
                questionnaire_version=self.approved.questionnaire_version,
                catalogue=self.approved.catalogue,
                answers=self.approved.answers,
                result=self.approved.result,
                classification="machine_identity",
                tier=1,
                assessor=self.assessor,
                status="approved",
            )
            Assessment.objects.bulk_create([extra])
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn("approved assessment without its approval", output)

    def test_a_draft_reopened_from_an_approved_row_is_caught(self):
        rewrite(Assessment.objects.filter(pk=self.approved.pk), status="draft")
        self.assertEqual(verify_audit_log()[0], 1)

    def test_an_event_with_an_unknown_key_id_chained_to_the_last_is_tampering(self):
        last = AuditEvent.objects.order_by("-id").first()
        forged = AuditEvent(
            verb="assessment.approve",
            actor_label="mallory",
            prev_hash=last.hash,
            key_id="0123456789abcdef",
        )
        forged.hash = audit.mac(b"a key the app never had", "audit event", forged.canonical())
        forged.save()
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn(f"event #{forged.pk}: signed with an unknown key", output)

    def test_an_event_changed_together_with_its_key_id_is_tampering(self):
        event = AuditEvent.objects.filter(verb="assessment.approve").get()
        rewrite(AuditEvent.objects.filter(pk=event.pk), key_id="fedcba9876543210")
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)


@override_settings()
class SqliteReplaceTests(TestCase):
    """INSERT OR REPLACE deletes the row it collides with and inserts: refused over an
    approved row, with the triggers intact."""

    def setUp(self):
        if connection.vendor != "sqlite":
            self.skipTest("REPLACE is SQLite's")  # PostgreSQL: PostgresTamperTests
        self.assessor, self.reviewer = f.assessor(), f.reviewer()
        self.agent = f.agent(slug="bot", actor=self.assessor)
        self.approved = f.approved(self.agent, self.assessor, self.reviewer)

    def _replace(self, **changes):
        row = dict(
            zip(
                _columns(),
                Assessment.objects.filter(pk=self.approved.pk).values_list(*_columns()).get(),
                strict=True,
            )
        )
        row.update(changes)
        for key, value in row.items():
            if isinstance(value, (dict, list)):
                row[key] = json.dumps(value)
        names = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT OR REPLACE INTO assessments_assessment ({names}) VALUES ({marks})",  # noqa: S608
                list(row.values()),
            )

    def test_replacing_an_approved_row_by_id_is_refused(self):
        with self.assertRaises(DatabaseError), transaction.atomic():
            self._replace(tier=4)
        self.assertEqual(Assessment.objects.get(pk=self.approved.pk).tier, self.approved.tier)
        self.assertEqual(verify_audit_log()[0], 0)

    def test_swapping_in_a_draft_through_agent_and_number_is_refused(self):
        with self.assertRaises(DatabaseError), transaction.atomic():
            self._replace(id=10**6, status="draft")
        self.assertEqual(Assessment.objects.get(pk=self.approved.pk).status, "approved")

    def test_and_were_the_trigger_dropped_the_chain_would_catch_it(self):
        with guards.lifted():
            self._replace(tier=4)
        self.assertEqual(verify_audit_log()[0], 1)

    def test_ordinary_inserts_and_drafts_still_work(self):
        draft = f.answered(self.agent, self.assessor)
        self.assertEqual(draft.number, 2)


class ImportVerifiesTests(TransactionTestCase):
    """A backup whose approved tier was edited is not loaded at all."""

    def setUp(self):
        f.ensure_reference_data()

    def test_a_tampered_backup_is_refused_and_leaves_nothing_loaded(self):
        assessor, reviewer = f.assessor(), f.reviewer()
        f.approved(f.agent(slug="bot", actor=assessor), assessor, reviewer)
        out = io.StringIO()
        backup.export_data(out)
        data = json.loads(out.getvalue())
        for record in data["objects"]:
            if record["model"] == "assessments.assessment":
                record["fields"]["tier"] = 4
        raw = json.dumps(data).encode()
        call_command("flush", interactive=False, verbosity=0)  # a new database
        f.ensure_reference_data()
        with self.assertRaisesMessage(backup.BackupError, "nothing was loaded"):
            backup.import_data(raw)
        self.assertFalse(Agent.objects.exists())
        self.assertFalse(AuditEvent.objects.exists())
        with self.assertRaises(CommandError):
            path = self._write(raw)
            call_command("import_data", path, stdout=io.StringIO())
        self.assertFalse(Assessment.objects.exists())

    def _write(self, raw: bytes) -> str:
        import tempfile

        handle = tempfile.NamedTemporaryFile(suffix=".json", delete=False)  # noqa: SIM115
        handle.write(raw)
        handle.close()
        self.addCleanup(lambda: __import__("os").unlink(handle.name))
        return handle.name
