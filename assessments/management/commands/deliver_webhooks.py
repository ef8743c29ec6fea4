"""``manage.py deliver_webhooks``: attempt the webhook deliveries that are due.

With a tasks backend that runs work later by itself (RQ), retries need nothing more.
The database backend's worker runs deferred tasks too; this command is the fallback
for any backend that cannot, and a way to flush the queue by hand. Run it from cron
every few minutes.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from assessments.interchange import webhooks


class Command(BaseCommand):
    help = "Attempt every pending webhook delivery whose next attempt is due."

    def handle(self, *args: Any, **options: Any) -> None:
        due = webhooks.due_deliveries()
        outcomes = [webhooks.attempt(pk) for pk in due]
        done = [d for d in outcomes if d is not None]
        delivered = sum(1 for d in done if d.state == "delivered")
        self.stdout.write(
            f"{len(done)} attempted: {delivered} delivered, {len(done) - delivered} not yet."
        )
