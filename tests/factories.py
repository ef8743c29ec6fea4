"""Named personas and small builders for tests."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from assessments import actions
from assessments.access.roles import sync_roles
from assessments.models import Agent, Team

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


# A complete answer set for a fixed script: machine identity, baseline tier.
SCRIPT_ANSWERS: dict[str, Any] = {
    "decision_mode": "fixed_script",
    "tool_selection": "fixed",
    "crosses_environments": False,
    "calls_external_apis": False,
    "credential_model": "vaulted_rotated",
    "decides_own_scopes": False,
    "alters_own_access": False,
    "shared_platform_role": False,
    "human_approval": "every_action",
    "delegated_approval": False,
    "network_reach": "allowlisted",
    "traced_identity": "all",
    "traced_policy_decision": "all",
    "traced_audit_record": "all",
    "orchestration": "standalone",
    "hybrid_pipeline": False,
    "planned_changes": [],
}


def answered(agent_obj: Agent, actor: Any, **overrides: Any) -> Any:
    """A draft assessment of ``agent_obj`` with every required answer given."""
    a = actions.start_assessment(actor, agent_obj)
    answers = {**SCRIPT_ANSWERS, **overrides}
    return actions.save_answers(actor, a, answers, expected_version=a.lock_version)


def approved(agent_obj: Agent, assessor_user: Any, reviewer_user: Any, **overrides: Any) -> Any:
    """An approved assessment (with an exception when the audit gap needs one)."""
    import datetime as dt

    from django.utils import timezone

    a = answered(agent_obj, assessor_user, **overrides)
    a = actions.submit_assessment(assessor_user, a)
    blocking = [f for f in a.result["flags"] if f == "audit_gap"]
    return actions.approve_assessment(
        reviewer_user,
        a,
        exception_subjects=blocking,
        exception_reason="Accepted while tracing is built." if blocking else "",
        exception_expires_on=timezone.localdate() + dt.timedelta(days=90) if blocking else None,
    )


def ensure_reference_data() -> None:
    """Groups and the catalogue come from migrations; TransactionTestCase flushes them."""
    from assessments import engine
    from assessments.models import CatalogueVersion
    from assessments.workflow import decisions

    sync_roles()
    if not CatalogueVersion.objects.filter(is_current=True).exists():
        decisions.import_catalogue(engine.load_catalogue().to_dict(), make_current=True)
