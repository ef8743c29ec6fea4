"""Reports: an assessment's PDF, board packs rendered in the background, CSV exports."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router
from ninja.responses import Status

from assessments import actions
from assessments.access import scope
from assessments.api.assessments import _get
from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import BoardPackIn, BoardPackOut, BoardSignoffIn
from assessments.forms.reports import BoardPackForm, BoardSignoffForm
from assessments.models import Agent, BoardPackJob
from assessments.reports import exports
from assessments.reports.board import FilterError

router = Router(tags=["reports"])

PDF = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}}


def _download(data: bytes | Any, filename: str, content_type: str) -> HttpResponse:
    cls = StreamingHttpResponse if not isinstance(data, bytes) else HttpResponse
    response = cls(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return cast(HttpResponse, response)


@router.get(
    "/agents/{slug}/assessments/{number}/report.pdf",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "The PDF report", **PDF}}},
    url_name="assessment_report",
)
def assessment_report(request: HttpRequest, slug: str, number: int) -> Any:
    """The assessment's PDF report (an approved one is the same file every time)."""
    user = require(request, "read", "assessments.view_assessment")
    assessment = _get(slug, number, user)
    issued = actions.issue_assessment_report(user, assessment, request=request)
    name = f"{assessment.agent.slug}-v{assessment.number}-{issued.record.document_id}.pdf"
    return _download(issued.pdf, name, "application/pdf")


def _form_errors(form: Any) -> list[dict[str, str]]:
    return [
        {"location": f"body.{name}" if name != "__all__" else "body", "message": str(m)}
        for name, messages in form.errors.items()
        for m in messages
    ]


def _job_out(job: BoardPackJob) -> dict[str, Any]:
    from assessments.api.core import absolute

    done = job.state == BoardPackJob.State.DONE
    return {
        "id": job.pk,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "params": job.params,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "document_id": job.report.document_id if job.report else None,
        "download": absolute("board_pack_pdf", job.pk) if done else None,
        "signed_off": (job.report.params.get("signed_off") or None) if job.report else None,
    }


def _job(job_id: int, user: Any) -> BoardPackJob:
    if not 0 < job_id < 2**63:
        raise ApiError(404, "There is no such board pack.")
    jobs = scope.readable_packs(BoardPackJob.objects.all(), user)
    return get_object_or_404(jobs.select_related("report").defer("pdf"), pk=job_id)


@router.post("/board-packs", response={202: BoardPackOut, **ERRORS}, url_name="board_pack_create")
def create_board_pack(request: HttpRequest, body: BoardPackIn) -> Any:
    """Ask for a board pack; it renders in the background. Poll its status. Viewers (the
    board's readers) may ask too, so a ``read`` token is enough."""
    user = require(request, "read", "assessments.add_boardpackjob")
    data = {k: ("" if v is None else str(v)) for k, v in body.dict().items()}
    form = BoardPackForm(data, user=user)
    if not form.is_valid():
        raise ApiError(422, "The board pack cannot be made as asked.", errors=_form_errors(form))
    try:
        job = actions.request_board_pack(user, form.params(), request=request)
    except FilterError as error:
        raise ApiError(422, str(error)) from error
    return Status(202, _job_out(_job(job.pk, user)))


@router.get("/board-packs/{job_id}", response={200: BoardPackOut, **ERRORS}, url_name="board_pack")
def board_pack(request: HttpRequest, job_id: int) -> Any:
    user = require(request, "read", "assessments.view_boardpackjob")
    return _job_out(_job(job_id, user))


@router.get(
    "/board-packs/{job_id}/pdf",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "The board pack", **PDF}}},
    url_name="board_pack_pdf",
)
def board_pack_pdf(request: HttpRequest, job_id: int) -> Any:
    user = require(request, "read", "assessments.view_boardpackjob")
    if not 0 < job_id < 2**63:
        raise ApiError(404, "There is no such board pack.")
    jobs = scope.readable_packs(BoardPackJob.objects.all(), user)
    job = get_object_or_404(jobs.select_related("report"), pk=job_id)
    if job.state != BoardPackJob.State.DONE or not job.pdf:
        raise ApiError(409, f"The board pack is not ready yet ({job.get_state_display()}).")
    stamp = timezone.localdate(job.finished_at or job.created_at).isoformat()
    name = f"board-pack-{stamp}-{job.report.document_id if job.report else job.pk}.pdf"
    return _download(bytes(job.pdf), name, "application/pdf")


