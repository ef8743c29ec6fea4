"""Background work through Django's tasks API (``django.tasks``).

The database backend's worker (``manage.py db_worker``, started by ``make run``) runs
these; tests use the immediate backend. Arguments and return values are JSON.
"""

from __future__ import annotations

from typing import Any

from django.tasks import task

from assessments import actions, background, reminders, webhooks

# -- reviews: the daily reminder run


@background.register
@task()
def send_review_reminders(dry_run: bool = False) -> dict[str, Any]:
    """The daily review job: process expired exceptions (which may trigger reviews),
    then send each person one e-mail about their reviews due soon or overdue."""
    expired = actions.process_expired_exceptions(dry_run=dry_run)
    outcome = reminders.send_reminders(dry_run=dry_run)
    if not dry_run:
        webhooks.emit_daily()
    return {
        "dry_run": dry_run,
        "exceptions_expired": len(expired),
        "reviews_triggered_by_expiry": sum(1 for e in expired if e.reopened),
        "emails": len(outcome.reminders) if dry_run else len(outcome.sent),
        "items": sum(len(r.items) for r in (outcome.reminders if dry_run else outcome.sent)),
        "failed": [r.recipient.get_username() for r, _error in outcome.failed],
        "skipped": len(outcome.skipped),
    }


# -- reports: board packs rendered in the background


@background.register
@task()
def render_board_pack(job_id: int) -> None:
    """Render a queued board pack; progress and the PDF are kept on the BoardPackJob."""
    actions.run_board_pack_job(job_id)


# -- webhooks: one delivery attempt; the next is scheduled with backoff


@background.register
@task()
def deliver_webhook(delivery_id: int) -> None:
    webhooks.attempt(delivery_id)
