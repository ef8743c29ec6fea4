"""The board pack's forms, read by the page and by the API: the request for a pack
(``POST /api/v1/board-packs``) and the board's sign-off of an issued one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from assessments import portfolio
from assessments.access import scope
from assessments.actions.reports import (
    SIGNOFF_ATTENDEES_MAX,
    SIGNOFF_CHAIR_MAX,
    SIGNOFF_RESOLUTION_MAX,
)
from assessments.forms import BoundedDateField, team_field
from assessments.models import Classification, Team, Tier
from assessments.reports.board import DEFAULT_PERIOD_DAYS, DEFAULT_TOP, MAX_TOP


class BoardPackForm(forms.Form):
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="All teams",
    )
    tier = forms.TypedChoiceField(
        choices=[("", "All tiers"), *Tier.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    classification = forms.ChoiceField(
        choices=[
            ("", "All classes"),
            *Classification.choices,
            ("unassessed", portfolio.UNASSESSED_LABEL),
        ],
        required=False,
        label="Class",
    )
    since = BoundedDateField(
        required=False,
        label="Period from",
        help_text=f"Reclassifications since this day; {DEFAULT_PERIOD_DAYS} days ago if empty.",
    )
    until = BoundedDateField(required=False, label="Period to")
    top = forms.IntegerField(
        min_value=1,
        max_value=MAX_TOP,
        initial=DEFAULT_TOP,
        required=False,
        label="Agents in the printed appendix",
        help_text="The agents most at risk; every agent is in the attached register (CSV).",
    )
    prepared_by = forms.CharField(required=False, max_length=200, label="Prepared by")
    reviewed_by = forms.CharField(required=False, max_length=200, label="Reviewed by")
    meeting_date = BoundedDateField(required=False, label="Meeting date")
    chair = forms.CharField(required=False, max_length=200, label="Chair")
    attendees = forms.CharField(
        required=False, max_length=1000, label="Attendees", help_text="Names, separated by commas."
    )
    commentary = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Management's commentary",
        help_text="Printed after the executive summary: what management makes of the figures.",
    )
    decision = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Resolution recorded",
        help_text="Printed in the sign-off block on the last page.",
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is not None and not scope.reads_all(user):
            # A team-scoped reader's pack covers one of their teams (scope.py).
            team = team_field(self, scope.readable_teams(user))
            team.required = True
            team.empty_label = None
            team.help_text = "You read only your teams' agents, so a pack covers one of them."
            team.error_messages["required"] = "Choose one of your teams."
            team.error_messages["invalid_choice"] = "Choose one of your teams."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        until = data.get("until") or timezone.localdate()
        since = data.get("since") or until - dt.timedelta(days=DEFAULT_PERIOD_DAYS)
        if since > until:
            raise forms.ValidationError("The period must start on or before the day it ends.")
        if until > timezone.localdate():
            self.add_error("until", "The period cannot end in the future.")
        data["since"], data["until"] = since, until
        return data

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "team": data["team"].slug if data.get("team") else "",
            "tier": data.get("tier"),
            "classification": data.get("classification") or "",
            "since": data["since"].isoformat(),
            "until": data["until"].isoformat(),
            "top": data.get("top") or DEFAULT_TOP,
            "prepared_by": data.get("prepared_by") or "",
            "chair": data.get("chair") or "",
            "attendees": data.get("attendees") or "",
            "commentary": data.get("commentary") or "",
            "reviewed_by": data.get("reviewed_by") or "",
            "meeting_date": data["meeting_date"].isoformat() if data.get("meeting_date") else "",
            "decision": data.get("decision") or "",
        }


class BoardSignoffForm(forms.Form):
    """The board's sign-off of an issued pack: read by the page and by the API
    (``POST /api/v1/board-packs/{id}/sign-off``); ``actions.record_board_signoff`` records it."""

    chair = forms.CharField(
        max_length=SIGNOFF_CHAIR_MAX,
        label="Chair",
        help_text="Who chaired the meeting.",
        error_messages={"required": "Name the chair of the meeting."},
    )
    attendees = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Attendees",
        help_text=f"Names, separated by commas; at most {SIGNOFF_ATTENDEES_MAX}.",
    )
    resolution = forms.CharField(
        max_length=SIGNOFF_RESOLUTION_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Resolution",
        help_text="The resolution the board passed, as the minutes record it.",
        error_messages={"required": "Write the resolution the board passed."},
    )
    meeting_date = BoundedDateField(
        label="Meeting date",
        error_messages={"required": "Give the date of the meeting."},
    )

    def clean_chair(self) -> str:
        chair = self.cleaned_data["chair"].strip()
        if not chair:
            raise forms.ValidationError("Name the chair of the meeting.")
        return chair

    def clean_attendees(self) -> str:
        attendees = self.cleaned_data.get("attendees") or ""
        if len([a for a in attendees.split(",") if a.strip()]) > SIGNOFF_ATTENDEES_MAX:
            raise forms.ValidationError(f"Name at most {SIGNOFF_ATTENDEES_MAX} attendees.")
        return attendees

    def clean_meeting_date(self) -> dt.date:
        day = self.cleaned_data["meeting_date"]
        if day > timezone.localdate():
            raise forms.ValidationError(
                "The meeting date cannot be in the future: record the sign-off after the meeting."
            )
        return day

    def signoff(self) -> dict[str, Any]:
        """The action's keyword arguments."""
        data = self.cleaned_data
        return {
            "chair": data["chair"],
            "attendees": data.get("attendees") or "",
            "resolution": data["resolution"],
            "meeting_date": data["meeting_date"],
        }
