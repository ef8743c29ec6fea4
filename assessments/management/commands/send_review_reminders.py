from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assessments import actions, reminders, webhooks
from assessments.management.commands.process_expired_exceptions import report


class Command(BaseCommand):
    help = (
        "Daily (from cron): process expired exceptions, then send each person ONE e-mail "
        "listing their reviews due in 30, 7 or 1 days and those overdue (the assignee, else "
        "the agent's owner). A review is never reminded twice at the same threshold. The "
        "same job runs through the tasks API as assessments.tasks.send_review_reminders."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List who would be reminded of what; send and change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        report(self, actions.process_expired_exceptions(dry_run=dry_run), dry_run=dry_run)
        outcome = reminders.send_reminders(dry_run=dry_run)
        if not dry_run:
            webhooks.emit_daily()
        done = outcome.reminders if dry_run else outcome.sent
        verb = "Would send" if dry_run else "Sent"
        items = sum(len(r.items) for r in done)
        self.stdout.write(
            f"{verb} {len(done)} e-mail{'s' if len(done) != 1 else ''} "
            f"about {items} review{'s' if items != 1 else ''}."
        )
        for reminder in done:
            self.stdout.write(f"  {reminder.recipient.email}: {reminder.subject()}")
            for item in reminder.items:
                self.stdout.write(
                    f"    - {item.review.agent.slug}: {item.when} ({item.review.due_on.isoformat()})"
                )
        for review, why in outcome.skipped:
            self.stderr.write(f"Not reminded: {review.agent.slug} ({why}).")
        if outcome.failed:
            for reminder, error in outcome.failed:
                self.stderr.write(f"Failed: {reminder.recipient.email}: {error}")
            raise CommandError(
                f"{len(outcome.failed)} e-mail(s) could not be sent; they will be retried on "
                "the next run."
            )
