"""Report actions: issued assessment reports and board packs (queued and rendered)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments.access import ratelimit, scope
from assessments.actions.errors import ActionError
from assessments.models import (
    Assessment,
)
from assessments.records import audit
from assessments.workflow import background

# --------------------------------------------------------------------------- reports
# (Imports inside each function: the report modules import the wizard's views, which
# import this module.)


# How long a rendered draft is served again for unchanged content, and the window of
# the per-person render limit (settings.REPORT_RENDER_LIMIT renders per window).
DRAFT_CACHE_SECONDS = 60 * 60
REPORT_RENDER_WINDOW = 60


class RateLimitedError(ActionError):
    """Too many requests; ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class IssuedReport:
    """A recorded report and its PDF (kept in the record only for approved assessments)."""

    record: Any
    pdf: bytes


def _report_author(actor: Any, actor_label: str | None) -> str:
    if actor is not None:
        return actor.get_full_name() or actor.get_username()
    return actor_label or "the command line"


def issue_assessment_report(
    actor: Any,
    assessment: Assessment,
    *,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
) -> IssuedReport:
    """The PDF report of ``assessment``, recorded so a copy can be verified later.

    An approved assessment's report is rendered once and kept: every later call returns
    that record and the very same bytes. Any other status is rendered afresh each time
    (with a DRAFT watermark); each copy gets its own record, without the PDF itself.
    """
    from assessments.models import ReportRecord
    from assessments.reports.assessment import render_assessment_report
    from assessments.reports.pdf import new_document_id, sha256_hex

    approved = assessment.status == Assessment.Status.APPROVED
    kept = ReportRecord.objects.filter(
        assessment=assessment, kind=ReportRecord.Kind.ASSESSMENT, pdf__isnull=False
    ).order_by("created_at", "pk")
    if approved and (record := kept.first()) is not None:
        return IssuedReport(record, bytes(record.pdf or b""))
    # A downloaded draft is rendered again only when what it states changed: the same
    # person asking for the same content gets the copy already issued to them (same
    # document, same bytes). The command line always renders a new copy.
    draft_key = None
    if not approved and request is not None:
        from assessments.reports.assessment import report_content
        from assessments.reports.pdf import canonical_json

        digest = sha256_hex(canonical_json(report_content(assessment)))
        who = actor.pk if getattr(actor, "is_authenticated", False) else actor_label or "-"
        draft_key = f"draft-report:{assessment.pk}:{digest}:{who}"
        cached = cache.get(draft_key)
        if cached and (
            record := ReportRecord.objects.filter(
                pk=cached[0], assessment=assessment, content_sha256=digest
            ).first()
        ):
            return IssuedReport(record, cached[1])
    # Rendering costs about half a second of CPU: limit how often one person can ask.
    if (
        request is not None
        and getattr(actor, "is_authenticated", False)
        and (
            wait := ratelimit.take(
                f"report-render:{actor.pk}", settings.REPORT_RENDER_LIMIT, REPORT_RENDER_WINDOW
            )
        )
    ):
        raise RateLimitedError(
            "You have made many reports in the last minute. Try again in a minute.", wait
        )
    now = timezone.now()
    document_id = new_document_id("assessment", now)
    author = _report_author(actor, actor_label)
    report = render_assessment_report(
        assessment, document_id=document_id, generated_at=now, generated_by=author
    )
    with transaction.atomic():
        if approved:
            # Two first downloads at once: the second waits here and serves the first's.
            Assessment.objects.select_for_update(of=("self",)).filter(pk=assessment.pk).exists()
            if (record := kept.first()) is not None:
                return IssuedReport(record, bytes(record.pdf or b""))
        record = ReportRecord.objects.create(
            document_id=document_id,
            kind=ReportRecord.Kind.ASSESSMENT,
            assessment=assessment,
            content_sha256=report.content_sha256,
            file_sha256=sha256_hex(report.rendered.data),
            pdf=report.rendered.data if approved else None,
            params={
                "agent": assessment.agent.slug,
                "version": assessment.number,
                "status": assessment.status,
                "generated_by": author,
            },
            pages=report.rendered.pages,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ReportRecord.objects.filter(pk=record.pk).update(created_at=now)
        record.created_at = now
        if draft_key:  # checked against the record when read, should this roll back
            cache.set(draft_key, (record.pk, report.rendered.data), DRAFT_CACHE_SECONDS)
        audit.record(
            "report.issue",
            actor=actor,
            obj=record,
            agent=assessment.agent,
            request=request,
            actor_label=None if actor is not None else author,
            changes={
                "kind": "assessment",
                "assessment": f"v{assessment.number}",
                "status": assessment.status,
                "kept": approved,
                "file_sha256": record.file_sha256,
                "content_sha256": record.content_sha256,
            },
        )
    return IssuedReport(record, report.rendered.data)


def issue_board_pack(
    actor: Any,
    params: dict[str, Any],
    *,
    progress: Any = None,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
) -> IssuedReport:
    """Render and record a board pack for ``params`` (see reports.board.BoardFilters)."""
    from assessments.models import ReportRecord
    from assessments.reports.board import BoardFilters, render_board_pack
    from assessments.reports.pdf import new_document_id, sha256_hex

    filters = BoardFilters.from_params(params)
    now = timezone.now()
    document_id = new_document_id("board", now)
    author = _report_author(actor, actor_label)
    pack = render_board_pack(
        filters, document_id=document_id, generated_at=now, generated_by=author, progress=progress
    )
    with transaction.atomic():
        record = ReportRecord.objects.create(
            document_id=document_id,
            kind=ReportRecord.Kind.BOARD,
            content_sha256=pack.content_sha256,
            file_sha256=sha256_hex(pack.rendered.data),
            params={
                **filters.to_params(),
                "generated_by": author,
                "figures": pack.headline,
                **pack.recorded,
            },
            pages=pack.rendered.pages,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ReportRecord.objects.filter(pk=record.pk).update(created_at=now)
        record.created_at = now
        audit.record(
            "report.issue",
            actor=actor,
            obj=record,
            request=request,
            actor_label=None if actor is not None else author,
            changes={
                "kind": "board",
                "filters": filters.to_params(),
                "pages": record.pages,
                "file_sha256": record.file_sha256,
                "content_sha256": record.content_sha256,
            },
        )
    return IssuedReport(record, pack.rendered.data)


class AlreadySignedOff(ActionError):
    """The pack's sign-off is recorded already: it is recorded once, never replaced."""


# A board's sign-off: the longest chair's name, resolution and list of attendees kept.
SIGNOFF_CHAIR_MAX = 200
SIGNOFF_RESOLUTION_MAX = 2000
SIGNOFF_ATTENDEES_MAX = 50


@transaction.atomic
def record_board_signoff(
    actor: Any,
    record: Any,
    *,
    chair: str,
    attendees: str,
    resolution: str,
    meeting_date: Any,
    request: HttpRequest | None = None,
) -> Any:
    """Record that the board signed off the pack ``record`` (a ReportRecord): chair,
    attendees (names separated by commas), the resolution and the meeting date. A
    signed-off pack is the baseline of the next pack of the same scope. The PDF itself
    never changes, and a sign-off is recorded once: a second one is refused."""
    from assessments.models import ReportRecord

    record = ReportRecord.objects.select_for_update().defer("pdf").get(pk=record.pk)
    if record.kind != ReportRecord.Kind.BOARD:
        raise ActionError("Only a board pack is signed off by a board.")
    scope.check_actor_sign_off(actor, record)
    if done := record.params.get("signed_off"):
        raise AlreadySignedOff(
            f"{record.document_id} is already signed off: the board's sign-off of "
            f"{done.get('meeting_date', '')} (chair {done.get('chair', '')}) was recorded "
            f"by {done.get('recorded_by_name') or done.get('recorded_by') or 'someone'}. "
            "A sign-off is recorded once; nothing was changed."
        )
    chair, resolution = chair.strip(), resolution.strip()
    names = [a.strip() for a in attendees.split(",") if a.strip()]
    if not chair or not resolution:
        raise ActionError("Name the chair and write the resolution the board passed.")
    if len(chair) > SIGNOFF_CHAIR_MAX or len(resolution) > SIGNOFF_RESOLUTION_MAX:
        raise ActionError(
            f"The chair's name is at most {SIGNOFF_CHAIR_MAX} characters and the "
            f"resolution at most {SIGNOFF_RESOLUTION_MAX}."
        )
    if len(names) > SIGNOFF_ATTENDEES_MAX:
        raise ActionError(f"Name at most {SIGNOFF_ATTENDEES_MAX} attendees.")
    if meeting_date > timezone.localdate():
        raise ActionError("The meeting date cannot be in the future: record it after the meeting.")
    signed = {
        "chair": chair,
        "attendees": names,
        "resolution": resolution,
        "meeting_date": meeting_date.isoformat(),
        "recorded_by": actor.get_username() if actor is not None else "",
        "recorded_by_name": _report_author(actor, "the system"),
        "recorded_at": timezone.now().isoformat(),
    }
    record.params = {**record.params, "signed_off": signed}
    record.save(update_fields=["params"])
    audit.record(
        "report.signoff", actor=actor, obj=record, request=request, changes={"signed_off": signed}
    )
    return record


@transaction.atomic
def request_board_pack(
    actor: Any, params: dict[str, Any], *, request: HttpRequest | None = None
) -> Any:
    """Queue a board pack; the background task renders it (``run_board_pack_job``)."""
    from assessments.models import BoardPackJob
    from assessments.reports.board import BoardFilters

    filters = BoardFilters.from_params(params)  # refuses bad filters before queueing
    job = BoardPackJob.objects.create(
        requested_by=actor, params=filters.to_params(), message="Waiting for a worker"
    )
    audit.record(
        "report.board_request",
        actor=actor,
        obj=job,
        request=request,
        changes={"filters": filters.to_params()},
    )
    background.enqueue("render_board_pack", job.pk)
    return job


def run_board_pack_job(job_id: int) -> None:
    """Render a queued board pack, reporting progress on the job as it goes."""
    import logging
    import time

    from assessments.models import BoardPackJob

    started = BoardPackJob.objects.filter(pk=job_id, state=BoardPackJob.State.QUEUED).update(
        state=BoardPackJob.State.RUNNING, progress=1, message="Starting"
    )
    if not started:  # already run, or running elsewhere: a retried task does nothing
        return
    job = BoardPackJob.objects.select_related("requested_by").get(pk=job_id)
    last = [0.0]

    def progress(percent: int, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < 0.4 and percent < 95:
            return  # the browser polls once a second; fewer writes is kinder to SQLite
        last[0] = now
        BoardPackJob.objects.filter(pk=job_id).update(progress=percent, message=message[:255])

    from assessments.reports.glyphs import MissingGlyphError

    try:
        issued = issue_board_pack(job.requested_by, job.params, progress=progress)
    except MissingGlyphError as error:  # the page says which character, in which field
        BoardPackJob.objects.filter(pk=job_id).update(
            state=BoardPackJob.State.FAILED,
            message=str(error)[:255],
            finished_at=timezone.now(),
        )
        return
    except Exception as error:
        logging.getLogger(__name__).exception("Board pack %s failed", job_id)
        BoardPackJob.objects.filter(pk=job_id).update(
            state=BoardPackJob.State.FAILED,
            message=f"The board pack could not be made ({type(error).__name__}). "
            "Try again; if it fails again, tell an administrator.",
            finished_at=timezone.now(),
        )
        return
    BoardPackJob.objects.filter(pk=job_id).update(
        state=BoardPackJob.State.DONE,
        progress=100,
        message=f"Ready: {issued.record.pages} pages",
        pdf=issued.pdf,
        report=issued.record,
        finished_at=timezone.now(),
    )
