"""Evidence: upload an agent's access configuration, then accept or reject each proposal.

Files are uploaded for an agent (from its page, or from the wizard of its draft) and
analysed at once; the evidence page lists the proposals with the rule in a sentence
and the lines behind it. Accepting one makes it an answer of the agent's draft,
marked as from evidence; rejecting one needs a reason. With htmx, a decision swaps
the proposal and, out of band, the live decision panel.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from assessments import actions, evidence
from assessments.access import scope
from assessments.access.roles import permission_required
from assessments.evidence.common import MAX_BYTES
from assessments.forms import EvidenceUploadForm, ProposalDecisionForm
from assessments.middleware import accepts_upload, polled
from assessments.models import (
    Agent,
    Assessment,
    EvidenceFile,
    EvidenceJob,
    EvidenceProposal,
    EvidenceUpload,
)
from assessments.presentation import display_value, panel_context
from assessments.records import provenance
from assessments.views.common import HtmxHttpRequest, check_scope, scoped_agent
from assessments.views.wizard import WizardState
from assessments.workflow import decisions


def _draft(agent: Agent) -> Assessment | None:
    """The agent's assessment that proposals are accepted into: its editable draft."""
    return (
        Assessment.objects.filter(agent=agent, status__in=Assessment.EDITABLE_STATUSES)
        .select_related("agent", "agent__owner", "agent__team", "catalogue", "assessor", "reviewer")
        .first()
    )


# One upload holds a few files of at most evidence.common.MAX_BYTES each; a larger body is
# refused from its Content-Length before it is read (RequestSizeLimitMiddleware).
MAX_FILES_BYTES = 4 * MAX_BYTES


