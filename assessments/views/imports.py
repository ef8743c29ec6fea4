"""Import agents from a CSV (the inventory export's columns): upload, preview every row's
changes and errors, then apply all rows in one transaction, or none."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from assessments import actions, imports
from assessments.roles import permission_required
from assessments.views.common import HtmxHttpRequest

_SESSION_KEY = "agent_import"


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="The columns of the inventory export (Reports → Inventory CSV). Computed "
        "columns such as class and tier are ignored.",
        error_messages={
            "required": "Choose the CSV file to import.",
            "empty": "The file is empty.",
        },
        allow_empty_file=False,
    )


def _page(request: HtmxHttpRequest, *, status: int = 200, **context: object) -> HttpResponse:
    context.setdefault("form", ImportForm())
    return render(request, "assessments/agent_import.html", context, status=status)


@permission_required("assessments.add_agent")
def agent_import(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the upload form. POST with a file: the preview. POST ``apply``: the import."""
    if request.method != "POST":
        return _page(request)
    if "apply" in request.POST:
        return _apply(request)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form=form, status=422)
    upload = form.cleaned_data["file"]
    if upload.size > imports.MAX_BYTES:
        form.add_error("file", "The file is larger than 2 MB.")
        return _page(request, form=form, status=422)
    data = upload.read()
    try:
        plan = imports.plan_csv(data)
    except imports.ImportError_ as error:
        form.add_error("file", str(error))
        return _page(request, form=form, status=422)
    key = secrets.token_urlsafe(16)
    request.session[_SESSION_KEY] = {
        "key": key,
        "text": data.decode("utf-8-sig"),
        "fingerprint": plan.fingerprint(),
        "name": upload.name[:200],
    }
    return _page(request, plan=plan, key=key, filename=upload.name, status=200 if plan.ok else 422)


def _apply(request: HtmxHttpRequest) -> HttpResponse:
    stored = request.session.get(_SESSION_KEY)
    if not stored or stored.get("key") != request.POST.get("key"):
        messages.error(request, "That preview has expired. Upload the file again.")
        return redirect("assessments:agent_import")
    plan = imports.plan_csv(stored["text"].encode())
    if plan.fingerprint() != stored["fingerprint"]:
        # The inventory changed since the preview: show what the file would do now.
        stored["fingerprint"] = plan.fingerprint()
        request.session[_SESSION_KEY] = stored
        messages.warning(
            request, "The inventory changed since the preview. Check the rows again, then apply."
        )
        return _page(request, plan=plan, key=stored["key"], filename=stored["name"], status=409)
    try:
        changed = imports.apply_plan(request.user, plan, request=request)
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
