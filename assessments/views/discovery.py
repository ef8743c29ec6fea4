"""Discovery: upload account-wide exports, see every identity, triage the agent-like ones.

The upload is stored and read in the background (``read_discovery_run``); the run's
page shows its progress (htmx polls its status partial) and then its counts. The
identity list filters by agent-likeness, status and triage and pages in a constant
number of queries; bulk triage applies to the filtered selection. Reading is for
every role that reads the whole estate (viewers and above; with team-scoped reading,
administrators only: identities belong to no team); upload and triage for assessors
and above.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from assessments import discovery, portfolio
from assessments.access import scope
from assessments.access.roles import permission_required
from assessments.actions import discovery as discovery_actions
from assessments.actions.errors import ActionError
from assessments.evidence.common import MAX_BYTES
from assessments.forms import MultipleFileField
from assessments.forms.discovery import IdentityFilterForm
from assessments.middleware import accepts_upload
from assessments.models import DiscoveredIdentity, DiscoveryRun, Team
from assessments.views.common import HtmxHttpRequest, paginate, query_without

PAGE_SIZE = 50
MAX_UPLOAD_BYTES = discovery_actions.MAX_FILES * MAX_BYTES
READ = "assessments.view_discoveredidentity"
TRIAGE = "assessments.change_discoveredidentity"


def _check_reads_all(request: HtmxHttpRequest) -> None:
    if not scope.reads_all(request.user):
        raise PermissionDenied(
            "Discovery lists the identities of whole accounts and clusters; with team-scoped "
            "reading only administrators see it."
        )


class DiscoveryUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the files are", choices=list(discovery.KIND_LABELS.items())
    )
    source = forms.CharField(
        label="Source",
        required=False,
        max_length=200,
        help_text="The cluster's name (required for Kubernetes). The account, project or "
        "tenant id is read from the files otherwise.",
    )
    uploads = MultipleFileField(
        label="Export files",
        help_text=f"Up to {discovery_actions.MAX_FILES} files of at most "
        f"{MAX_BYTES // 1024 // 1024} MiB each: JSON, YAML or the credential report CSV.",
    )


class TriageForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("register", "Register as an agent"),
            ("machine", "Remains a machine identity"),
            ("decommission", "Decommission"),
            ("dismiss", "Dismiss the decommission"),
            ("reopen", "Reopen for triage"),
        ]
    )
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = scope.editable_teams(user) if user else Team.objects.none()


def _identities() -> Any:
    return DiscoveredIdentity.objects.select_related("agent").order_by(
        "-agent_like", "kind", "source", "external_id"
    )


def _order(qs: Any) -> Any:
    # likely < no < possible alphabetically; order by a rank instead.
    from django.db.models import Case, IntegerField, Value, When

    rank = Case(
        When(agent_like="likely", then=Value(0)),
        When(agent_like="possible", then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return qs.annotate(rank=rank).order_by("rank", "kind", "source", "external_id")


@accepts_upload(MAX_UPLOAD_BYTES)
@permission_required(READ)
def discovery_page(request: HtmxHttpRequest) -> HttpResponse:
    _check_reads_all(request)
    can_upload = request.user.has_perm("assessments.add_discoveryrun")
    upload_form = DiscoveryUploadForm()
    if request.method == "POST":
        if not can_upload:
            raise PermissionDenied
        upload_form = DiscoveryUploadForm(request.POST, request.FILES)
        if upload_form.is_valid():
            uploads = upload_form.cleaned_data["uploads"]
            too_big = [f.name for f in uploads if f.size > MAX_BYTES]
            if too_big:
                upload_form.add_error(
                    "uploads",
                    f"{', '.join(too_big)}: larger than {MAX_BYTES // 1024 // 1024} MiB. "
                    "Nothing was stored.",
                )
            else:
                try:
                    run = discovery_actions.start_discovery(
                        request.user,
                        upload_form.cleaned_data["kind"],
                        [(f.name, f.read()) for f in uploads],
                        source=upload_form.cleaned_data["source"],
                        request=request,
                    )
                except ActionError as error:
                    upload_form.add_error(None, str(error))
                else:
                    messages.success(request, "The files are stored; they are being read.")
                    return redirect(run)
    elif request.method != "GET":
        return HttpResponse(status=405)
    form = IdentityFilterForm(request.GET)
    qs = _order(form.apply(_identities()))
    page = paginate(request, qs, PAGE_SIZE)
    context = {
        "form": form,
        "upload_form": upload_form,
        "can_upload": can_upload,
        "can_triage": request.user.has_perm(TRIAGE),
        "page": page,
        "identities": page.object_list,
        "runs": portfolio.discovery_latest_runs(),
        "figures": portfolio.discovery_figures(),
        "query_without_page": query_without(request, "page"),
        "filter_query": query_without(request, "page"),
        "triage_form": TriageForm(user=request.user),
        "signal_labels": discovery.SIGNAL_LABELS,
        "filtered": any(v for k, v in request.GET.items() if k != "page"),
    }
    template = "assessments/discovery.html"
    if request.htmx and request.htmx.target == "discovery-results":
        template += "#results"
    return render(request, template, context, status=400 if upload_form.errors else 200)


@permission_required(READ)
@require_GET
def discovery_run(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _check_reads_all(request)
    run = get_object_or_404(DiscoveryRun.objects.select_related("started_by"), pk=pk)
    context = {"run": run, "kind_label": discovery.KIND_LABELS.get(run.kind, run.kind)}
    template = "assessments/discovery_run.html"
    if request.htmx:
        template += "#run-status"
    return render(request, template, context)


@permission_required(READ)
@require_GET
def discovery_identity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _check_reads_all(request)
    identity = get_object_or_404(
        DiscoveredIdentity.objects.select_related(
            "agent", "triaged_by", "first_run", "last_run", "read_in"
        ),
        pk=pk,
    )
    from django.utils import timezone

    allowed, why = discovery_actions.decommission_allowed(identity, timezone.localdate())
    signals = [
        {**s, "label": discovery.SIGNAL_LABELS.get(s["signal"], s["signal"])}
        for s in identity.signals
    ]
    context = {
        "identity": identity,
        "signals": signals,
        "missing": [
            discovery.SIGNAL_LABELS[s] for s in discovery.SIGNALS if s not in identity.signal_names
        ],
        "can_triage": request.user.has_perm(TRIAGE),
        "triage_form": TriageForm(user=request.user),
        "decommission_allowed": allowed,
        "decommission_why": why,
    }
    return render(request, "assessments/discovery_identity.html", context)


@permission_required(TRIAGE)
@require_POST
def discovery_triage(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _check_reads_all(request)
    identity = get_object_or_404(DiscoveredIdentity, pk=pk)
    form = TriageForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, "Choose a triage.")
        return redirect(identity)
    action = form.cleaned_data["action"]
    reason = form.cleaned_data["reason"]
    try:
        if action == "register":
            team = form.cleaned_data["team"]
            if team is None:
                raise ActionError("Choose the team the new agent belongs to.")
            done = discovery_actions.register_identity(
                request.user, identity, team=team, request=request
            )
            messages.success(
                request,
                f"Registered {done.agent.name}; its first draft is open"
                + (" with the evidence proposals pending." if done.evidence_attached else ".")
                + (f" {done.note}" if done.note else ""),
            )
            return redirect(done.agent)
        outcome = discovery_actions.bulk_triage(
            request.user, [identity], action, reason=reason, request=request
        )
        if outcome.refused:
            raise ActionError(outcome.refused[0][1])
        messages.success(request, "Triage recorded.")
    except ActionError as error:
        messages.error(request, str(error))
    return redirect(identity)


@permission_required(TRIAGE)
@require_POST
def discovery_bulk_triage(request: HtmxHttpRequest) -> HttpResponse:
    """Triage every identity of the filtered selection (the filters come with the form)."""
    _check_reads_all(request)
    filters = IdentityFilterForm(request.POST)
    form = TriageForm(request.POST, user=request.user)
    from urllib.parse import urlencode

    from django.urls import reverse

    kept = {k: request.POST.get(k, "") for k in IdentityFilterForm.base_fields}
    back = f"{reverse('assessments:discovery')}?{urlencode({k: v for k, v in kept.items() if v})}"
    if not form.is_valid() or not filters.is_valid():
        messages.error(request, "Choose a triage.")
        return redirect(back)
    chosen = request.POST.getlist("identity")
    qs = filters.apply(DiscoveredIdentity.objects.select_related("last_run"))
    if chosen:
        qs = qs.filter(pk__in=[int(c) for c in chosen if c.isdigit()])
    identities = list(qs.order_by("pk")[:500])
    try:
        outcome = discovery_actions.bulk_triage(
            request.user,
            identities,
            form.cleaned_data["action"],
            reason=form.cleaned_data["reason"],
            team=form.cleaned_data["team"],
            request=request,
        )
    except ActionError as error:
        messages.error(request, str(error))
        return redirect(back)
    text = f"Triaged {len(outcome.done)} identit{'y' if len(outcome.done) == 1 else 'ies'}."
    if outcome.refused:
        text += f" {len(outcome.refused)} left as they were: {outcome.refused[0][1]}"
    messages.success(request, text)
    return redirect(back)
