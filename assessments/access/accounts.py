"""Account changes in the tamper-evident audit log, whoever makes them.

Users change through the admin, the sign-in flows (single sign-on derives roles at each
sign-in), management commands and the shell. The model signals below catch every
path: a user created, a role (auth group) or team added or removed, superuser or staff
granted or revoked, an account disabled or enabled, a password set or changed. The
person who made the change is the signed-in user of the request in progress
(``AccountChangeMiddleware`` keeps it for the duration of the request); a change
outside a request is recorded as made by the system.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from assessments.models import Team
from assessments.records import audit, backup

_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "account_request", default=None
)
# Flags whose change is a change of privilege or of access, with the verb for each way.
_FLAGS = {
    "is_superuser": ("account.superuser_granted", "account.superuser_revoked"),
    "is_staff": ("account.staff_granted", "account.staff_revoked"),
    "is_active": ("account.enabled", "account.disabled"),
}

User = get_user_model()


class AccountChangeMiddleware:
    """Makes the request in progress known to the account signals (actor, address)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def current_request() -> HttpRequest | None:
    """The request in progress, if the change is made by one."""
    return _request.get()


def _actor() -> tuple[Any, HttpRequest | None]:
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return (user if user is not None and user.is_authenticated else None), request


def _record(verb: str, user: Any, changes: dict[str, Any] | None = None) -> None:
    actor, request = _actor()
    audit.record(verb, actor=actor, obj=user, request=request, changes=changes or {})


@receiver(pre_save, sender=User, dispatch_uid="account-before")
def _remember(sender: Any, instance: Any, **kwargs: Any) -> None:
    if not instance.pk:
        instance._account_before = None
        return
    instance._account_before = (
        sender.objects.filter(pk=instance.pk).values("password", *_FLAGS).first()
    )


@receiver(post_save, sender=User, dispatch_uid="account-after")
def _changed(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw:  # fixtures and restores load history; they do not make it
        return
    if created:
        _record(
            "account.created",
            instance,
            {flag: getattr(instance, flag) for flag in _FLAGS}
            | {"password": "set" if instance.has_usable_password() else "none"},
        )
        return
    before = getattr(instance, "_account_before", None)
    if not before:
        return
    for flag, (granted, revoked) in _FLAGS.items():
        if before[flag] != getattr(instance, flag):
            _record(granted if getattr(instance, flag) else revoked, instance)
    if before["password"] != instance.password:
        _record(
            "account.password_changed"
            if instance.has_usable_password()
            else "account.password_removed",
            instance,
        )
    instance._account_before = {
        "password": instance.password,
        **{flag: getattr(instance, flag) for flag in _FLAGS},
    }


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="account-groups")
def _groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if action not in ("post_add", "post_remove", "pre_clear") or reverse or backup.restoring():
        return
    if action == "pre_clear":
        names = list(instance.groups.values_list("name", flat=True))
        verb = "account.roles_removed"
    else:
        names = list(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
        verb = "account.roles_added" if action == "post_add" else "account.roles_removed"
    if names:
        _record(verb, instance, {"roles": sorted(names)})


@receiver(m2m_changed, sender=Team.members.through, dispatch_uid="account-teams")
def _teams_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """Team membership, changed from the team (admin) or from the person (SSO groups)."""
    if action not in ("post_add", "post_remove", "pre_clear") or backup.restoring():
        return
    verb = "account.teams_added" if action == "post_add" else "account.teams_removed"
    if reverse:  # person.teams.add/remove/set: instance is the person
        teams = (
            instance.teams.all()
            if action == "pre_clear"
            else Team.objects.filter(pk__in=pk_set or ())
        )
        names = sorted(t.name for t in teams)
        if names:
            _record(verb, instance, {"teams": names})
        return
    people = (
        instance.members.all()
        if action == "pre_clear"
        else User.objects.filter(pk__in=pk_set or ())
    )
    for person in people:
        _record(verb, person, {"teams": [instance.name]})
