"""Roles are auth groups with cumulative permissions; views check permissions.

viewer < assessor < reviewer < administrator: each role can do what the roles
before it can, and more. ``sync_roles`` creates the groups and their permissions
(the data migration calls it; it is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from assessments.models import Role

ROLE_ORDER = [Role.VIEWER, Role.ASSESSOR, Role.REVIEWER, Role.ADMINISTRATOR]

_VIEW_MODELS = [
    "agent",
    "system",
    "agentlink",
    "team",
    "assessment",
    "gapexception",
    "review",
    "catalogueversion",
    "framework",
    "frameworkitem",
    "control",
    "controlmapping",
    "referencenote",
    "reviewinterval",
    "reportrecord",
    "boardpackjob",
    "discoveredidentity",
    "discoveryrun",
    "appetiteband",
]

# Permissions each role adds to the ones before it ("app_label.codename").
ROLE_ADDS: dict[str, list[str]] = {
    # Viewers are the board's readers: they make their own board packs.
    Role.VIEWER: [*(f"assessments.view_{m}" for m in _VIEW_MODELS), "assessments.add_boardpackjob"],
    Role.ASSESSOR: [
        "assessments.add_agent",
        "assessments.change_agent",
        "assessments.add_system",
        "assessments.change_system",
        "assessments.delete_system",
        "assessments.add_agentlink",
        "assessments.delete_agentlink",
        "assessments.add_assessment",
        "assessments.change_assessment",
        "assessments.add_discoveryrun",
        "assessments.change_discoveredidentity",
    ],
    Role.REVIEWER: [
        "assessments.review_assessment",
        "assessments.view_audit",
        "assessments.view_auditevent",
        "assessments.change_review",
        "assessments.add_gapexception",
        "assessments.change_gapexception",
        "assessments.signoff_reportrecord",
    ],
    Role.ADMINISTRATOR: [
        "assessments.add_team",
        "assessments.change_team",
        "assessments.add_catalogueversion",
        "assessments.change_catalogueversion",
        "assessments.add_framework",
        "assessments.change_framework",
        "assessments.add_frameworkitem",
        "assessments.change_frameworkitem",
        "assessments.add_control",
        "assessments.change_control",
        "assessments.add_controlmapping",
        "assessments.change_controlmapping",
        "assessments.delete_controlmapping",
        "assessments.add_referencenote",
        "assessments.change_referencenote",
        "assessments.add_reviewinterval",
        "assessments.change_reviewinterval",
        "assessments.delete_reviewinterval",
        "assessments.add_appetiteband",
        "assessments.change_appetiteband",
        "assessments.view_webhookendpoint",
        "assessments.add_webhookendpoint",
        "assessments.change_webhookendpoint",
        "assessments.view_webhookdelivery",
        "assessments.change_webhookdelivery",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "auth.change_group",
    ],
}


def permissions_for(role: str) -> list[str]:
    perms: list[str] = []
    for r in ROLE_ORDER:
        perms += ROLE_ADDS[r]
        if r == role:
            break
    return perms


def sync_roles(apps: Any = None) -> None:
    """Create the four groups with exactly their permissions (idempotent)."""
    from django.apps import apps as global_apps

    historical = apps is not None and apps is not global_apps
    if apps is None:
        apps = global_apps
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():
        # Historical app configs (inside a migration) have no models module, which
        # create_permissions takes to mean "nothing to do"; lend them one meanwhile.
        original = getattr(config, "models_module", None)
        if original is None:
            config.models_module = True
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLE_ORDER:
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for dotted in permissions_for(role):
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is None:
                if historical and _model_missing(apps, app_label, codename):
                    continue  # an earlier migration: a later one syncs again
                raise LookupError(f"Permission {dotted} does not exist.")
            wanted.append(perm)
        group.permissions.set(wanted)


def _model_missing(apps: Any, app_label: str, codename: str) -> bool:
    """Whether the model a default permission (``view_x``, ``add_x``, …) is for does not
    exist yet in this migration's state (a model added by a later migration), or no model
    declares a custom permission yet."""
    action, _, model = codename.partition("_")
    if action not in ("view", "add", "change", "delete"):
        # A model's own permission (Meta.permissions): missing until the migration that
        # declares it.
        return not any(
            codename == declared
            for m in apps.get_app_config(app_label).get_models()
            for declared, _name in m._meta.permissions
        )
    try:
        apps.get_model(app_label, model)
    except LookupError:
        return True
    return False


def role_of(user: Any) -> str | None:
    """The highest role a user holds, cached on the user for the request."""
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_role_cache", "unset")
    if cached != "unset":
        return cached
    role: str | None = Role.ADMINISTRATOR if user.is_superuser else None
    if role is None:
        names = set(user.groups.values_list("name", flat=True))
        for r in reversed(ROLE_ORDER):
            if r.value in names:
                role = r.value
                break
    user._role_cache = role
    return role


def has_role(user: Any, role: str) -> bool:
    held = role_of(user)
    if held is None:
        return False
    return ROLE_ORDER.index(Role(held)) >= ROLE_ORDER.index(Role(role))


def permission_required(
    perm: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Anonymous users go to sign in; signed-in users without ``perm`` get 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator
