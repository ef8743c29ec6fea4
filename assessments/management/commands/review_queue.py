from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from assessments.workflow import reviews


class Command(BaseCommand):
    help = (
        "Print the reassessment queue: open reviews of active agents that are overdue, "
        "triggered by a change, or due within --due-within days (default 30), most urgent "
        "first. JSON items carry agent slug, class, tier, due date, state (overdue: past its "
        "due date, triggered or not; triggered: a change asked for it, not yet overdue; due), "
        "triggered, overdue_since, reasons and assignee (see /figures/ for the definitions)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["json", "text"], default="text")
        parser.add_argument(
            "--due-within",
            type=int,
            default=reviews.QUEUE_DAYS,
            metavar="DAYS",
            help="Include scheduled reviews due within this many days (default 30).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["due_within"]
        if not 0 <= days <= 3650:
            raise CommandError("--due-within takes a number of days between 0 and 3650.")
        today = timezone.localdate()
        queue = reviews.sort_queue(reviews.queue_reviews(today, days), "due")
        items = [reviews.queue_item(review, today) for review in queue]
        if options["format"] == "json":
            self.stdout.write(json.dumps(items, indent=2))
            return
        if not items:
            self.stdout.write(
                f"Nothing to review: no review is overdue, triggered or due within {days} days."
            )
            return
        counts = {
            state: sum(1 for i in items if i["state"] == state)
            for state in ("overdue", "triggered", "due")
        }
        self.stdout.write(
            f"{len(items)} review{'s' if len(items) != 1 else ''}: {counts['overdue']} overdue, "
            f"{counts['triggered']} triggered, {counts['due']} due within {days} days."
        )
        self.stdout.write("")
        header = f"{'DUE':<10}  {'STATE':<9}  {'TIER':<4}  {'CLASS':<16}  {'ASSIGNEE':<12}  AGENT"
        self.stdout.write(header)
        for item in items:
            self.stdout.write(
                f"{item['due_on']:<10}  {item['state']:<9}  {item['tier'] or '-'!s:<4}  "
                f"{item['classification'] or 'not assessed':<16}  "
                f"{item['assignee'] or '-':<12}  {item['agent']}"
            )
            for reason in item["reasons"]:
                self.stdout.write(f"{'':<10}  - [{reason['code']}] {reason['detail']}")
