"""Builders for the review tests (queue, reminders, calendar, dashboard)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from assessments import actions
from assessments.models import Agent, Review, Team
from tests import factories as f

User = get_user_model()

# 2026-11-02 is a Monday; reviews in these tests are dated from here.
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def people() -> dict[str, Any]:
    """One person per role, plus an owner who only views."""
    return {
        "assessor": f.assessor(),
        "reviewer": f.reviewer(),
        "second_reviewer": f.user("rita", "reviewer", first_name="Rita", last_name="Reyes"),
        "viewer": f.viewer(),
        "owner": f.user("olga", "viewer", first_name="Olga", last_name="Owner"),
    }


def assessed(
    slug: str,
    who: dict[str, Any],
    *,
    systems: list[tuple[str, str]] | None = None,
    links: list[tuple[str, str]] | None = None,
    owner: Any = None,
    team: Team | None = None,
    name: str | None = None,
    **answers: Any,
) -> Agent:
    """An active agent with an approved assessment (so it has a class, tier and a
    scheduled review)."""
    agent = f.agent(
        owner or who["owner"],
        slug=slug,
        systems=systems,
        links=links,
        **({"team": team} if team else {}),
        **({"name": name} if name else {}),
    )
    f.approved(agent, who["assessor"], who["reviewer"], **answers)
    agent.refresh_from_db()
    return agent


def open_review(agent: Agent) -> Review | None:
    return Review.objects.open().filter(agent=agent).first()


def set_due(agent: Agent, due_on: dt.date, *, triggered: bool = False) -> Review:
    """Move the agent's open review to ``due_on`` (tests of dates, not of scheduling)."""
    review = open_review(agent)
    assert review is not None
    Review.objects.filter(pk=review.pk).update(
        due_on=due_on, triggered_at=timezone.now() if triggered else None
    )
    review.refresh_from_db()
    return review


def trigger(agent: Agent, code: str = "new_link", detail: str = "Linked to something.") -> Review:
    return actions.trigger_review(agent, [{"code": code, "detail": detail}])


def bulk_queue(count: int, owner: Any, team: Team, today: dt.date, prefix: str = "bulk") -> None:
    """``count`` agents, each with an open review in the queue (a third overdue, a third
    due soon, a third triggered), written with bulk_create."""
    agents = Agent.objects.bulk_create(
        Agent(
            name=f"{prefix.title()} agent {i:05d}",
            slug=f"{prefix}-{i:05d}",
            purpose="Generated for a query count test.",
            owner=owner,
            team=team,
            current_classification="agent_identity" if i % 2 else "machine_identity",
            current_tier=i % 4 + 1,
        )
        for i in range(count)
    )
    now = timezone.now()
    Review.objects.bulk_create(
        Review(
            agent=agent,
            due_on=today + dt.timedelta(days=(i % 3 - 1) * 10),
            triggered_at=now if i % 3 == 2 else None,
            assignee=owner if i % 5 == 0 else None,
            reasons=[{"code": "interval", "detail": "Scheduled.", "at": now.isoformat()}],
        )
        for i, agent in enumerate(agents)
    )
