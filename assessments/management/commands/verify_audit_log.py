from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from assessments.records import audit


class Command(BaseCommand):
    help = (
        "Check the audit log: every event's MAC (with AUDIT_KEY and the older AUDIT_KEYS), "
        "every link, and the log's length and last event against the latest signed "
        "checkpoint. Names changed, deleted, reordered, re-hashed-without-the-key and "
        "truncated events. Exit status: 0 intact; 1 tampered; 2 cannot be checked (a key "
        "or the checkpoint is missing, unreadable or not validly signed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint",
            metavar="FILE",
            help="Check against this checkpoint file (e.g. one saved from the checkpoint "
            "e-mail) instead of the newest in the database or AUDIT_CHECKPOINT_DIR.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit.verify_chain(checkpoint_file=options["checkpoint"])
        if report.checkpoint is not None:
            self.stdout.write(f"Checked against {report.checkpoint.label}.")
        for note in report.notes:
            self.stderr.write(f"Note: {note}")
        if report.checkpoint_missing:
            self.stderr.write("Note: write one now with: python manage.py audit_checkpoint")
        for finding in report.findings:
            self.stdout.write(f"  {finding}")
        if report.problems > len(report.findings):
            self.stdout.write(f"  ... and {report.problems - len(report.findings)} more.")
        for reason in report.unverifiable:
            self.stderr.write(reason)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(report.summary()))
        else:
            self.stderr.write(report.summary())
        if report.exit_code:
            raise SystemExit(report.exit_code)
