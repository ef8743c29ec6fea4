"""Who answers for an agent: its sponsor and owners (successors in order), taking an
orphaned agent on, and recording when it was last seen acting."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from assessments import actions
from assessments.access import foreign
from assessments.access.roles import permission_required
from assessments.actions.ownership import (
    DECOMMISSION,
    KEEP,
    OUTCOMES,
    RETIRE,
    decommission_question,
    successors,
)
from assessments.models import Agent
from assessments.views.common import HtmxHttpRequest, scoped_agent

User = get_user_model()


def people() -> Any:
    """Active people (not service accounts), by name."""
    return User.objects.filter(is_active=True, service_account__isnull=True).order_by(
        "first_name", "last_name", "username"
    )


class PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class OwnershipForm(forms.Form):
    owner = PersonChoice(queryset=people(), help_text="The person who runs the agent day to day.")
    sponsor = PersonChoice(
        queryset=people(),
        help_text="The accountable person who vouches for the agent and what it may reach; "
        "a person, never a service account.",
    )
    successor_1 = PersonChoice(queryset=people(), required=False, label="First successor")
    successor_2 = PersonChoice(queryset=people(), required=False, label="Second successor")
    successor_3 = PersonChoice(queryset=people(), required=False, label="Third successor")
    lock_version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("owner", "sponsor", "successor_1", "successor_2", "successor_3"):
            field = cast(forms.ModelChoiceField, self.fields[name])
            field.queryset = people()
            field.widget.attrs["class"] = "form-select"
        for i in (1, 2, 3):
            self.fields[f"successor_{i}"].help_text = (
                "Also an owner. When the owner or sponsor leaves, the first successor still "
                "here takes over."
                if i == 1
                else ""
            )

    def successors(self) -> list[Any]:
        return [p for i in (1, 2, 3) if (p := self.cleaned_data.get(f"successor_{i}")) is not None]


@permission_required("assessments.change_agent")
@require_http_methods(["GET", "POST"])
def agent_ownership(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(
        request, slug, Agent.objects.select_related("owner", "sponsor", "team"), need="edit"
    )
    chain = successors(agent)
    initial = {
        "owner": agent.owner_id,
        "sponsor": agent.sponsor_id,
        "lock_version": agent.lock_version,
        **{f"successor_{i}": p.pk for i, p in enumerate(chain[:3], 1)},
    }
    form = OwnershipForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.set_ownership(
                    request.user,
                    agent,
                    owner=form.cleaned_data["owner"],
                    sponsor=form.cleaned_data["sponsor"],
                    co_owners=form.successors(),
                    lock_version=form.cleaned_data["lock_version"],
                    request=request,
                )
                messages.success(request, f"Who answers for {agent.name} is recorded.")
                return redirect(agent)
            except actions.ConflictError as error:
                form.add_error(None, str(error))
                status = 409
            except actions.ActionError as error:
                form.add_error(None, str(error))
                status = 422
        else:
            status = 422
    return render(
        request, "assessments/agent_ownership.html", {"agent": agent, "form": form}, status=status
    )


@permission_required("assessments.change_agent")
@require_POST
def agent_take_on(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(request, slug, need="edit")
    try:
        actions.take_on_agent(request.user, agent, request=request)
        messages.success(request, f"You now own and sponsor {agent.name}.")
    except actions.ActionError as error:
        messages.error(request, str(error))
    return redirect(agent)


class ActivityForm(forms.Form):
    last_seen_on = forms.DateField(
        label="Last seen acting on",
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
    )
    source = forms.CharField(
        max_length=100,
        label="How you know",
        widget=forms.TextInput(attrs={"class": "form-control"}),
        help_text="E.g. “CloudTrail, last AssumeRole” or “ran the nightly job”.",
    )

    def clean_last_seen_on(self) -> dt.date:
        value: dt.date = self.cleaned_data["last_seen_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("The last activity cannot be in the future.")
        return value


@permission_required("assessments.change_agent")
@require_POST
def agent_activity(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(request, slug, need="edit")
    form = ActivityForm(request.POST)
    if form.is_valid():
        actions.record_activity(
            request.user,
            agent,
            form.cleaned_data["last_seen_on"],
            source=f"recorded by hand: {form.cleaned_data['source']}",
            request=request,
        )
        messages.success(request, "The last activity is recorded.")
    else:
        messages.error(
            request,
            " ".join(str(e) for errors in form.errors.values() for e in errors),
        )
    return redirect(agent)


class DecommissionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=list(OUTCOMES.items()), widget=forms.RadioSelect, label="Your answer"
    )
    reason = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        label="Why",
        help_text="Required to keep it: who still needs it, and why nobody has seen it act. "
        "For a decommission, a note on what is to be removed.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == KEEP and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why the agent is kept although nobody has seen it act.")
        return data


@permission_required("assessments.change_agent")
@require_http_methods(["GET", "POST"])
def agent_decommission(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Answer an inactive agent's "Decommission?" review: keep, retire or decommission."""
    agent = scoped_agent(request, slug, Agent.objects.select_related("team"), need="edit")
    review = decommission_question(agent)
    form = DecommissionForm(request.POST or None)
    status = 200
    if review is None:
        messages.info(request, f"{agent.name} has no open “Decommission?” review.")
        return redirect(agent)
    if request.method == "POST":
        status = 422
        if form.is_valid():
            outcome = form.cleaned_data["outcome"]
            try:
                actions.answer_decommission(
                    request.user,
                    agent,
                    outcome,
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
                messages.success(request, DONE[outcome].format(name=agent.name))
                return redirect(agent)
            except actions.ActionError as error:
                form.add_error(None, str(error))
    return render(
        request,
        "assessments/agent_decommission.html",
        {
            "agent": agent,
            "review": review,
            # Its other reasons may name another team's agent (foreign.py).
            "reasons": foreign.shown_to(request.user, review.reasons),
            "form": form,
            "inactive_days": settings.INACTIVE_AGENT_DAYS,
        },
        status=status,
    )


DONE = {
    KEEP: "{name} is kept; the inactive clock starts again today.",
    RETIRE: "{name} is retired.",
    DECOMMISSION: "{name} is retired and recorded as decommissioned.",
}
