"""The dashboard's inboxes: what awaits a reviewer's decision, and an assessor's own
returned assessments and drafts. The states are ``Assessment.objects`` definitions; each
tray is one query, whatever the number of assessments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Window
from django.urls import reverse

from assessments.access import scope
from assessments.access.roles import has_role
from assessments.models import Assessment

SHOWN = 8
# What a tray's line shows (templates/assessments/includes/inbox.html).
TRAY_FIELDS = (
    "number",
    "status",
    "assessor_id",
    "submitted_by_id",
    "submitted_at",
    "decided_at",
    "updated_at",
    "review_comment",
    "agent__name",
    "agent__slug",
    "submitted_by__username",
    "submitted_by__first_name",
    "submitted_by__last_name",
)


@dataclass
class Tray:
    key: str
    title: str
    items: list[Assessment]
    total: int
    href: str
    empty_title: str
    empty_text: str

    @property
    def more(self) -> int:
        return self.total - len(self.items)


def _tray(key: str, title: str, assessments: Any, **text: str) -> Tray:
    """The first few of ``assessments`` and how many there are, in one query (the
    total is a window over every row, counted before the limit)."""
    items = list(
        assessments.select_related("agent", "submitted_by")
        .only(*TRAY_FIELDS)
        .annotate(in_all=Window(Count("pk")))[:SHOWN]
    )
    return Tray(
        key=key,
        title=title,
        items=items,
        total=items[0].in_all if items else 0,
        href=f"{reverse('assessments:agent_list')}?assessment={key}",
        **text,
    )


def trays(user: Any) -> list[Tray]:
    """The trays ``user``'s role works from: reviewers see what awaits a decision; anyone
    who can assess sees what was returned to them and their drafts."""
    found = []
    if has_role(user, "reviewer"):
        found.append(
            _tray(
                "pending_decision",
                "Awaiting decision",
                scope.decidable(Assessment.objects.awaiting_decision(), user, "agent__team"),
                empty_title="Nothing awaits a decision",
                empty_text="When an assessor submits an assessment it appears here, oldest "
                "first, and you are notified. Another reviewer decides the ones you "
                "started, answered or submitted.",
            )
        )
    if has_role(user, "assessor"):
        found.append(
            _tray(
                "returned_to_me",
                "Returned to me",
                Assessment.objects.returned_to(user).order_by("decided_at", "pk"),
                empty_title="Nothing returned to you",
                empty_text="When a reviewer returns one of your assessments it appears here "
                "with their comment: change what they ask, then submit it again.",
            )
        )
        found.append(
            _tray(
                "my_drafts",
                "My drafts",
                Assessment.objects.drafts_of(user).order_by("-updated_at", "pk"),
                empty_title="No drafts",
                empty_text="Start an assessment from an agent's page; until you submit it, "
                "it waits here. Agents never assessed are a good place to begin.",
            )
        )
    return found
