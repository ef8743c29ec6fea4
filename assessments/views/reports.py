"""Reports: assessment PDFs, board packs rendered in the background, verification of a
PDF someone holds, and CSV exports of the inventory and of every assessment version."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from assessments import actions
from assessments.access import scope
from assessments.access.roles import permission_required
from assessments.forms.reports import BoardPackForm, BoardSignoffForm
from assessments.middleware import accepts_upload, polled
from assessments.models import Agent, BoardPackJob, Classification, ReportRecord, Team
from assessments.reports import exports
from assessments.reports.board import (
    REGISTER_ATTACHMENT,
    TIER_LABELS,
    FilterError,
)
from assessments.reports.verify import MAX_BYTES, verify_file
from assessments.views.common import HtmxHttpRequest
from assessments.views.wizard import _get_assessment

RECENT_JOBS = 8
RECENT_RECORDS = 12


class VerifyForm(forms.Form):
    file = forms.FileField(
        label="Report PDF",
        help_text=(
            "A report (PDF) or OSCAL export (JSON) downloaded from this application. "
            "Nothing is stored."
        ),
        error_messages={
            "required": "Choose the PDF to verify.",
            "empty": "The file is empty: there is nothing to verify.",
        },
        allow_empty_file=False,
    )

    def clean_file(self) -> Any:
        file = self.cleaned_data["file"]
        if file.size > MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; no report this "
                "application issues is that large."
            )
        return file


def _scope(params: dict[str, Any], team_names: dict[str, str]) -> str:
    parts = []
    if params.get("team"):
        parts.append(team_names.get(params["team"], params["team"]))
    if params.get("tier"):
        parts.append(f"tier {TIER_LABELS.get(params['tier'], params['tier'])}")
    if params.get("classification"):
        parts.append(
            dict(Classification.choices).get(params["classification"], "not assessed").lower()
        )
    return ", ".join(parts) or "All active agents"


# A job nobody has picked up for this long suggests no worker is running.
WORKER_WAIT = dt.timedelta(minutes=2)


def _annotate(job: BoardPackJob, team_names: dict[str, str]) -> BoardPackJob:
    job.scope = _scope(job.params, team_names)  # type: ignore[attr-defined]
    job.waiting_long = (  # type: ignore[attr-defined]
        job.state == BoardPackJob.State.QUEUED and timezone.now() - job.created_at > WORKER_WAIT
    )
    return job


def _job_context(job: BoardPackJob) -> dict[str, Any]:
    return {"job": _annotate(job, dict(Team.objects.values_list("slug", "name")))}


def _readable_packs(request: HttpRequest) -> Any:
    return scope.readable_packs(BoardPackJob.objects.all(), request.user)


def _index_context(request: HtmxHttpRequest, **extra: Any) -> dict[str, Any]:
    team_names = dict(Team.objects.values_list("slug", "name"))
    jobs = list(
        _readable_packs(request).select_related("requested_by", "report").defer("pdf")[:RECENT_JOBS]
    )
    for job in jobs:
        _annotate(job, team_names)
    readable = scope.readable_reports(ReportRecord.objects.all(), request.user)
    records = list(
        readable.select_related("assessment__agent", "created_by").defer("pdf")[:RECENT_RECORDS]
    )
    return {
        "board_form": extra.pop("board_form", None) or BoardPackForm(user=request.user),
        "verify_form": extra.pop("verify_form", None) or VerifyForm(),
        "jobs": jobs,
        "records": records,
        "can_request": request.user.has_perm("assessments.add_boardpackjob"),
        "poam_all": scope.reads_all(request.user),
        "poam_teams": scope.readable_teams(request.user).order_by("name"),
        "max_mb": MAX_BYTES // (1024 * 1024),
        **extra,
    }


@permission_required("assessments.view_assessment")
@require_GET
def reports(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "reports/index.html", _index_context(request))


@permission_required("assessments.add_boardpackjob")
@require_POST
def board_pack_request(request: HtmxHttpRequest) -> HttpResponse:
    form = BoardPackForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            job = actions.request_board_pack(request.user, form.params(), request=request)
        except FilterError as error:
            form.add_error(None, str(error))
        else:
            if request.htmx:
                return render(request, "reports/job.html#job", _job_context(job))
            messages.success(request, "The board pack is being made. This page shows its progress.")
            return redirect("assessments:board_pack_status", job.pk)
    if request.htmx:
        response = render(
            request, "reports/index.html#board-form", {"board_form": form}, status=422
        )
        return reswap(retarget(response, "#board-form"), "outerHTML")
    return render(
        request, "reports/index.html", _index_context(request, board_form=form), status=422
    )


@polled
@permission_required("assessments.view_boardpackjob")
@require_GET
def board_pack_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(
        _readable_packs(request).select_related("requested_by", "report").defer("pdf"), pk=pk
    )
    template = "reports/job.html#job" if request.htmx else "reports/job.html"
    return render(request, template, _job_context(job))


@permission_required("assessments.view_boardpackjob")
@require_GET
def board_pack_download(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(_readable_packs(request).select_related("report"), pk=pk)
    if job.state != BoardPackJob.State.DONE or not job.pdf:
        messages.info(request, "That board pack is not ready yet.")
        return redirect("assessments:board_pack_status", job.pk)
    stamp = timezone.localdate(job.finished_at or job.created_at).isoformat()
    return _pdf_response(
        bytes(job.pdf), f"board-pack-{stamp}-{job.report.document_id if job.report else job.pk}.pdf"
    )


@permission_required("assessments.view_boardpackjob")
@require_GET
def board_pack_register(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The register attached to a finished pack (every agent in scope), as its own file:
    read from the pack itself, so it is the same bytes the PDF carries."""
    job = get_object_or_404(_readable_packs(request).select_related("report"), pk=pk)
    if job.state != BoardPackJob.State.DONE or not job.pdf:
        messages.info(request, "That board pack is not ready yet.")
        return redirect("assessments:board_pack_status", job.pk)
    from pypdf import PdfReader

    try:
        found = PdfReader(io.BytesIO(bytes(job.pdf))).attachments.get(REGISTER_ATTACHMENT)
    except Exception:  # a stored pack pypdf cannot read: treated as one without a register
        found = None
    if not found:
        messages.info(request, "That board pack was made before packs carried a register.")
        return redirect("assessments:board_pack_status", job.pk)
    stamp = timezone.localdate(job.finished_at or job.created_at).isoformat()
    name = f"agent-register-{stamp}-{job.report.document_id if job.report else job.pk}.csv"
    response = HttpResponse(found[0], content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@permission_required(scope.SIGNOFF_PERMISSION)
@require_http_methods(["GET", "POST"])
def board_pack_signoff(request: HtmxHttpRequest, document_id: str) -> HttpResponse:
    """Record the board's sign-off of an issued pack (a pack made here or by the command
    line): the page shows the pack and the form, or the sign-off once recorded."""
    if "\x00" in document_id:  # no document id holds NUL (PostgreSQL refuses it in text)
        raise Http404("There is no such board pack.")
    packs = scope.readable_reports(
        ReportRecord.objects.filter(kind=ReportRecord.Kind.BOARD), request.user
    )
    record = get_object_or_404(
        packs.select_related("created_by").defer("pdf"), document_id=document_id[:40]
    )
    scope.check_actor_sign_off(request.user, record)  # a team's pack: its reviewers only
    form = BoardSignoffForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():  # a second sign-off is refused by the action (409)
            try:
                actions.record_board_signoff(
                    request.user, record, request=request, **form.signoff()
                )
            except actions.AlreadySignedOff as error:
                messages.error(request, str(error))
                status = 409
            except actions.ActionError as error:
                form.add_error(None, str(error))
                status = 422
            else:
                messages.success(
                    request,
                    f"The board's sign-off of {record.document_id} is recorded: the next pack "
                    "of this scope compares with it.",
                )
                return redirect("assessments:board_pack_signoff", record.document_id)
        else:
            status = 422
        record.refresh_from_db(fields=["params"])
    team_names = dict(Team.objects.values_list("slug", "name"))
    context = {
        "record": record,
        "scope": _scope(record.params, team_names),
        "signed": record.params.get("signed_off"),
        "form": form,
        "job": BoardPackJob.objects.filter(report=record).only("pk").first(),
    }
    return render(request, "reports/signoff.html", context, status=status)


@accepts_upload(MAX_BYTES)
@permission_required("assessments.view_assessment")
@require_POST
def report_verify(request: HtmxHttpRequest) -> HttpResponse:
    form = VerifyForm(request.POST, request.FILES)
    result = None
    if form.is_valid():
        result = verify_file(form.cleaned_data["file"])
        form = VerifyForm()
    status = 200 if result is not None else 422
    if request.htmx:
        return render(
            request,
            "reports/index.html#verify",
            {"verify_form": form, "verification": result, "max_mb": MAX_BYTES // (1024 * 1024)},
            status=status,
        )
    return render(
        request,
        "reports/index.html",
        _index_context(request, verify_form=form, verification=result),
        status=status,
    )


@permission_required("assessments.view_assessment")
@require_GET
def assessment_report(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    assessment = _get_assessment(slug, number, request)
    try:
        issued = actions.issue_assessment_report(request.user, assessment, request=request)
    except actions.RateLimitedError as limited:
        response = HttpResponse(str(limited), status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(limited.retry_after)
        return response
    name = f"{assessment.agent.slug}-v{assessment.number}-{issued.record.document_id}.pdf"
    return _pdf_response(issued.pdf, name)


def _pdf_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _csv_response(lines: Any, filename: str) -> HttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    # A streaming response is not an HttpResponse subclass, but permission_required
    # only passes it through.
    return cast(HttpResponse, response)


@permission_required("assessments.view_assessment")
@require_GET
def export_inventory(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    agents = scope.readable(Agent.objects.all(), request.user)
    lines = exports.csv_lines(exports.INVENTORY_HEADER, exports.inventory_rows(today, agents))
    return _csv_response(lines, f"agent-inventory-{today.isoformat()}.csv")


@permission_required("assessments.view_assessment")
@require_GET
def export_assessments(request: HtmxHttpRequest) -> HttpResponse:
    agents = scope.readable(Agent.objects.all(), request.user)
    lines = exports.csv_lines(exports.ASSESSMENT_HEADER, exports.assessment_rows(agents))
    return _csv_response(lines, f"assessments-{timezone.localdate().isoformat()}.csv")
