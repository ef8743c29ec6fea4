"""The discovered identities' filter: read by the Discovery page and by the API."""

from __future__ import annotations

from typing import Any

from django import forms

from assessments.models import DiscoveredIdentity


class IdentityFilterForm(forms.Form):
    agent_like = forms.ChoiceField(
        required=False,
        label="Agent-like",
        choices=[
            ("", "Any"),
            ("agent", "Likely or possibly"),
            *DiscoveredIdentity.AgentLike.choices,
        ],
    )
    status = forms.ChoiceField(
        required=False,
        label="Status",
        choices=[
            ("", "Found by the latest run"),
            ("all", "Any"),
            *DiscoveredIdentity.Status.choices,
        ],
    )
    triage = forms.ChoiceField(
        required=False,
        label="Triage",
        choices=[
            ("", "Any"),
            ("waiting", "Waiting for triage"),
            ("linked", "Linked to an agent"),
            ("registered", "Registered as an agent"),
            ("machine", "Remains a machine identity"),
            ("decommission", "Decommission pending"),
        ],
    )
    source = forms.CharField(required=False, max_length=200, label="Source")
    q = forms.CharField(required=False, max_length=200, label="Search")

    def apply(self, qs: Any) -> Any:
        if not self.is_valid():
            return qs.present()
        data = self.cleaned_data
        if data["agent_like"] == "agent":
            qs = qs.agent_like()
        elif data["agent_like"]:
            qs = qs.filter(agent_like=data["agent_like"])
        if not data["status"]:
            qs = qs.present()
        elif data["status"] != "all":
            qs = qs.filter(status=data["status"])
        triage = data["triage"]
        if triage == "waiting":
            qs = qs.untriaged()
        elif triage == "linked":
            qs = qs.filter(agent__isnull=False)
        elif triage == "decommission":
            qs = qs.decommission_pending()
        elif triage:
            qs = qs.filter(triage=triage)
        if data["source"]:
            qs = qs.filter(source=data["source"])
        if data["q"]:
            qs = qs.filter(external_id__icontains=data["q"]) | qs.filter(name__icontains=data["q"])
        return qs
