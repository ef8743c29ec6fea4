"""What a provisioned resource means here: accounts, roles and teams.

- A User resource drives one local account: ``userName`` its username (kept when
  another account holds it), ``name`` and the primary e-mail its name and address,
  ``active`` whether it may sign in. A new resource takes over the account of the same
  username that single sign-on made earlier; never a superuser's, a service account's
  or a break-glass account's (``SSO_BREAK_GLASS_USERS``): those get an account of
  their own.
- The Group resources a person is a member of give them their role and teams, as a
  sign-in's groups claim does (``sso.apply_directory_groups``): a group whose
  ``displayName`` is in ``OIDC_ROLE_MAP`` gives that role, one named
  ``OIDC_TEAM_PREFIX`` + a team's slug makes them a member.
- Deactivating (``active: false``) or deleting a person's resource disables the account
  (``signals.end_sessions_of_disabled_user`` ends its sessions and calendar feeds; its
  API tokens stop working); the account stays, since the records name it.

Account changes are audited by ``accounts.py``'s signals, with the service account of
the request as the actor; the provisioning itself adds ``scim.*`` events.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from assessments.access import accounts, sso
from assessments.models import ScimResource, ServiceAccount
from assessments.records import audit

User = get_user_model()


def _actor() -> Any:
    request = accounts.current_request()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


def _record(verb: str, row: ScimResource, obj: Any, changes: dict[str, Any]) -> None:
    audit.record(
        verb,
        actor=_actor(),
        obj=obj,
        request=accounts.current_request(),
        changes={"scim_id": row.scim_id, **changes},
    )


def written(row: ScimResource, before: dict[str, Any] | None) -> None:
    """A resource was created (``before`` None) or replaced."""
    if row.resource_type == ScimResource.Type.USER:
        _person_written(row, before)
    else:
        _group_written(row, before)


def removed(row: ScimResource) -> None:
    """A resource is about to be deleted."""
    if row.resource_type == ScimResource.Type.USER:
        user = row.user
        _drop_member(row.scim_id)
        if user is not None:
            if user.is_active:
                user.is_active = False
                user.save(update_fields=["is_active"])
            _record("scim.person_deleted", row, user, {"userName": row.document.get("userName")})
        return
    members = _member_ids(row.document)
    _record(
        "scim.group_deleted",
        row,
        None,
        {"group": row.document.get("displayName", ""), "members": len(members)},
    )
    _regroup(members, without=row.pk)


# -- people


def _person_written(row: ScimResource, before: dict[str, Any] | None) -> None:
    doc = row.document
    created = row.user_id is None
    user = row.user if row.user_id else _account_for(str(doc.get("userName") or ""))
    changes = _apply_person(user, doc)
    if created:
        row.user = user
        row.save(update_fields=["user"])
        _record("scim.person_provisioned", row, user, {"userName": doc.get("userName")})
        _regroup([row.scim_id])
    elif changes:
        _record("scim.person_changed", row, user, changes)


def _account_for(user_name: str) -> Any:
    """The account a new User resource drives: single sign-on's earlier account of the
    same username when it may be taken over, else a new one."""
    existing = User.objects.filter(username__iexact=user_name).first()
    if existing is not None and _may_take_over(existing):
        return existing
    user = User(username=sso._unique_username(user_name or "scim-user"))
    user.set_unusable_password()
    user.save()
    return user


def _may_take_over(user: Any) -> bool:
    return not (
        user.is_superuser
        or user.username.strip().lower() in settings.SSO_BREAK_GLASS_USERS
        or ServiceAccount.objects.filter(user=user).exists()
        or ScimResource.objects.filter(user=user).exists()
    )


def _apply_person(user: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """Name, e-mail, username and active state from the resource; returns what changed."""
    name = doc.get("name") or {}
    wanted = {
        "first_name": str(name.get("givenName") or "")[:150],
        "last_name": str(name.get("familyName") or "")[:150],
        "email": _primary_email(doc)[:254],
        "is_active": doc.get("active") is not False,
    }
    user_name = str(doc.get("userName") or "")
    if (
        user_name
        and user_name != user.username
        and len(user_name) <= 150
        and not User.objects.filter(username__iexact=user_name).exclude(pk=user.pk).exists()
    ):
        wanted["username"] = user_name
    changes = {field: value for field, value in wanted.items() if getattr(user, field) != value}
    if changes:
        for field, value in changes.items():
            setattr(user, field, value)
        user.save(update_fields=list(changes))
    return changes


def _primary_email(doc: dict[str, Any]) -> str:
    emails = [e for e in doc.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    primary = [e for e in emails if e.get("primary")]
    return str((primary or emails or [{"value": ""}])[0]["value"])


# -- groups


def _member_ids(doc: dict[str, Any]) -> set[str]:
    return {
        str(m["value"]) for m in doc.get("members") or [] if isinstance(m, dict) and m.get("value")
    }


def _group_written(row: ScimResource, before: dict[str, Any] | None) -> None:
    now, then = _member_ids(row.document), _member_ids(before or {})
    renamed = before is not None and before.get("displayName") != row.document.get("displayName")
    _record(
        "scim.group_provisioned" if before is None else "scim.group_changed",
        row,
        None,
        {
            "group": row.document.get("displayName", ""),
            "added": len(now - then),
            "removed": len(then - now),
        },
    )
    _regroup(now | then if renamed or before is None else now ^ then)


def _regroup(person_ids: set[str] | list[str], without: int | None = None) -> None:
    """Give each of these people the role and teams of the groups they are now in."""
    people = ScimResource.objects.filter(
        resource_type=ScimResource.Type.USER, scim_id__in=person_ids, user__isnull=False
    ).select_related("user")
    if not people:
        return
    groups = ScimResource.objects.filter(resource_type=ScimResource.Type.GROUP)
    if without is not None:
        groups = groups.exclude(pk=without)
    membership: dict[str, list[str]] = {}
    for group in groups:
        for member in _member_ids(group.document):
            membership.setdefault(member, []).append(str(group.document.get("displayName", "")))
    for person in people:
        sso.apply_directory_groups(person.user, sorted(membership.get(person.scim_id, [])))


def _drop_member(person_id: str) -> None:
    """A deleted person leaves every group that lists them (RFC 7644 §3.6)."""
    for group in ScimResource.objects.filter(resource_type=ScimResource.Type.GROUP):
        members = group.document.get("members") or []
        kept = [m for m in members if not (isinstance(m, dict) and m.get("value") == person_id)]
        if len(kept) != len(members):
            group.document = {**group.document, "members": kept}
            group.version += 1
            group.save(update_fields=["document", "version"])
