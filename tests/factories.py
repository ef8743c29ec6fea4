"""Named personas and small builders for tests."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from assessments import actions
from assessments.models import Agent, Team
from assessments.roles import sync_roles

User = get_user_model()
PASSWORD = "correct-horse-battery-staple"  # noqa: S105
_seq = itertools.count(1)


def user(username: str, role: str | None, **extra: Any) -> Any:
    if not Group.objects.filter(name="viewer").exists():
        sync_roles()
    person = User.objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", **extra
    )
    if role:
        person.groups.add(Group.objects.get(name=role))
    return person


def viewer(username: str = "vera") -> Any:
    return user(username, "viewer", first_name="Vera", last_name="Viewer")


def assessor(username: str = "ada") -> Any:
    return user(username, "assessor", first_name="Ada", last_name="Assessor")


def reviewer(username: str = "rex") -> Any:
    return user(username, "reviewer", first_name="Rex", last_name="Reviewer")


def administrator(username: str = "root") -> Any:
    return user(username, "administrator", first_name="Alice", last_name="Admin")


def outsider(username: str = "otto") -> Any:
    """Signed in, but holds no role."""
    return user(username, None)


def team(name: str = "Platform") -> Team:
    return Team.objects.get_or_create(name=name, defaults={"slug": name.lower().replace(" ", "-")})[
        0
    ]


def agent(
    owner: Any = None,
    *,
    slug: str | None = None,
    systems: list[tuple[str, str]] | None = None,
    links: list[tuple[str, str]] | None = None,
    actor: Any = None,
    **fields: Any,
) -> Agent:
    n = next(_seq)
    owner = owner or User.objects.filter(username="owner").first() or user("owner", "viewer")
    data = {
        "name": f"Agent {n}",
        "slug": slug or f"agent-{n}",
        "purpose": "Does useful things.",
        "owner": owner,
        "team": fields.pop("team", None) or team(),
        "environments": ["production"],
        "platform": "Kubernetes",
        "credential_model": "workload_identity",
        **fields,
    }
    return actions.create_agent(
        actor or owner,
        fields=data,
        systems=[{"name": s, "access": a} for s, a in (systems or [])],
        links=[{"kind": k, "other": o} for k, o in (links or [])],
    )
