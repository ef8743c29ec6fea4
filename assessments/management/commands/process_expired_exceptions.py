from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from assessments import actions


class Command(BaseCommand):
    help = (
        "Process exceptions that have expired: record each once and, when its gap is open "
        "again, trigger the agent's reassessment with the reason. Safe to run repeatedly; "
        "send_review_reminders runs it first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would happen; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        expired = actions.process_expired_exceptions(dry_run=dry_run)
        report(self, expired, dry_run=dry_run)


def report(command: BaseCommand, expired: list[actions.ExpiredException], *, dry_run: bool) -> None:
    prefix = "Would process" if dry_run else "Processed"
    if not expired:
        command.stdout.write("No exception has expired since the last run.")
        return
    command.stdout.write(
        f"{prefix} {len(expired)} expired exception{'s' if len(expired) != 1 else ''}:"
    )
    for item in expired:
        e = item.exception
        outcome = "gap open again: review triggered" if item.reopened else "gap no longer open"
        if dry_run and item.reopened:
            outcome = "gap open again: would trigger a review"
        command.stdout.write(
            f"  {e.agent.slug}: {e.subject} expired on {e.expires_on.isoformat()} ({outcome})"
        )
