"""Import agents from a CSV (the inventory export's columns): upload, preview every row's
changes and errors, then apply all rows in one transaction, or none."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from assessments import actions
from assessments.access import scope
from assessments.access.roles import permission_required
from assessments.forms import team_field
from assessments.interchange import imports
from assessments.models import Team
from assessments.views.common import HtmxHttpRequest

_SESSION_KEY = "agent_import"


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file or zip of manifests",
        help_text="A CSV with the columns of the inventory export (Reports → Inventory CSV; "
        "computed columns such as class and tier are ignored), or a zip of manifest files "
        "(.yaml, .yml, .json; one agent each), which also fill in each agent's draft "
        "assessment.",
        error_messages={
            "required": "Choose the CSV file to import.",
            "empty": "The file is empty.",
        },
        allow_empty_file=False,
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Choose a team",
        label="Team of new agents (manifests only)",
        help_text="Manifests do not name a team; agents they create join this one.",
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only teams whose agents they may create (scope.py).
        team = team_field(self, scope.editable_teams(user) if user is not None else None)
        team.widget.attrs["class"] = "form-select"


def _page(request: HtmxHttpRequest, *, status: int = 200, **context: object) -> HttpResponse:
    context.setdefault("form", ImportForm(user=request.user))
    return render(request, "assessments/agent_import.html", context, status=status)


@permission_required("assessments.add_agent")
def agent_import(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the upload form. POST with a file: the preview. POST ``apply``: the import."""
    if request.method != "POST":
        return _page(request)
    if "apply" in request.POST:
        return _apply(request)
    form = ImportForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return _page(request, form=form, status=422)
    upload = form.cleaned_data["file"]
    if upload.size > imports.MAX_BYTES:
        form.add_error("file", "The file is larger than 2 MB.")
        return _page(request, form=form, status=422)
    data = upload.read()
    team = form.cleaned_data["team"].slug if form.cleaned_data.get("team") else ""
    is_zip = data.startswith(b"PK\x03\x04")
    try:
        plan = (
            imports.plan_zip(data, team, request.user)
            if is_zip
            else imports.plan_csv(data, request.user)
        )
    except imports.ImportError_ as error:
        form.add_error("file", str(error))
        return _page(request, form=form, status=422)
    key = secrets.token_urlsafe(16)
    request.session[_SESSION_KEY] = {
        "key": key,
        "data": base64.b64encode(data).decode(),
        "zip": is_zip,
        "team": team,
        "fingerprint": plan.fingerprint(),
        "name": upload.name[:200],
    }
    return _page(request, plan=plan, key=key, filename=upload.name, status=200 if plan.ok else 422)


def _apply(request: HtmxHttpRequest) -> HttpResponse:
    stored = request.session.get(_SESSION_KEY)
    if not stored or stored.get("key") != request.POST.get("key"):
        messages.error(request, "That preview has expired. Upload the file again.")
        return redirect("assessments:agent_import")
    data = base64.b64decode(stored["data"])
    plan = (
        imports.plan_zip(data, stored["team"], request.user)
        if stored["zip"]
        else imports.plan_csv(data, request.user)
    )
    if plan.fingerprint() != stored["fingerprint"]:
        # The inventory changed since the preview: show what the file would do now.
        stored["fingerprint"] = plan.fingerprint()
        request.session[_SESSION_KEY] = stored
        messages.warning(
            request, "The inventory changed since the preview. Check the rows again, then apply."
        )
        return _page(request, plan=plan, key=stored["key"], filename=stored["name"], status=409)
    try:
        apply = imports.apply_zip if stored["zip"] else imports.apply_plan
        changed = apply(request.user, plan, request=request)
    except actions.ActionError as error:
        messages.error(request, f"Nothing was imported. {error}")
        return _page(request, plan=plan, key=stored["key"], filename=stored["name"], status=422)
    request.session.pop(_SESSION_KEY, None)
    messages.success(
        request,
        f"Imported {stored['name']}: {changed} agent{'s' if changed != 1 else ''} changed, "
        f"{len(plan.rows) - changed} unchanged.",
    )
    return redirect("assessments:agent_list")