@router.post(
    "/board-packs/{job_id}/sign-off",
    response={200: BoardPackOut, **ERRORS},
    url_name="board_pack_signoff",
)
def board_pack_signoff(request: HttpRequest, job_id: int, body: BoardSignoffIn) -> Any:
    """Record the board's sign-off of a finished pack: chair, attendees, the resolution
    and the meeting date. The pack becomes the baseline of the next pack of its scope.
    Recorded once: a pack signed off already is a 409, and nothing changes."""
    user = require(request, "review", scope.SIGNOFF_PERMISSION)
    job = _job(job_id, user)
    if job.state != BoardPackJob.State.DONE or job.report is None:
        raise ApiError(409, f"The board pack is not ready yet ({job.get_state_display()}).")
    form = BoardSignoffForm({**body.dict(), "meeting_date": body.meeting_date.isoformat()})
    if not form.is_valid():
        raise ApiError(422, "The sign-off cannot be recorded as sent.", errors=_form_errors(form))
    try:
        actions.record_board_signoff(user, job.report, request=request, **form.signoff())
    except actions.AlreadySignedOff as error:
        raise ApiError(409, str(error)) from error
    return _job_out(_job(job.pk, user))


@router.get(
    "/exports/inventory.csv",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "The inventory as CSV", **CSV}}},
    url_name="export_inventory",
)
def export_inventory(request: HttpRequest) -> Any:
    """The inventory, as the Reports page exports it."""
    user = require(request, "read", "assessments.view_assessment")
    today = timezone.localdate()
    agents = scope.readable(Agent.objects.all(), user)
    lines = exports.csv_lines(exports.INVENTORY_HEADER, exports.inventory_rows(today, agents))
    return _download(lines, f"agent-inventory-{today.isoformat()}.csv", "text/csv; charset=utf-8")


@router.get(
    "/exports/assessments.csv",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "Every assessment version as CSV", **CSV}}},
    url_name="export_assessments",
)
def export_assessments(request: HttpRequest) -> Any:
    user = require(request, "read", "assessments.view_assessment")
    agents = scope.readable(Agent.objects.all(), user)
    lines = exports.csv_lines(exports.ASSESSMENT_HEADER, exports.assessment_rows(agents))
    name = f"assessments-{timezone.localdate().isoformat()}.csv"
    return _download(lines, name, "text/csv; charset=utf-8")


# --------------------------------------------------------------------------- OSCAL (issue 27)

OSCAL = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "description": "An OSCAL 1.2 document (NIST schema)"}
        }
    }
}


@router.get(
    "/agents/{slug}/assessments/{number}/oscal-results.json",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "OSCAL assessment results", **OSCAL}}},
    url_name="assessment_oscal",
)
def assessment_oscal(request: HttpRequest, slug: str, number: int) -> Any:
    """The assessment as OSCAL 1.2 assessment results: a finding per required control,
    observations from the answers and accepted evidence, the 800-53 controls reviewed.
    An approved assessment's file is the same every time; it carries the same content
    fingerprint as the PDF report."""
    user = require(request, "read", "assessments.view_assessment")
    assessment = _get(slug, number, user)
    issued = actions.issue_oscal_results(user, assessment, request=request)
    name = f"{assessment.agent.slug}-v{assessment.number}-{issued.record.document_id}.oscal.json"
    return _download(issued.pdf, name, "application/json; charset=utf-8")


@router.get(
    "/board-packs/{job_id}/oscal-results.json",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "OSCAL assessment results", **OSCAL}}},
    url_name="board_pack_oscal",
)
def board_pack_oscal(request: HttpRequest, job_id: int) -> Any:
    """OSCAL assessment results of every agent the board pack covers (its filters)."""
    user = require(request, "read", "assessments.view_boardpackjob")
    job = _job(job_id, user)
    try:
        issued = actions.issue_oscal_board_results(user, job.params, request=request)
    except (actions.NothingToExport, FilterError) as error:
        raise ApiError(409, str(error)) from error
    name = f"assessment-results-{timezone.localdate().isoformat()}-{issued.record.document_id}.json"
    return _download(issued.pdf, name, "application/json; charset=utf-8")


@router.get(
    "/exports/oscal-poam.json",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "OSCAL plan of action", **OSCAL}}},
    url_name="oscal_poam",
)
def oscal_poam(request: HttpRequest, team: str = "") -> Any:
    """An OSCAL 1.2 plan of action and milestones: every gap of each active agent's latest
    approved assessment with its owner, due date and accepting exception. ``team`` (a
    slug) narrows it to one team; callers limited to some teams must give one."""
    from assessments.oscal.scope import ScopeError, poam_scope

    user = require(request, "read", "assessments.view_assessment")
    try:
        chosen, agents = poam_scope(user, team)
    except ScopeError as error:
        raise ApiError(422 if not team else 404, str(error)) from error
    try:
        issued = actions.issue_oscal_poam(user, team=chosen, agents=agents, request=request)
    except actions.NothingToExport as error:
        raise ApiError(409, str(error)) from error
    which = chosen.slug if chosen is not None else "portfolio"
    name = f"poam-{which}-{timezone.localdate().isoformat()}-{issued.record.document_id}.json"
    return _download(issued.pdf, name, "application/json; charset=utf-8")
