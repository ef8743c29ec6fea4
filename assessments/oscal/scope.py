"""Which agents a POA&M covers for a person: the page and the API ask the same way."""

from __future__ import annotations

from typing import Any

from assessments.access import scope
from assessments.models import Agent, Team


class ScopeError(ValueError):
    """A POA&M scope the person cannot have; the message says why."""


def poam_scope(user: Any, team_slug: str) -> tuple[Team | None, Any]:
    """The team (None: the whole portfolio) and the agents a POA&M for ``user`` covers.
    People limited to some teams get one of their teams, never the whole portfolio: their
    only team when no team is named."""
    agents = scope.readable(Agent.objects.all(), user)
    if not team_slug:
        if scope.reads_all(user):
            return None, agents
        teams = list(scope.readable_teams(user)[:2])
        if len(teams) != 1:
            raise ScopeError("Choose one of your teams: you read only your teams' agents.")
        return teams[0], agents
    # A slug never holds NUL, and PostgreSQL refuses to compare text that does.
    slug = str(team_slug)[:100]
    team = None if "\x00" in slug else Team.objects.filter(slug=slug).first()
    if team is None or not (scope.reads_all(user) or scope.in_team(user, team)):
        raise ScopeError("There is no such team among those you can read.")
    return team, agents
