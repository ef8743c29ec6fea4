from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from assessments.access import foreign, scope
from assessments.access.roles import permission_required
from assessments.forms import BoundedDateField
from assessments.models import AuditEvent
from assessments.records.audit import verify_chain
from assessments.views.common import HtmxHttpRequest, paginate, query_without

VERB_GROUPS = [
    ("", "All actions"),
    ("agent.", "Inventory"),
    ("assessment.", "Assessments"),
    ("review.", "Reviews"),
    ("exception.", "Exceptions"),
    ("report.", "Reports"),
    ("auth.", "Sign-in and sessions"),
    ("access.", "Refused access"),
    ("catalogue.", "Catalogue"),
    ("data.", "Backup and restore"),
]


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="Who")
    verb = forms.ChoiceField(required=False, choices=VERB_GROUPS, label="What")
    object = forms.CharField(required=False, max_length=100, label="Object")
    since = BoundedDateField(required=False)
    until = BoundedDateField(required=False)


@permission_required("assessments.view_audit")
@require_GET
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    events = scope.readable_events(AuditEvent.objects.all(), request.user)
    if form.is_valid():
        f = form.cleaned_data
        if f["actor"]:
            events = events.filter(actor_label__icontains=f["actor"])
        if f["verb"]:
            events = events.filter(verb__startswith=f["verb"])
        if f["object"]:
            events = events.filter(object_repr__icontains=f["object"])
        if f["since"]:
            events = events.filter(created_at__date__gte=f["since"])
        if f["until"]:
            events = events.filter(created_at__date__lte=f["until"])
    page = paginate(request, events.select_related("actor").order_by("-id"))
    context = {
        "form": form,
        "page": page,
        # Changes naming another team's agent, with reading scoped, do not name it.
        "events": foreign.events_shown_to(request.user, list(page.object_list)),
        "query_without_page": query_without(request, "page"),
        "chain": verify_chain() if request.GET.get("verify") == "1" else None,
    }
    template = "assessments/audit_list.html"
    if request.htmx and request.htmx.target == "audit-results":
        template += "#results"
    return render(request, template, context)
