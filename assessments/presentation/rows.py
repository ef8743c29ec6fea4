"""What the rows of the long lists read beside their own columns, for a whole page at once.

A page of the review queue or of the agent list is 50 rows. Each row's agent, team and
people come with it (``select_related``); what a row needs from other tables (the
agent's assessment in progress, its first systems) is read here for the page in one
query each, and what the person signed in may do from each row (teams, ``scope``) is
worked out here. The rows' links, dates, words and escaping are left to the templates:
``{% url %}``, the ``date`` filter and autoescaping.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from assessments.access import scope
from assessments.models import Assessment, System
from assessments.presentation import stored_headline

# --------------------------------------------------------------------------- the queue


def queue_rows(reviews: Iterable[Any], today: dt.date, user: Any) -> list[Any]:
    """The reviews of a page of the queue (``reviews.for_rows``, sorted and sliced),
    each given what its row shows beyond its columns: days left (or late), the agent's
    assessment in progress (``open_number``, ``open_status``) and what ``user`` may do
    from the row: tick it for assignment (``may_assign``), decide the version awaiting a
    decision (``may_decide``), start or continue an assessment (``may_start``)."""
    reviews = list(reviews)
    can_review = user.has_perm("assessments.review_assessment")
    can_start = user.has_perm("assessments.add_assessment")
    in_progress = {
        agent_id: (number, status)
        for agent_id, number, status in Assessment.objects.open()
        .filter(agent_id__in={review.agent_id for review in reviews})
        .values_list("agent_id", "number", "status")
    }
    for review in reviews:
        review.days_left = (review.due_on - today).days
        review.days_late = max(-review.days_left, 0)
        review.open_number, review.open_status = in_progress.get(review.agent_id, (None, None))
        # Teams limit what the person may do from this row (scope.py).
        team = review.agent.team_id
        review.may_assign = scope.may_decide(user, team)
        review.may_decide = can_review and review.may_assign
        review.may_start = can_start and scope.may_edit(user, team)
    return reviews


# --------------------------------------------------------------------------- the agent list

SYSTEMS_SHOWN = 3


def agent_rows(agents: Iterable[Any]) -> list[Any]:
    """The agents of a page of the agent list, each given its first systems
    (``systems_shown``, ``systems_more``), its assessments in progress
    (``open_assessments``: number, status, submitted_at) and, for an agent without an
    approved class, its draft's headline. ``agents`` come from
    ``Agent.objects.for_rows()`` with the assessment and review states annotated
    (``portfolio.agents_for_list``)."""
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
    for agent in agents:
        own = systems.get(agent.pk, [])
        agent.systems_shown = own[:SYSTEMS_SHOWN]
        agent.systems_more = max(len(own) - SYSTEMS_SHOWN, 0)
        opened = in_progress.get(agent.pk, [])
        agent.open_assessments = opened
        # Only an agent without an approved class shows its draft's headline.
        agent.headline = (
            stored_headline(opened[0]["answers"], opened[0]["questionnaire_version"])
            if opened
            and not agent.current_classification
            and agent.assessment_state in ("in_draft", "returned")
            else None
        )
    return agents
