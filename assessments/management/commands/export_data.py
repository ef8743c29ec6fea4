from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assessments.records import backup


class Command(BaseCommand):
    help = (
        "Back up the whole database to FILE: one versioned JSON document with every record, "
        "the audit log and its checkpoints, users (with password hashes: keep the file as "
        "safe as the database) and the catalogue. Restore with import_data into a new "
        "database. Checkpoint copies in AUDIT_CHECKPOINT_DIR stay where they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="where to write the export (replaced if it exists)")

    def handle(self, *args: Any, **options: Any) -> None:
        target = Path(options["file"])
        directory = target.resolve().parent
        if not directory.is_dir():
            raise CommandError(f"There is no directory {directory} to write {target.name} to.")
        # Written beside the target and renamed, so a failed export leaves no half file.
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                counts = backup.export_data(out)
            os.chmod(temporary, 0o600)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        rows = sum(counts.values())
        events = counts.get("assessments.auditevent", 0)
        self.stdout.write(
            f"Exported {rows} records ({events} audit events) from {len(counts)} tables to "
            f"{target}."
        )
