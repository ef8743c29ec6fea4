"""Teams scope who may act on which agents: the one place that says so.

Roles say *what* a person may do (``roles.py``); with ``TEAM_SCOPED_EDITING`` on, teams
also say *to which agents*: assessors create and edit only agents of teams they belong
to, and reviewers decide (approve, return, assign, accept exceptions) only for their
teams. With ``TEAM_SCOPED_READING`` also on, everyone below administrator reads only
their teams' agents, and what is about them: assessments, reviews, evidence, figures,
exports and the audit log. Administrators act on every team. Both settings are off by
default: every role then reaches every team, as before.

Team membership is ``Team.members``: managed by administrators (the admin's team
page) and, with single sign-on, from the directory's group claim (``sso.py``).

Views and the API ask ``may_edit`` / ``may_decide`` / ``may_read`` of one agent (or
``require_*``, which raise ``PermissionDenied`` so that the refusal is answered and
audited like any other) and filter lists with ``readable``. The actions check again,
so that no path (web, API, CLI push) gets round a view that forgot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from assessments.access.roles import has_role
from assessments.models import Role, Team


class OutOfTeam(PermissionDenied):
    """A refusal because of teams, not roles: its message says which team (the 403 page
    and the API's problem show it)."""


OUT_OF_TEAM_EDIT = "You edit only agents of your teams; {agent} belongs to {team}."
OUT_OF_TEAM_DECIDE = "You review only for your teams; {agent} belongs to {team}."
OUT_OF_TEAM_SIGNOFF = "You record sign-offs only of your teams' board packs; {pack} covers {what}."


_seeding: ContextVar[bool] = ContextVar("team_scope_seeding", default=False)


@contextmanager
def seeding() -> Iterator[None]:
    """Teams limit nobody inside the block: for loading the demo, which plays its
    people's past work across teams (it is nobody's request)."""
    token = _seeding.set(True)
    try:
        yield
    finally:
        _seeding.reset(token)


def editing_scoped() -> bool:
    return bool(getattr(settings, "TEAM_SCOPED_EDITING", False)) and not _seeding.get()


def reading_scoped() -> bool:
    return bool(getattr(settings, "TEAM_SCOPED_READING", False)) and not _seeding.get()


def team_ids(user: Any) -> frozenset[int]:
    """The teams ``user`` belongs to (one query, cached on the user for the request)."""
    cached = getattr(user, "_team_ids_cache", None)
    if cached is None:
        if not getattr(user, "is_authenticated", False):
            cached = frozenset()
        else:
            cached = frozenset(user.teams.values_list("pk", flat=True))
        user._team_ids_cache = cached
    return cached


def forget(user: Any) -> None:
    """Drop the cached teams (after membership changed in the same request)."""
    if hasattr(user, "_team_ids_cache"):
        del user._team_ids_cache


def all_teams(user: Any) -> bool:
    """Whether teams never limit ``user`` (administrators)."""
    return has_role(user, Role.ADMINISTRATOR)


def _team_id(agent_or_team: Any) -> int | None:
    if isinstance(agent_or_team, Team):
        return agent_or_team.pk
    if isinstance(agent_or_team, int):
        return agent_or_team
    return getattr(agent_or_team, "team_id", None)


def in_team(user: Any, agent_or_team: Any) -> bool:
    """Whether the agent's (or the team's) team is one of ``user``'s teams."""
    return _team_id(agent_or_team) in team_ids(user)


# -- one agent ---------------------------------------------------------------------------


def may_read(user: Any, agent: Any) -> bool:
    if not has_role(user, Role.VIEWER):
        return False
    return not reading_scoped() or all_teams(user) or in_team(user, agent)


def may_edit(user: Any, agent_or_team: Any) -> bool:
    """Create or edit an agent of this team: assessor and up, and in team when scoped."""
    if not has_role(user, Role.ASSESSOR):
        return False
    return not editing_scoped() or all_teams(user) or in_team(user, agent_or_team)


def may_decide(user: Any, agent: Any) -> bool:
    """Approve, return, assign or accept for this agent: reviewer and up, in team."""
    if not has_role(user, Role.REVIEWER):
        return False
    return not editing_scoped() or all_teams(user) or in_team(user, agent)


def _team_name(agent: Any) -> str:
    team = getattr(agent, "team", None)
    return f"the team {team}" if team is not None else "another team"


def edit_refusal(user: Any, agent: Any) -> str:
    """Why ``user`` may not edit ``agent``, or "" when they may."""
    if may_edit(user, agent):
        return ""
    if not has_role(user, Role.ASSESSOR):
        return "Only assessors can change agents and their assessments."
    return OUT_OF_TEAM_EDIT.format(
        agent=getattr(agent, "name", "this agent"), team=_team_name(agent)
    )


def decide_refusal(user: Any, agent: Any) -> str:
    """Why ``user`` may not decide for ``agent`` (team scoping only), or ""."""
    if not has_role(user, Role.REVIEWER) or may_decide(user, agent):
        return ""
    return OUT_OF_TEAM_DECIDE.format(
        agent=getattr(agent, "name", "this agent"), team=_team_name(agent)
    )


def _refusal(message: str, user: Any, role: str) -> PermissionDenied:
    """``OutOfTeam`` when the role would do and the team does not, else a role refusal."""
    return OutOfTeam(message) if has_role(user, role) else PermissionDenied(message)


def require_edit(user: Any, agent_or_team: Any) -> None:
    if not may_edit(user, agent_or_team):
        raise _refusal(edit_refusal(user, agent_or_team), user, Role.ASSESSOR)


def require_decide(user: Any, agent: Any) -> None:
    if not may_decide(user, agent):
        raise _refusal(decide_refusal(user, agent) or "Only reviewers decide.", user, Role.REVIEWER)


def check_actor_edit(actor: Any, agent_or_team: Any) -> None:
    """The actions' check: people (not the system, ``actor is None``) must be in team."""
    if actor is not None and editing_scoped() and not may_edit(actor, agent_or_team):
        raise _refusal(edit_refusal(actor, agent_or_team), actor, Role.ASSESSOR)


def check_actor_decide(actor: Any, agent: Any) -> None:
    if actor is not None and editing_scoped() and not may_decide(actor, agent):
        raise _refusal(
            decide_refusal(actor, agent) or "Only reviewers decide.", actor, Role.REVIEWER
        )


# -- many --------------------------------------------------------------------------------


def reads_all(user: Any) -> bool:
    """Whether ``user`` reads every team (reading not scoped, or an administrator)."""
    return not reading_scoped() or all_teams(user)


def readable[QS: QuerySet[Any]](queryset: QS, user: Any, team_field: str = "team") -> QS:
    """``queryset`` limited to what ``user`` may read. ``team_field`` is the lookup path
    from the queryset's model to the team (``"team"`` for agents, ``"agent__team"`` for
    assessments and reviews)."""
    if reads_all(user):
        return queryset
    return queryset.filter(**{f"{team_field}__in": team_ids(user)})


def decidable[QS: QuerySet[Any]](queryset: QS, user: Any, team_field: str = "team") -> QS:
    """``queryset`` limited to what ``user`` may decide for (its reviewers' trays and
    badges): their teams when editing is team-scoped, else all."""
    if not editing_scoped() or all_teams(user):
        return queryset
    return queryset.filter(**{f"{team_field}__in": team_ids(user)})


def readable_events[QS: QuerySet[Any]](events: QS, user: Any) -> QS:
    """Audit events ``user`` may read: all, or, when reading is team-scoped, the events
    of their teams' agents and their own events that concern no agent."""
    if reads_all(user):
        return events
    return events.filter(
        Q(agent__team__in=team_ids(user)) | Q(agent__isnull=True, actor_id=user.pk)
    )


def readable_packs[QS: QuerySet[Any]](jobs: QS, user: Any) -> QS:
    """Board pack jobs ``user`` may read: all, or, when reading is team-scoped, the packs
    of one of their teams (a pack of every team is not theirs to read)."""
    if reads_all(user):
        return jobs
    slugs = list(Team.objects.filter(pk__in=team_ids(user)).values_list("slug", flat=True))
    return jobs.filter(params__team__in=slugs)


def readable_reports[QS: QuerySet[Any]](records: QS, user: Any) -> QS:
    """Report records ``user`` may read: all, or, when reading is team-scoped, the reports
    of their teams' agents and the packs and exports of one of their teams."""
    if reads_all(user):
        return records
    slugs = list(Team.objects.filter(pk__in=team_ids(user)).values_list("slug", flat=True))
    return records.filter(
        Q(assessment__agent__team__in=team_ids(user))
        | Q(assessment__isnull=True, params__team__in=slugs)
    )


# -- a board's sign-off ------------------------------------------------------------------

SIGNOFF_PERMISSION = "assessments.signoff_reportrecord"


def may_sign_off(user: Any, record: Any) -> bool:
    """Record a board's sign-off of the pack ``record``: reviewers and up; when editing
    is team-scoped, only of a pack of one of their teams (a pack of every team is for
    administrators), as they decide only for their teams."""
    if not getattr(user, "is_authenticated", False) or not user.has_perm(SIGNOFF_PERMISSION):
        return False
    if not editing_scoped() or all_teams(user):
        return True
    team = str(record.params.get("team") or "")
    return bool(team) and Team.objects.filter(pk__in=team_ids(user), slug=team).exists()


def check_actor_sign_off(actor: Any, record: Any) -> None:
    """The action's check (people only; the system, ``actor is None``, is not limited)."""
    if actor is None or may_sign_off(actor, record):
        return
    if not getattr(actor, "is_authenticated", False) or not actor.has_perm(SIGNOFF_PERMISSION):
        raise PermissionDenied("Only reviewers and administrators record a board's sign-off.")
    team = str(record.params.get("team") or "")
    name = Team.objects.filter(slug=team).values_list("name", flat=True).first() if team else None
    what = f"the team {name}" if name else "every team"
    raise OutOfTeam(OUT_OF_TEAM_SIGNOFF.format(pack=record.document_id, what=what))


def editable_teams(user: Any) -> QuerySet[Team]:
    """The teams ``user`` may create agents in or move agents to."""
    teams = Team.objects.all()
    if editing_scoped() and not all_teams(user):
        teams = teams.filter(pk__in=team_ids(user))
    return teams


def readable_teams(user: Any) -> QuerySet[Team]:
    teams = Team.objects.all()
    if not reads_all(user):
        teams = teams.filter(pk__in=team_ids(user))
    return teams
