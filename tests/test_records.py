"""Records that hold: approved assessments and the audit log cannot be deleted or changed
through the app, the ORM or plain SQL, and tampering behind the guards is detected."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import skipUnless

import psycopg
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, models, transaction
from django.test import TestCase, TransactionTestCase, override_settings
from django.urls import reverse

from assessments.models import Assessment, AuditCheckpoint, AuditEvent, ImmutableRecordError
from assessments.records import audit
from tests import factories as f
from tests.records_helpers import remove, rewrite, swap_ids, verify_audit_log


class DeletionGuardTests(TestCase):
    def setUp(self):
        self.assessor, self.reviewer = f.assessor(), f.reviewer()
        self.assessment = f.approved(
            f.agent(slug="bot", actor=self.assessor), self.assessor, self.reviewer
        )

    def assert_still_approved(self):
        self.assertEqual(
            Assessment.objects.get(pk=self.assessment.pk).status, Assessment.Status.APPROVED
        )

    def test_the_database_refuses_to_delete_an_approved_assessment(self):
        with self.assertRaises(DatabaseError), transaction.atomic():
            Assessment.objects.filter(pk=self.assessment.pk)._raw_delete(connection.alias)
        self.assert_still_approved()

    def test_the_database_refuses_to_delete_audit_events_and_checkpoints(self):
        audit.write_checkpoint()
        for model in (AuditEvent, AuditCheckpoint):
            before = model.objects.count()
            with self.subTest(model=model.__name__):
                with self.assertRaises(DatabaseError), transaction.atomic():
                    model.objects.all()._raw_delete(connection.alias)
                with self.assertRaises(DatabaseError), transaction.atomic():
                    models.QuerySet.update(model.objects.all(), key_id="forged")
                self.assertEqual(model.objects.count(), before)

    def test_setting_the_status_in_memory_does_not_get_past_the_model_guard(self):
        self.assessment.status = Assessment.Status.DRAFT
        with self.assertRaises(ImmutableRecordError):
            self.assessment.delete()
        with self.assertRaises(ImmutableRecordError):
            self.assessment.save()
        self.assert_still_approved()

    def test_queryset_delete_and_update_of_approved_assessments_are_refused(self):
        with self.assertRaises(ImmutableRecordError):
            Assessment.objects.filter(pk=self.assessment.pk).delete()
        with self.assertRaises(ImmutableRecordError):
            Assessment.objects.all().update(status=Assessment.Status.DRAFT)
        self.assert_still_approved()

    def test_queryset_changes_to_open_assessments_still_work(self):
        draft = f.answered(f.agent(slug="other", actor=self.assessor), self.assessor)
        self.assertEqual(Assessment.objects.filter(pk=draft.pk).update(current_step="access"), 1)
        Assessment.objects.filter(pk=draft.pk).delete()
        self.assertFalse(Assessment.objects.filter(pk=draft.pk).exists())

    def test_queryset_delete_and_update_of_the_audit_log_are_refused(self):
        audit.write_checkpoint()
        for model in (AuditEvent, AuditCheckpoint):
            with self.subTest(model=model.__name__):
                with self.assertRaises(ImmutableRecordError):
                    model.objects.all().delete()
                with self.assertRaises(ImmutableRecordError):
                    model.objects.update(key_id="forged")
                self.assertFalse(model.objects.filter(key_id="forged").exists())
        self.assertGreater(AuditEvent.objects.count(), 0)

    def test_truncate_is_refused_on_postgresql(self):
        if connection.vendor != "postgresql":
            self.assertEqual(connection.vendor, "sqlite")  # SQLite has no TRUNCATE
            return
        for table in (
            "assessments_auditevent",
            "assessments_assessment",
            "assessments_auditcheckpoint",
        ):
            with (
                self.subTest(table=table),
                self.assertRaises(DatabaseError),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(f"TRUNCATE {table} CASCADE")
        self.assert_still_approved()

    @override_settings(ALLOW_FLUSH_OF_RECORDS=False)
    def test_flush_refuses_while_records_exist(self):
        with self.assertRaisesMessage(CommandError, "approved assessment"):
            call_command("flush", interactive=False, verbosity=0)
        self.assert_still_approved()


class AuditKeyTests(TestCase):
    def test_events_carry_the_id_of_the_key_that_made_their_mac(self):
        event = audit.record("test.event", actor_label="x")
        self.assertEqual(
            event.key_id, audit.key_id("test-only-audit-key-not-for-production-use-9876543210")
        )
        self.assertNotEqual(event.hash, event.unkeyed_hash())
        with override_settings(AUDIT_KEY="another-key-that-is-long-enough-0123456789"):
            other = audit.record("test.event", actor_label="x")
        self.assertNotEqual(other.key_id, event.key_id)

    def test_after_a_rotation_old_events_verify_with_the_kept_key(self):
        old = "the-old-audit-key-0123456789-abcdefghijkl"
        with override_settings(AUDIT_KEY=old):
            audit.record("test.old", actor_label="x")
            audit.write_checkpoint()
        new = "the-new-audit-key-0123456789-abcdefghijkl"
        with override_settings(AUDIT_KEY=new, AUDIT_KEYS=[old]):
            audit.record("test.new", actor_label="x")
            code, output = verify_audit_log()
            self.assertEqual(code, 0, output)
        with override_settings(AUDIT_KEY=new, AUDIT_KEYS=[]):
            # A key id no configured key has is what a forger writes: a failure that says
            # so, and says the other cause (a rotated key left out of AUDIT_KEYS).
            code, output = verify_audit_log()
            self.assertEqual(code, 1, output)
            self.assertIn("missing from AUDIT_KEYS", output)

    def test_legacy_unkeyed_events_verify_and_are_anchored_by_the_first_keyed_one(self):
        legacy = AuditEvent(verb="legacy.event", actor_label="old", prev_hash=AuditEvent.GENESIS)
        legacy.hash = legacy.unkeyed_hash()
        legacy.save()
        audit.record("test.event", actor_label="new")
        code, output = verify_audit_log()
        self.assertEqual(code, 0, output)
        self.assertIn("1 event from before audit keys verifies", output)
        # Rewriting the legacy event and re-hashing it breaks the keyed event's link.
        rewrite(AuditEvent.objects.filter(pk=legacy.pk), actor_label="someone else")
        forged = AuditEvent.objects.get(pk=legacy.pk)
        rewrite(AuditEvent.objects.filter(pk=legacy.pk), hash=forged.unkeyed_hash())
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn("deleted", output)

    def test_an_unkeyed_event_after_keyed_ones_is_a_forgery(self):
        last = audit.record("test.event", actor_label="x")
        forged = AuditEvent(verb="forged", actor_label="x", prev_hash=last.hash)
        forged.hash = forged.unkeyed_hash()
        forged.save()
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn(f"event #{forged.pk}: re-hashed without the key", output)


class TamperDetectionTests(TestCase):
    """Each attack of issue 16 against the log, and what verify_audit_log says."""

    def setUp(self):
        for n in range(6):
            audit.record("test.event", actor_label=f"user{n}", changes={"n": n})
        self.ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))

    def test_an_untouched_log_is_intact(self):
        audit.write_checkpoint()
        code, output = verify_audit_log()
        self.assertEqual(code, 0, output)
        self.assertIn("Intact: all 6 events", output)

    def test_a_changed_event_is_named(self):
        rewrite(AuditEvent.objects.filter(pk=self.ids[2]), changes={"n": 99})
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn(f"event #{self.ids[2]}: changed", output)
        self.assertEqual(output.count(": changed"), 1, output)

    def test_a_deleted_event_is_named_by_the_one_after_it(self):
        remove(AuditEvent.objects.filter(pk=self.ids[2]))
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn(f"event #{self.ids[3]}: deleted", output)

    def test_reordered_events_are_named(self):
        swap_ids(self.ids[2], self.ids[3])
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn("reordered", output)
        self.assertNotIn(": changed", output)

    def test_rehashing_the_rest_of_the_chain_without_the_key_is_detected(self):
        # The old, unkeyed attack: edit an event, then recompute every hash after it.
        rewrite(AuditEvent.objects.filter(pk=self.ids[2]), verb="test.innocent")
        prev = AuditEvent.objects.get(pk=self.ids[1]).hash
        for pk in self.ids[2:]:
            event = AuditEvent.objects.get(pk=pk)
            event.prev_hash = prev
            prev = event.unkeyed_hash()
            rewrite(AuditEvent.objects.filter(pk=pk), prev_hash=event.prev_hash, hash=prev)
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        for pk in self.ids[2:]:
            self.assertIn(f"event #{pk}: re-hashed without the key", output)

    def test_truncation_after_a_checkpoint_is_detected_even_when_the_log_goes_on(self):
        audit.write_checkpoint()
        remove(AuditEvent.objects.filter(pk__in=self.ids[-2:]))
        # Sign in once: the chain continues cleanly from what is left.
        self.assertTrue(self.client.login(username=f.viewer().username, password=f.PASSWORD))
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn("truncated", output)
        self.assertIn("only 4 of the 6 events it counted remain", output)
        self.assertEqual(AuditEvent.objects.order_by("-id").first().verb, "auth.login")

    def test_removing_the_checkpoints_too_is_caught_by_the_copy_outside_the_database(self):
        with (
            tempfile.TemporaryDirectory() as directory,
            override_settings(AUDIT_CHECKPOINT_DIR=directory),
        ):
            audit.write_checkpoint()
            remove(AuditEvent.objects.filter(pk=self.ids[-1]))
            remove(AuditCheckpoint.objects.all())
            code, output = verify_audit_log()
            self.assertEqual(code, 1, output)
            self.assertIn("truncated", output)

    def test_a_checkpoint_file_given_on_the_command_line_is_used(self):
        outcome = audit.write_checkpoint()
        remove(AuditEvent.objects.filter(pk=self.ids[-1]))
        remove(AuditCheckpoint.objects.all())
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "checkpoint.json"
            path.write_text(outcome.checkpoint.to_json(), encoding="utf-8")
            code, output = verify_audit_log("--checkpoint", str(path))
            self.assertEqual(code, 1, output)
            self.assertIn("truncated", output)

            data = json.loads(path.read_text())
            data["event_count"] = 5  # an edited checkpoint is not evidence of anything
            path.write_text(json.dumps(data), encoding="utf-8")
            code, output = verify_audit_log("--checkpoint", str(path))
            self.assertEqual(code, 2, output)
            self.assertIn("does not carry a valid signature", output)

            path.write_text("not json", encoding="utf-8")
            self.assertEqual(verify_audit_log("--checkpoint", str(path))[0], 2)
            self.assertEqual(verify_audit_log("--checkpoint", f"{directory}/missing")[0], 2)

    def test_a_forged_checkpoint_in_the_database_is_tampering(self):
        AuditCheckpoint.objects.create(
            created_at=AuditEvent.objects.first().created_at,
            event_count=2,
            last_event_id=self.ids[1],
            head=AuditEvent.objects.get(pk=self.ids[1]).hash,
            key_id=audit.current_key()[0],
            signature="0" * 64,
        )
        code, output = verify_audit_log()
        self.assertEqual(code, 1, output)
        self.assertIn("forged checkpoint", output)

    def test_the_audit_page_uses_the_same_verification(self):
        audit.write_checkpoint()
        remove(AuditEvent.objects.filter(pk=self.ids[-1]))
        self.client.force_login(f.reviewer())
        response = self.client.get(reverse("assessments:audit_list"), {"verify": "1"})
        self.assertContains(response, "The log has been tampered with")
        self.assertContains(response, "truncated")


class CheckpointPublishingTests(TestCase):
    def test_a_checkpoint_goes_to_the_directory_the_log_and_the_mailbox(self):
        audit.record("test.event", actor_label="x")
        with (
            tempfile.TemporaryDirectory() as directory,
            override_settings(
                AUDIT_CHECKPOINT_DIR=directory, AUDIT_CHECKPOINT_EMAIL=["audit@example.com"]
            ),
            self.assertLogs("assessments.records.audit", "INFO") as logs,
        ):
            out = io.StringIO()
            call_command("audit_checkpoint", stdout=out)
            (path,) = Path(directory).glob("audit-checkpoint-*.json")
            from_file = audit.Checkpoint.from_file(path)
        self.assertEqual(from_file.event_count, 1)
        self.assertEqual(from_file.check_signature(audit.audit_keys()), "valid")
        self.assertEqual(from_file.head, AuditEvent.objects.get().hash)
        self.assertIn(from_file.signature, logs.output[0])
        self.assertEqual(mail.outbox[0].to, ["audit@example.com"])
        self.assertIn(from_file.signature, mail.outbox[0].body)
        self.assertIn("1 event", out.getvalue())
        self.assertEqual(AuditCheckpoint.objects.count(), 1)

    def test_the_daily_run_writes_a_checkpoint(self):
        from assessments import tasks

        result = tasks.send_review_reminders.enqueue()
        self.assertEqual(result.return_value["audit_checkpoint"]["event_count"], 0)
        call_command("send_review_reminders", stdout=io.StringIO())
        self.assertEqual(AuditCheckpoint.objects.count(), 2)
        call_command("send_review_reminders", "--dry-run", stdout=io.StringIO())
        self.assertEqual(AuditCheckpoint.objects.count(), 2)

    def test_a_checkpoint_that_cannot_be_written_is_reported(self):
        with (
            tempfile.NamedTemporaryFile() as not_a_directory,
            override_settings(AUDIT_CHECKPOINT_DIR=not_a_directory.name),
            self.assertLogs("assessments.records.audit", "ERROR"),
            self.assertRaisesMessage(CommandError, "Not published"),
        ):
            call_command("audit_checkpoint", stdout=io.StringIO())


@skipUnless(
    connection.vendor == "postgresql",
    "database roles and privileges are PostgreSQL's; SQLite is a file with neither",
)
class AppRoleTests(TransactionTestCase):
    """The README's set-up: migrations as the owner, the app as a role without TRUNCATE,
    ALTER or trigger rights (``grant_app_role``)."""

    def setUp(self):
        f.ensure_reference_data()
        self.role = f"{connection.settings_dict['NAME']}_app"[:60]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [self.role])
            if cursor.fetchone():
                self.drop_role()
            cursor.execute(f'CREATE ROLE "{self.role}" LOGIN')
        self.addCleanup(self.drop_role)
        call_command("grant_app_role", self.role, stdout=io.StringIO())

    def drop_role(self):
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{self.role}"')
            cursor.execute(f'DROP ROLE "{self.role}"')

    def run_as_app(self, *args: str) -> subprocess.CompletedProcess[str]:
        s = connection.settings_dict
        url = f"postgres://{self.role}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
        return subprocess.run(  # noqa: S603 (fixed arguments)
            [sys.executable, "manage.py", *args],
            cwd=Path(__file__).resolve().parent.parent,
            env={
                **os.environ,
                "DATABASE_URL": url,
                "DJANGO_SETTINGS_MODULE": "config.test_settings",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_the_app_works_as_that_role_and_cannot_get_past_the_guards(self):
        script = (
            "from tests import factories as f; from assessments.records import audit; "
            "a, r = f.assessor(), f.reviewer(); "
            "f.approved(f.agent(slug='bot', actor=a), a, r); audit.write_checkpoint()"
        )
        result = self.run_as_app("shell", "-c", script)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = self.run_as_app("verify_audit_log")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

        s = connection.settings_dict
        refused = [
            "TRUNCATE assessments_auditevent CASCADE",
            "TRUNCATE assessments_assessment CASCADE",
            "TRUNCATE assessments_auditcheckpoint",
            "ALTER TABLE assessments_auditevent DISABLE TRIGGER auditevent_append_only",
            "ALTER TABLE assessments_assessment DISABLE TRIGGER ALL",
            "DROP TRIGGER auditevent_no_truncate ON assessments_auditevent",
            "SET session_replication_role = replica",
            "DELETE FROM assessments_auditevent",
            "UPDATE assessments_auditevent SET verb = 'rewritten'",
            "DELETE FROM assessments_auditcheckpoint",
            "DELETE FROM assessments_assessment WHERE status = 'approved'",
            "UPDATE assessments_assessment SET status = 'draft'",
        ]
        with psycopg.connect(
            host=s["HOST"], port=s["PORT"], dbname=s["NAME"], user=self.role, autocommit=True
        ) as app:
            for sql in refused:
                with self.subTest(sql=sql), self.assertRaises(psycopg.Error):
                    app.execute(sql)
            events = app.execute("SELECT count(*) FROM assessments_auditevent").fetchone()[0]
        self.assertEqual(events, AuditEvent.objects.count())
        self.assertGreater(events, 0)
        self.assertEqual(Assessment.objects.approved().count(), 1)
        self.assertEqual(verify_audit_log()[0], 0)
