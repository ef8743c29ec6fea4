"""OSCAL downloads: an assessment's results, a board pack's scope, and the POA&M.

Each download is issued through ``actions.oscal`` (recorded, fingerprinted and audited,
as the PDFs are) and read-only for the person asking; who may ask is who may read the
PDF beside it. Bad input (an unknown team, a scope with nothing to export) is a message
on the page it came from, never an error page.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET

from assessments import actions
from assessments.access import scope
from assessments.access.roles import permission_required
from assessments.models import BoardPackJob
from assessments.oscal.scope import ScopeError, poam_scope
from assessments.reports.board import FilterError
from assessments.views.common import HtmxHttpRequest
from assessments.views.wizard import _get_assessment

CONTENT_TYPE = "application/json; charset=utf-8"


def json_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@permission_required("assessments.view_assessment")
@require_GET
def assessment_oscal(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    assessment = _get_assessment(slug, number, request)
    issued = actions.issue_oscal_results(request.user, assessment, request=request)
    name = f"{assessment.agent.slug}-v{assessment.number}-{issued.record.document_id}.oscal.json"
    return json_response(issued.pdf, name)


@permission_required("assessments.view_boardpackjob")
@require_GET
def board_pack_oscal(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Assessment results for the agents the board pack covers (its filters)."""
    job = get_object_or_404(
        scope.readable_packs(BoardPackJob.objects.all(), request.user).defer("pdf"), pk=pk
    )
    try:
        issued = actions.issue_oscal_board_results(request.user, job.params, request=request)
    except (actions.NothingToExport, FilterError) as error:
        messages.info(request, str(error))
        return redirect("assessments:board_pack_status", job.pk)
    stamp = timezone.localdate().isoformat()
    return json_response(issued.pdf, f"assessment-results-{stamp}-{issued.record.document_id}.json")


@permission_required("assessments.view_assessment")
@require_GET
def oscal_poam(request: HtmxHttpRequest) -> HttpResponse:
    try:
        team, agents = poam_scope(request.user, request.GET.get("team", ""))
        issued = actions.issue_oscal_poam(request.user, team=team, agents=agents, request=request)
    except (ScopeError, actions.NothingToExport) as error:
        messages.info(request, str(error))
        return redirect("assessments:reports")
    which = team.slug if team is not None else "portfolio"
    stamp = timezone.localdate().isoformat()
    return json_response(issued.pdf, f"poam-{which}-{stamp}-{issued.record.document_id}.json")
