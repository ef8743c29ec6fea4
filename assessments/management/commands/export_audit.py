"""``manage.py export_audit``: the audit log as JSON lines, for a SIEM.

Each line is one event with every field of the hash chain (``prev_hash``, ``hash``
and what the hash covers), oldest first, so the receiver can check the chain. Run it
from cron with ``--since`` set to the last id it shipped.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assessments.models import AuditEvent
from assessments.records.audit import export_record


class Command(BaseCommand):
    help = (
        "Write audit events with an id above --since to standard output (or --output) as "
        "JSON lines, oldest first, with the hash-chain fields. Writes nothing to the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since", type=int, default=0, metavar="ID", help="Export events after this id."
        )
        parser.add_argument(
            "--format", choices=("jsonl",), default="jsonl", help="jsonl: one event per line."
        )
        parser.add_argument("--output", metavar="FILE", help="Write to FILE instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        since = options["since"]
        if since < 0:
            raise CommandError("--since is an event id: 0 or more.")
        events = AuditEvent.objects.filter(id__gt=since).order_by("id").iterator(chunk_size=2000)
        out = open(options["output"], "w", encoding="utf-8") if options["output"] else None  # noqa: SIM115
        count, last = 0, since
        try:
            for event in events:
                line = json.dumps(export_record(event), sort_keys=True, ensure_ascii=False)
                if out is not None:
                    out.write(line + "\n")
                else:
                    self.stdout.write(line)
                count, last = count + 1, event.pk
        finally:
            if out is not None:
                out.close()
        self.stderr.write(f"{count} event{'s' if count != 1 else ''} exported; last id {last}.")
