from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assessments import actions
from assessments.interchange import webhooks
from assessments.management.commands.process_expired_exceptions import report
from assessments.records import audit
from assessments.workflow import notifications


class Command(BaseCommand):
    help = (
        "Daily (from cron): process expired exceptions, open a 'Decommission?' review of "
        "each agent not seen acting for INACTIVE_AGENT_DAYS, announce exceptions expiring in 30, 7 "
        "or 1 days, then send each person ONE digest e-mail: their reviews due in 30, 7 or 1 "
        "days and those overdue (the assignee, else the agent's owner), and their "
        "notifications waiting for a digest. People who chose no e-mail see them in the app "
        "only. A review is never reminded twice at the same threshold. The same job runs "
        "through the tasks API as assessments.tasks.send_review_reminders. "
        "Then it writes the day's signed audit checkpoint (see audit_checkpoint)."
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
        if not dry_run:
            flagged = actions.flag_inactive_agents()
            if flagged:
                self.stdout.write(
                    f"Opened {len(flagged)} “Decommission?” review"
                    f"{'s' if len(flagged) != 1 else ''} of inactive agents."
                )
        outcome = notifications.send_daily_digests(dry_run=dry_run)
        if not dry_run:
            webhooks.emit_daily()
        done = outcome.to_email if dry_run else outcome.sent
        verb = "Would send" if dry_run else "Sent"
        items = sum(len(d.items) for d in done)
        notices = sum(len(d.notices) for d in done)
        others = (
            f" and {notices} other notification{'s' if notices != 1 else ''}" if notices else ""
        )
        if outcome.expiring:
            n = len(outcome.expiring)
            self.stdout.write(
                f"{'Would announce' if dry_run else 'Announced'} {n} exception"
                f"{'s' if n != 1 else ''} expiring soon."
            )
        self.stdout.write(
            f"{verb} {len(done)} e-mail{'s' if len(done) != 1 else ''} "
            f"about {items} review{'s' if items != 1 else ''}{others}."
        )
        for digest in done:
            self.stdout.write(f"  {digest.recipient.email}: {digest.subject()}")
            for item in digest.items:
                self.stdout.write(
                    f"    - {item.review.agent.slug}: {item.when} ({item.review.due_on.isoformat()})"
                )
            for notice in digest.notices:
                self.stdout.write(f"    - {notice.title}")
        silent = [d for d in outcome.digests if not d.emailed]
        if silent:
            self.stdout.write(
                f"{len(silent)} {'person' if len(silent) == 1 else 'people'} chose no e-mail: "
                "their reminders are in the app only."
            )
        for review, why in outcome.skipped:
            self.stderr.write(f"Not reminded: {review.agent.slug} ({why}).")
        failures = []
        if not dry_run:
            checkpoint = audit.write_checkpoint()
            self.stdout.write(
                f"Wrote {checkpoint.checkpoint.label} to {', '.join(checkpoint.published_to)}."
            )
            failures = checkpoint.failures
            for failure in failures:
                self.stderr.write(f"Audit checkpoint not published: {failure}")
        if outcome.failed:
            for digest, error in outcome.failed:
                self.stderr.write(f"Failed: {digest.recipient.email}: {error}")
            raise CommandError(
                f"{len(outcome.failed)} e-mail(s) could not be sent; they will be retried on "
                "the next run."
            )
        if failures:
            raise CommandError("The audit checkpoint could not be published everywhere.")
