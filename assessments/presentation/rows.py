"""What a row of the queue and of the agent list shows beside its own columns, worked out
for a whole page at once.

A page of either list is 50 rows. What a row needs from other tables (the agent's
assessment in progress, its first systems) is read here for the page, in one query
each, and what the person signed in may do from each row (teams, ``scope``) is decided
here. The rows' links and dates are made here too, with Django's own functions
(``reverse``; ``django.utils.formats``, which the ``date`` filter uses), and the
templates place them, escaped by autoescaping: written in the queue's template as
``{% url %}`` and ``|date``, its two links and three dates a row cost about 4.5 ms more
for a page at 10,000 agents (20.5 against 15.6 ms to render it, the smallest of 150
renders each, in one process).

Hand-made copies of these functions (URLs reversed once with marker values filled in
per row, dates and escaping written by hand) were measured the same way and saved less
than 2 ms each on the queue page, the page with the most links and dates (1.6 ms for
its 100 links, 1.7 for its 100 dates, 0.8 for escaping), so they are gone (issue 28).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import F
from django.urls import reverse
from django.utils import formats

from assessments.access import foreign, scope
from assessments.models import Assessment, System
from assessments.presentation import stored_headline


class Days:
    """Dates as the rows write them, ``|date:"j M Y"`` ("21 Sep 2026") and ``"j M"``
    ("21 Sep"), each distinct day formatted once for the page (19 µs a date): the
    queue's first page at 10,000 agents holds 17 distinct days in 50 rows."""

    def __init__(self) -> None:
        self.seen: dict[dt.date, tuple[str, str]] = {}

    def __call__(self, value: dt.date) -> tuple[str, str]:
        if value not in self.seen:
            self.seen[value] = (
                formats.date_format(value, "j M Y"),
                formats.date_format(value, "j M"),
            )
        return self.seen[value]


# --------------------------------------------------------------------------- the queue

# What a queue row reads of a review, its agent and the people: values, not model
# instances (five per row: 1.6 ms more for a page of 50).
_QUEUE_VALUES = {
    "agent_name": F("agent__name"),
    "agent_slug": F("agent__slug"),
    "tier": F("agent__current_tier"),
    "classification": F("agent__current_classification"),
    "team_id": F("agent__team_id"),
    "team_name": F("agent__team__name"),
    "owner_username": F("agent__owner__username"),
    "owner_first_name": F("agent__owner__first_name"),
    "owner_last_name": F("agent__owner__last_name"),
    "assignee_username": F("assignee__username"),
    "assignee_first_name": F("assignee__first_name"),
    "assignee_last_name": F("assignee__last_name"),
}


def queue_rows(reviews: Any, today: dt.date, user: Any) -> list[dict[str, Any]]:
    """The reviews of a page of the queue (``reviews.for_rows``, sorted and sliced) as
    their rows show them: the agent's link and names, the due date in words and days
    left (or late), and what ``user`` may do from the row: tick it for assignment
    (``may_assign``) and the row's button (``action``: decide or read the version
    awaiting a decision, continue a draft, start a reassessment, or view the agent)."""
    rows = list(
        reviews.values(
            "pk",
            "agent_id",
            "due_on",
            "reasons",
            "queue_state",
            "is_triggered",
            "lock_version",
            **_QUEUE_VALUES,
        )
    )
    can_review = user.has_perm("assessments.review_assessment")
    can_start = user.has_perm("assessments.add_assessment")
    # Reasons name linked agents; another team's, with reading scoped, is not named.
    hidden = foreign.unreadable_named(user, [row["reasons"] for row in rows])
    in_progress = {
        agent_id: (number, status)
        for agent_id, number, status in Assessment.objects.open()
        .filter(agent_id__in={row["agent_id"] for row in rows})
        .values_list("agent_id", "number", "status")
    }
    days = Days()
    for row in rows:
        row["agent_url"] = reverse("assessments:agent_detail", args=[row["agent_slug"]])
        row["owner_name"] = _name(row, "owner")
        row["assignee_name"] = _name(row, "assignee")
        row["due_day"], row["due_day_month"] = days(row["due_on"])
        row["days_left"] = (row["due_on"] - today).days
        row["days_late"] = max(-row["days_left"], 0)
        row["reasons"] = foreign.redact_named(row["reasons"], hidden)
        # Teams limit what the person may do from this row (scope.py).
        row["may_assign"] = scope.may_decide(user, row["team_id"])
        row["action"] = _queue_action(
            row,
            in_progress.get(row["agent_id"], (None, None)),
            may_decide=can_review and row["may_assign"],
            may_start=can_start and scope.may_edit(user, row["team_id"]),
        )
    return rows