@accepts_upload(MAX_FILES_BYTES)
@permission_required("assessments.change_assessment")
def evidence_add(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(request, slug, Agent.objects.select_related("owner", "team"), need="edit")
    draft = _draft(agent)
    if request.method == "POST":
        form = EvidenceUploadForm(request.POST, request.FILES)
        too_big = [
            f.name
            for f in (form.cleaned_data.get("uploads") or [] if form.is_valid() else [])
            if f.size > evidence.MAX_BYTES
        ]
        if too_big:
            form.add_error(
                "uploads",
                f"{', '.join(too_big)}: larger than the "
                f"{evidence.MAX_BYTES // 1024 // 1024} MiB an evidence file may be. "
                "Nothing was stored.",
            )
        elif form.is_valid():
            uploaded = [(f.name, _read_capped(f)) for f in form.cleaned_data["uploads"]]
            if actions.needs_background(form.cleaned_data["kind"], uploaded):
                try:
                    job = actions.queue_evidence(
                        request.user,
                        agent,
                        uploaded,
                        kind=form.cleaned_data["kind"],
                        principal=form.cleaned_data["principal"],
                        namespace=form.cleaned_data["namespace"],
                        assessment=draft,
                        request=request,
                    )
                except actions.ActionError as error:
                    form.add_error(None, str(error))
                else:
                    return redirect(job)
                return render(
                    request,
                    "assessments/evidence_add.html",
                    {"agent": agent, "form": form, "draft": draft},
                    status=422,
                )
            try:
                outcome = actions.upload_evidence(
                    request.user,
                    agent,
                    uploaded,
                    kind=form.cleaned_data["kind"],
                    principal=form.cleaned_data["principal"],
                    namespace=form.cleaned_data["namespace"],
                    assessment=draft,
                    request=request,
                )
            except actions.ActionError as error:
                form.add_error(None, str(error))
            else:
                upload = outcome.upload
                if outcome.duplicate:
                    messages.info(
                        request,
                        "These files were already uploaded for this agent on "
                        f"{upload.uploaded_at:%d %b %Y %H:%M}; here is what they propose. "
                        "Nothing was stored again.",
                    )
                else:
                    count = upload.proposals.count()
                    messages.success(
                        request,
                        f"{count} proposed answer{'s' if count != 1 else ''} from "
                        f"{upload.files.count()} file{'s' if upload.files.count() != 1 else ''}. "
                        "Accept or reject each one.",
                    )
                    if outcome.review is not None:
                        messages.warning(
                            request,
                            "The evidence differs from the approved assessment: the agent is on "
                            "the review queue (evidence changed).",
                        )
                return redirect(upload)
        return render(
            request,
            "assessments/evidence_add.html",
            {"agent": agent, "form": form, "draft": draft},
            status=422,
        )
    return render(
        request,
        "assessments/evidence_add.html",
        {"agent": agent, "form": EvidenceUploadForm(), "draft": draft},
    )


@polled
@permission_required("assessments.view_agent")
@require_GET
def evidence_job(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    """How far the background analysis of uploaded files has got; polled once a second
    (a small fragment) until the proposals are there, then the page goes to them."""
    job = get_object_or_404(
        EvidenceJob.objects.select_related("agent__team", "requested_by", "upload").defer("files"),
        agent__slug=slug,
        pk=pk,
    )
    check_scope(request, job.agent)
    if job.state == EvidenceJob.State.DONE and job.upload is not None:
        if request.htmx:
            return HttpResponseClientRedirect(job.upload.get_absolute_url())
        if job.duplicate:
            messages.info(
                request,
                "These files were already uploaded for this agent; here is "
                "what they propose. Nothing was stored again.",
            )
        else:
            messages.success(request, f"{job.message}. Accept or reject each one.")
        if job.review_opened:
            messages.warning(
                request,
                "The evidence differs from the approved assessment: the agent is on the "
                "review queue (evidence changed).",
            )
        return redirect(job.upload)
    template = (
        "assessments/evidence_job.html#job" if request.htmx else "assessments/evidence_job.html"
    )
    waiting_long = (
        job.state == EvidenceJob.State.QUEUED
        and timezone.now() - job.created_at > dt.timedelta(seconds=30)
    )
    return render(request, template, {"agent": job.agent, "job": job, "waiting_long": waiting_long})


def _read_capped(uploaded: Any) -> bytes:
    """At most one byte over the cap: the action refuses it without reading the rest."""
    data = uploaded.read(evidence.MAX_BYTES + 1)
    return data if isinstance(data, bytes) else bytes(data)


def _get_upload(slug: str, pk: int) -> EvidenceUpload:
    return get_object_or_404(
        EvidenceUpload.objects.select_related("agent__team", "uploaded_by").prefetch_related(
            Prefetch("files", queryset=EvidenceFile.objects.defer("content")),
            Prefetch(
                "proposals",
                queryset=EvidenceProposal.objects.select_related("decided_by", "assessment"),
            ),
        ),
        agent__slug=slug,
        pk=pk,
    )


def _proposal_rows(upload: EvidenceUpload, draft: Assessment | None) -> list[dict[str, Any]]:
    q = decisions.questionnaire(
        draft.questionnaire_version if draft else decisions.CURRENT_QUESTIONNAIRE
    )
    labels = {question.id: question for question in q.questions}
    current = dict(draft.answers or {}) if draft else {}
    rows = []
    for proposal in upload.proposals.all():
        question = labels.get(proposal.key)
        rows.append(
            {
                "proposal": proposal,
                "prompt": question.prompt if question else proposal.key,
                "value": display_value(question, proposal.value)
                if question
                else str(proposal.value),
                "sentence": evidence.sentence(proposal.rule),
                "evidence": proposal.evidence,
                "steps": evidence.path_steps(proposal.evidence or []),
                "current": display_value(question, current.get(proposal.key))
                if question and draft and proposal.key not in decisions.INVENTORY_KEYS
                else None,
                "form": ProposalDecisionForm(),
            }
        )
    return rows


def _detail_context(
    request: HtmxHttpRequest, upload: EvidenceUpload, **extra: Any
) -> dict[str, Any]:
    draft = _draft(upload.agent)
    context: dict[str, Any] = {
        "agent": upload.agent,
        "upload": upload,
        "files": list(upload.files.all()),
        "rows": _proposal_rows(upload, draft),
        "draft": draft,
        "can_decide": scope.may_edit(request.user, upload.agent) and draft is not None,
        "can_edit": scope.may_edit(request.user, upload.agent),
        **extra,
    }
    if draft is not None:
        state = WizardState(draft, request.user)
        context.update(
            panel_context(
                state.result,
                state.q,
                state.catalogue,
                state.from_evidence,
                answers=state.effective,
                pending=provenance.pending_from_evidence(draft),
            )
        )
    return context


@permission_required("assessments.view_agent")
def evidence_detail(request: HtmxHttpRequest, slug: str, pk: int) -> HttpResponse:
    upload = _get_upload(slug, pk)
    check_scope(request, upload.agent)
    return render(request, "assessments/evidence_detail.html", _detail_context(request, upload))


@permission_required("assessments.change_assessment")
@require_POST
def proposal_decide(request: HtmxHttpRequest, slug: str, pk: int, proposal: int) -> HttpResponse:
    upload = _get_upload(slug, pk)
    check_scope(request, upload.agent, "edit")
    found = next((p for p in upload.proposals.all() if p.pk == proposal), None)
    if found is None:
        return HttpResponse("No such proposal.", status=404)
    form = ProposalDecisionForm(request.POST)
    error = None
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    else:
        draft = _draft(upload.agent)
        try:
            if form.cleaned_data["decision"] == "accept":
                if draft is None:
                    raise actions.ActionError(
                        "Start an assessment of this agent first: accepted proposals become "
                        "answers of its draft."
                    )
                actions.accept_proposal(request.user, found, draft, request=request)
            else:
                actions.reject_proposal(
                    request.user, found, form.cleaned_data["reason"], request=request
                )
        except actions.ActionError as exc:
            error = str(exc)
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(upload)
    upload = _get_upload(slug, pk)
    context = _detail_context(request, upload)
    row = next(r for r in context["rows"] if r["proposal"].pk == proposal)
    if error:
        row["error"] = error
        row["form"] = form
    context["row"] = row
    # The row is rendered alone here: the loop variable the partial reads is ``row``.
    return render(
        request,
        "assessments/evidence_detail.html#decided",
        context,
        status=422 if error else 200,
    )
