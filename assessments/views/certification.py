"""Access certification pages: the campaigns, starting one, a campaign's progress and
results, and the owner's "to certify" page with one form per item (each its own htmx
partial, ``#certification-item-<pk>``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assessments import actions
from assessments.access import scope
from assessments.access.roles import has_role, permission_required
from assessments.models import CertificationCampaign, CertificationItem, Tier
from assessments.reports import certification as results
from assessments.views.common import HtmxHttpRequest, paginate
from assessments.workflow import certification, reviews

TEMPLATE_MINE = "assessments/certification_mine.html"
AGENTS_PER_PAGE = 50


class StartForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control"}),
        help_text="E.g. “Q3 access review”.",
    )
    scope = forms.ChoiceField(
        choices=CertificationCampaign.Scope.choices,
        widget=forms.Select(attrs={"class": "form-select"}),
        label="Agents covered",
        help_text="Agents due for review: a review triggered, overdue or due within 30 days.",
    )
    team: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None,
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
        help_text="For one team's agents.",
    )
    tier = forms.TypedChoiceField(
        choices=[("", "---------"), *Tier.choices],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
        help_text="For the agents of one tier.",
    )
    deadline = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        help_text="Owners are reminded 7 days and 1 day before; after it, sponsors are told.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = scope.editable_teams(user)

    def clean_deadline(self) -> dt.date:
        value: dt.date = self.cleaned_data["deadline"]
        if value <= timezone.localdate():
            raise forms.ValidationError("The deadline must be after today.")
        if value.year > 2999:
            raise forms.ValidationError("Choose a deadline before the year 3000.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == CertificationCampaign.Scope.TEAM and not data.get("team"):
            self.add_error("team", "Choose the team the campaign covers.")
        if data.get("scope") == CertificationCampaign.Scope.TIER and not data.get("tier"):
            self.add_error("tier", "Choose the tier the campaign covers.")
        return data


def _readable_campaign(request: HtmxHttpRequest, pk: int) -> CertificationCampaign:
    campaigns = certification.readable_campaigns(request.user).select_related("team", "started_by")
    return get_object_or_404(campaigns, pk=pk)


@permission_required("assessments.view_agent")
@require_GET
def certification_list(request: HtmxHttpRequest) -> HttpResponse:
    campaigns = list(
        certification.readable_campaigns(request.user).select_related("team", "started_by")
    )
    rows = [
        certification.figures(c, certification.readable_items(c, request.user)) for c in campaigns
    ]
    context = {
        "rows": rows,
        "can_start": has_role(request.user, "reviewer"),
        "waiting": len(certification.to_certify(request.user)),
    }
    return render(request, "assessments/certification_list.html", context)


@permission_required("assessments.change_review")
@require_http_methods(["GET", "POST"])
def certification_start(request: HtmxHttpRequest) -> HttpResponse:
    form = StartForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = actions.start_campaign(
                    request.user,
                    name=data["name"],
                    scope_kind=data["scope"],
                    deadline=data["deadline"],
                    team=data.get("team"),
                    tier=data.get("tier"),
                    request=request,
                )
            except actions.ActionError as error:
                form.add_error(None, str(error))
                status = 422
            else:
                n = campaign.items.count()
                messages.success(
                    request,
                    f"“{campaign.name}” started: {n} item{'s' if n != 1 else ''} to certify.",
                )
                return redirect("assessments:certification_campaign", campaign.pk)
        else:
            status = 422
    return render(request, "assessments/certification_start.html", {"form": form}, status=status)


@permission_required("assessments.view_agent")
@require_GET
def certification_campaign(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _readable_campaign(request, pk)
    items = certification.readable_items(campaign, request.user)
    figures = certification.figures(campaign, items)
    team = request.GET.get("team", "")
    teams = [name for name, _p in figures.teams]
    listed = items.filter(agent__team__name=team) if team in teams else items
    agent_ids = listed.order_by("agent__name", "agent_id").values_list("agent_id", flat=True)
    page = paginate(request, list(dict.fromkeys(agent_ids)), AGENTS_PER_PAGE)
    page_items = certification.for_certifying(
        listed.filter(agent_id__in=list(page.object_list))
    ).select_related("review")
    context = {
        "campaign": campaign,
        "figures": figures,
        "agents": certification.agent_rows(page_items),
        "page": page,
        "team": team if team in teams else "",
        "teams": teams,
        "query": urlencode({"team": team}) if team in teams else "",
    }
    if request.htmx and request.htmx.target == "certification-agents":
        return render(request, "assessments/certification_campaign.html#agents", context)
    return render(request, "assessments/certification_campaign.html", context)


def _scope_note(request: HtmxHttpRequest) -> str:
    return "" if scope.reads_all(request.user) else "your teams' agents only"


@permission_required("assessments.view_agent")
@require_GET
def certification_results_csv(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _readable_campaign(request, pk)
    items = certification.readable_items(campaign, request.user)
    response = StreamingHttpResponse(
        results.results_csv(campaign, items), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{results.filename(campaign, "csv")}"'
    response["Cache-Control"] = "private, no-store"
    return cast(HttpResponse, response)


@permission_required("assessments.view_agent")
@require_GET
def certification_results_pdf(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    campaign = _readable_campaign(request, pk)
    items = certification.readable_items(campaign, request.user)
    data = results.results_pdf(
        campaign,
        items,
        author=reviews.person(request.user),
        scope_note=_scope_note(request),
    )
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{results.filename(campaign, "pdf")}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- to certify


def _item_context(item: CertificationItem, user: Any) -> dict[str, Any]:
    who = certification.certifiers(item)
    return {
        "item": item,
        "lower": certification.lower_levels(item.access) if item.access else [],
        "route": who.label(),
        "mine": who.allows(user),
    }


@permission_required("assessments.view_agent")
@require_GET
def certification_mine(request: HtmxHttpRequest) -> HttpResponse:
    items = certification.to_certify(request.user)
    campaigns: dict[int, dict[str, Any]] = {}
    for item in items:
        group = campaigns.setdefault(item.campaign_id, {"campaign": item.campaign, "entries": []})
        group["entries"].append(_item_context(item, request.user))
    return render(request, TEMPLATE_MINE, {"groups": list(campaigns.values())})


@permission_required("assessments.view_agent")
@require_POST
def certification_attest(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(certification.for_certifying(CertificationItem.objects.all()), pk=pk)
    if not scope.may_read(request.user, item.agent) and not certification.certifiers(item).allows(
        request.user
    ):
        raise Http404("There is no such item.")
    error = None
    try:
        item = actions.attest_item(
            request.user,
            item,
            decision=request.POST.get("decision", ""),
            reduce_to=request.POST.get("reduce_to", ""),
            reason=request.POST.get("reason", ""),
            invokers=request.POST.get("invokers", ""),
            request=request,
        )
    except actions.ActionError as exc:
        error = str(exc)
    notice = f"{item.agent.name}: {item.subject()} certified ({item.outcome().lower()})."
    if not error and item.review_id:
        notice += " Its review is open for the change."
    if request.htmx:
        item = certification.for_certifying(CertificationItem.objects.all()).get(pk=pk)
        context = {
            "entry": _item_context(item, request.user),
            "row_notice": None if error else notice,
            "row_error": error,
            "posted": request.POST if error else {},
        }
        return render(request, f"{TEMPLATE_MINE}#item", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect(reverse("assessments:certification_mine"))
