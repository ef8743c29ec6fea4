"""Forms of the review queue and the calendar feeds page."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef

from assessments import portfolio
from assessments.access import scope
from assessments.models import Agent, CalendarFeed, Team
from assessments.widgets import quick_select
from assessments.workflow import reviews

User = get_user_model()

TIER_CHOICES = [
    ("", "Any tier"),
    (4, "4 · Critical"),
    (3, "3 · High"),
    (2, "2 · Elevated"),
    (1, "1 · Baseline"),
]
CLASS_CHOICES = [
    ("", "Any class"),
    ("agent_identity", "Agent identity"),
    ("machine_identity", "Machine identity"),
    ("unassessed", portfolio.UNASSESSED_LABEL),
]


def _person_label(user: Any) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


class QueueFilterForm(forms.Form):
    """The queue's query string. A value that is not understood is ignored, never a 500."""

    state = forms.ChoiceField(
        required=False,
        choices=[("", "Every state"), *reviews.STATE_LABELS.items()],
    )
    tier = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=TIER_CHOICES
    )
    classification = forms.ChoiceField(required=False, choices=CLASS_CHOICES, label="Class")
    team = forms.ModelChoiceField(
        required=False,
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        empty_label="All teams",
    )
    owner = forms.ModelChoiceField(
        required=False,
        queryset=User.objects.none(),
        to_field_name="username",
        empty_label="Any owner",
    )
    assignee = forms.ChoiceField(required=False, label="Assigned to")
    reason = forms.ChoiceField(
        required=False,
        choices=[("", "Any reason"), *reviews.REASON_LABELS.items()],
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, (label, _order) in reviews.SORTS.items()],
        label="Sort by",
    )

    def __init__(self, *args: Any, reviewers: list[Any], user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = cast(forms.ModelChoiceField, self.fields["owner"])
        # EXISTS probes each person's agents by index; a join and DISTINCT would read
        # every active agent of the portfolio to list a handful of owners.
        owns_active = Agent.objects.filter(owner=OuterRef("pk"), status=Agent.Status.ACTIVE)
        if user is not None:
            # Team-scoped reading: only readable teams, and owners of readable agents.
            owns_active = scope.readable(owns_active, user)
            team = cast(forms.ModelChoiceField, self.fields["team"])
            team.queryset = scope.readable_teams(user).order_by("name")
        owner.queryset = User.objects.filter(Exists(owns_active)).order_by(
            "first_name", "last_name", "username"
        )
        owner.label_from_instance = _person_label  # type: ignore[method-assign,assignment]
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", "Anyone or nobody"),
            ("me", "Me"),
            ("none", "Nobody yet"),
            *[(u.username, _person_label(u)) for u in reviewers],
        ]
        for field in self.fields.values():
            quick_select(field, **{"class": "form-select"})


class FeedForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[
            (CalendarFeed.Scope.MINE, "My reviews: agents I own and reviews assigned to me"),
            (CalendarFeed.Scope.TEAM, "A team's reviews"),
        ],
        widget=forms.RadioSelect,
        initial=CalendarFeed.Scope.MINE,
        label="Whose review dates",
    )
    team = forms.ModelChoiceField(
        required=False,
        queryset=Team.objects.order_by("name"),
        empty_label="Choose a team",
        help_text="Only for a team feed.",
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is not None:  # team-scoped reading: a feed of one's readable teams only
            cast(forms.ModelChoiceField, self.fields["team"]).queryset = scope.readable_teams(
                user
            ).order_by("name")
        self.fields["team"].widget.attrs.update(
            {"class": "form-select", "aria-describedby": "team-help"}
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == CalendarFeed.Scope.TEAM and not data.get("team"):
            self.add_error("team", "Choose the team whose reviews the feed shows.")
        return data
