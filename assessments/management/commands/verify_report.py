"""``manage.py verify_report FILE``: is this the report (PDF) or OSCAL export (JSON) that
was issued?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from assessments.reports.verify import UNREADABLE, Verification, verify_file


class Command(BaseCommand):
    help = (
        "Say whether a PDF is a report this application issued, or a JSON file one of its "
        "OSCAL exports, unchanged, and which one. "
        "Exit status: 0 it matches; 1 it matches no issued report, or claims to be one but "
        "was changed; 2 the file cannot be checked (missing, empty, too big, not a PDF, "
        "truncated, damaged or encrypted; or JSON that is not an OSCAL export)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The PDF or OSCAL JSON file to check.")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        path = Path(file)
        try:
            with path.open("rb") as fh:
                result = verify_file(fh)
        except OSError as error:
            result = Verification(UNREADABLE, f"{path} cannot be read: {error.strerror}.")
        if result.ok:
            self.stdout.write(self.style.SUCCESS(result.message))
        else:
            self.stderr.write(result.message)
        for line in result.details:
            self.stdout.write(f"  {line}")
        if result.ok:
            self.stdout.write(f"  SHA-256 of the file: {result.file_sha256}")
        if result.exit_code:
            raise SystemExit(result.exit_code)
