from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assessments.records import backup


class Command(BaseCommand):
    help = (
        "Restore an export_data FILE into a new database: run migrate on an empty database "
        "at the same release, then this. Refused, changing nothing, if the database already "
        "holds data or is at another schema version. The audit log is verified afterwards "
        "(it needs the same AUDIT_KEY/AUDIT_KEYS as the source); exit 1 if it does not verify."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a file written by export_data")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise CommandError(f"{path} cannot be read: {error.strerror}.") from None
        try:
            outcome = backup.import_data(raw)
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        rows = sum(outcome.counts.values())
        self.stdout.write(f"Imported {rows} records from {path} (SHA-256 {outcome.sha256}).")
        if not outcome.chain.ok:
            raise CommandError(
                "The audit log does not verify after the import: "
                + outcome.chain.summary()
                + " Run verify_audit_log for the details."
            )
        self.stdout.write(self.style.SUCCESS(outcome.chain.summary()))
