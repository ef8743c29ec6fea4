from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from assessments.records import audit


class Command(BaseCommand):
    help = (
        "Write a signed checkpoint of the audit log now (event count, last event and its "
        "MAC, time): to the database, the log, AUDIT_CHECKPOINT_DIR and AUDIT_CHECKPOINT_EMAIL "
        "when set. The daily send_review_reminders run writes one too. Exit 1 if a copy "
        "could not be published."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = audit.write_checkpoint()
        self.stdout.write(f"Wrote {outcome.checkpoint.label} to {', '.join(outcome.published_to)}.")
        if outcome.failures:
            raise CommandError("Not published: " + "; ".join(outcome.failures))
