"""Background work through Django's tasks API (``django.tasks``).

The database backend's worker (``manage.py db_worker``, started by ``make run``) runs
these; tests use the immediate backend. Arguments and return values are JSON.
"""

from __future__ import annotations

from typing import Any

from django.tasks import task

from assessments import actions
from assessments.interchange import webhooks
from assessments.portfolio import stored as figures
from assessments.records import audit
from assessments.workflow import background, notifications

# -- reviews and notifications: the daily run, and e-mails sent at once


@background.register
@task()
def send_review_reminders(dry_run: bool = False) -> dict[str, Any]:
    """The daily job: process expired exceptions (which may trigger reviews), announce
    exceptions running out, then send each person ONE digest: their reviews due soon or
    overdue and their notifications waiting for a digest."""
    expired = actions.process_expired_exceptions(dry_run=dry_run)
    inactive = [] if dry_run else actions.flag_inactive_agents()
    # Access certification reminders and escalations, before the digests that carry them.
    certifying = [] if dry_run else actions.send_certification_reminders()
    outcome = notifications.send_daily_digests(dry_run=dry_run)
    if not dry_run:
        webhooks.emit_daily()
    done = outcome.to_email if dry_run else outcome.sent
    checkpoint = None if dry_run else audit.write_checkpoint()
    return {
        "dry_run": dry_run,
        "exceptions_expired": len(expired),
        "reviews_triggered_by_expiry": sum(1 for e in expired if e.reopened),
        "inactive_agents_flagged": len(inactive),
        "certification_notices": len(certifying),
        "exceptions_expiring": len(outcome.expiring),
        "emails": len(done),
        "items": sum(len(d.items) for d in done),
        "notifications": sum(len(d.notices) for d in done),
        "failed": [d.recipient.get_username() for d, _error in outcome.failed],
        "skipped": len(outcome.skipped),
        "audit_checkpoint": _checkpoint_summary(checkpoint),
    }


# -- audit: signed checkpoints of the log (also written by the daily run above)


@background.register
@task()
def write_audit_checkpoint() -> dict[str, Any]:
    """Write a signed checkpoint of the audit log, in the database and outside it."""
    return _checkpoint_summary(audit.write_checkpoint())


def _checkpoint_summary(outcome: audit.CheckpointOutcome | None) -> dict[str, Any]:
    if outcome is None:
        return {}
    return {
        "event_count": outcome.checkpoint.event_count,
        "published_to": outcome.published_to,
        "failures": outcome.failures,
    }


@background.register
@task()
def send_notification_emails(notification_ids: list[int]) -> int:
    """E-mail notifications to the people who chose to hear at once (one e-mail each)."""
    return notifications.send_immediate(notification_ids)


# -- reports: board packs rendered in the background


@background.register
@task()
def render_board_pack(job_id: int) -> None:
    """Render a queued board pack; progress and the PDF are kept on the BoardPackJob."""
    actions.run_board_pack_job(job_id)


# -- evidence: large files (and AWS exports) analysed in the background


@background.register
@task()
def analyse_evidence_job(job_id: int) -> None:
    """Analyse a queued evidence job; progress and the upload are kept on the EvidenceJob."""
    actions.run_evidence_job(job_id)


# -- webhooks: one delivery attempt; the next is scheduled with backoff


@background.register
@task()
def deliver_webhook(delivery_id: int) -> None:
    webhooks.attempt(delivery_id)


# -- discovery: reading uploaded exports, so that no request waits on a 10,000-role file


@background.register
@task()
def read_discovery_run(run_id: int) -> dict[str, Any]:
    """Read a stored discovery run and reconcile it with the inventory."""
    from assessments.actions import discovery as discovery_actions

    run = discovery_actions.read_discovery_run(run_id)
    return {"run": run.pk, "status": run.status, "counts": run.counts}


# -- the portfolio's figures, computed again after a change (assessments/portfolio/stored.py)


@background.register
@task()
def refresh_portfolio_figures(scope: str | None = None, requested_at: str | None = None) -> int:
    """Compute and store the portfolio figures of ``scope`` (every stored scope when
    None) unless a computation begun after ``requested_at`` covered them."""
    return len(figures.refresh(scope, requested_at))