def _name(row: dict[str, Any], who: str) -> str:
    """A person as the rows name them (``get_full_name``, else the username)."""
    if row[f"{who}_username"] is None:
        return ""
    full = f"{row[f'{who}_first_name']} {row[f'{who}_last_name']}".strip()
    return full or row[f"{who}_username"]


def _queue_action(
    row: dict[str, Any], open_assessment: tuple[Any, Any], *, may_decide: bool, may_start: bool
) -> dict[str, Any]:
    """A queue row's button: the agent's assessment in progress (decided or read on its
    page once submitted, else continued in the wizard by those who may edit it), else a
    new assessment (a form: it posts), else the agent's page. ``named``: the label is
    followed by the agent's name for screen readers."""
    slug = row["agent_slug"]
    number, status = open_assessment
    if number:
        css = "btn btn-sm btn-outline-primary"
        if status == Assessment.Status.SUBMITTED:
            name, label = "assessment_detail", "Decide" if may_decide else "View"
        elif may_start:
            name, label, css = "wizard", "Continue", "btn btn-sm btn-primary"
        else:
            name, label = "assessment_detail", "View"
        url = reverse(f"assessments:{name}", args=[slug, number])
        return {"url": url, "label": f"{label} v{number}", "css": css}
    if may_start:
        label = "Reassess" if row["classification"] else "Assess"
        url = reverse("assessments:assessment_start", args=[slug])
        return {"url": url, "label": label, "post": True, "named": True}
    css = "btn btn-sm btn-outline-secondary"
    return {"url": row["agent_url"], "label": "View", "css": css, "named": True}


# --------------------------------------------------------------------------- the agent list

SYSTEMS_SHOWN = 3


def agent_rows(agents: Iterable[Any]) -> list[Any]:
    """The agents of a page of the agent list, each given its link, its first systems
    (``systems_shown``, ``systems_more``), its assessments in progress
    (``open_assessments``: number, status, submitted_at, url), for an agent without an
    approved class its draft's headline, and its next review date in words. ``agents``
    come from ``Agent.objects.for_rows()`` with the assessment and review states
    annotated (``portfolio.agents_for_list``)."""
    agents = list(agents)
    ids = [agent.pk for agent in agents]
    systems: dict[int, list[tuple[str, str]]] = {}
    for agent_id, name, access in (
        System.objects.filter(agent_id__in=ids)
        .order_by("name", "pk")
        .values_list("agent_id", "name", "access")
    ):
        systems.setdefault(agent_id, []).append((name, access))
    in_progress: dict[int, list[dict[str, Any]]] = {}
    for row in (
        Assessment.objects.open()
        .filter(agent_id__in=ids)
        .order_by("agent_id", "-number")
        .values("agent_id", "number", "status", "submitted_at", "answers", "questionnaire_version")
    ):
        in_progress.setdefault(row["agent_id"], []).append(row)
    days = Days()
    for agent in agents:
        agent.url = reverse("assessments:agent_detail", args=[agent.slug])
        own = systems.get(agent.pk, [])
        agent.systems_shown = own[:SYSTEMS_SHOWN]
        agent.systems_more = max(len(own) - SYSTEMS_SHOWN, 0)
        opened = in_progress.get(agent.pk, [])
        for row in opened:
            row["url"] = reverse("assessments:assessment_detail", args=[agent.slug, row["number"]])
        agent.open_assessments = opened
        # Only an agent without an approved class shows its draft's headline.
        agent.headline = (
            stored_headline(opened[0]["answers"], opened[0]["questionnaire_version"])
            if opened
            and not agent.current_classification
            and agent.assessment_state in ("in_draft", "returned")
            else None
        )
        if next_review := getattr(agent, "next_review", None):
            agent.next_review_day = days(next_review)[0]
    return agents
