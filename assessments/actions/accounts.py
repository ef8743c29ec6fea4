"""Account actions: personal calendar feeds, API tokens and service accounts."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments.access import scope as team_scope
from assessments.actions.errors import ActionError
from assessments.models import (
    ApiToken,
    CalendarFeed,
    ServiceAccount,
    Team,
)
from assessments.records import audit

MAX_CALENDAR_FEEDS = 10


@transaction.atomic
def create_calendar_feed(
    actor: Any,
    *,
    scope: str,
    team: Team | None = None,
    request: HttpRequest | None = None,
) -> tuple[CalendarFeed, str]:
    """A new secret feed URL. Returns the feed and its token, which is shown once: only
    its hash is stored."""
    if scope not in CalendarFeed.Scope.values:
        raise ActionError("Choose whose reviews the feed shows.")
    if scope == CalendarFeed.Scope.TEAM and team is None:
        raise ActionError("Choose the team whose reviews the feed shows.")
    if (
        scope == CalendarFeed.Scope.TEAM
        and not team_scope.reads_all(actor)
        and not team_scope.in_team(actor, team)
    ):
        raise ActionError("Choose one of your teams: you read only your teams' reviews.")
    if scope == CalendarFeed.Scope.MINE:
        team = None
    active = CalendarFeed.objects.filter(owner=actor, revoked_at=None).count()
    if active >= MAX_CALENDAR_FEEDS:
        raise ActionError(
            f"You already have {MAX_CALENDAR_FEEDS} active feeds. Revoke one you no longer use."
        )
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        owner=actor, scope=scope, team=team, token_hash=CalendarFeed.hash_token(token)
    )
    audit.record(
        "calendar_feed.create",
        actor=actor,
        obj=feed,
        request=request,
        changes={"scope": scope, "team": team.slug if team else None},
    )
    return feed, token


@transaction.atomic
def revoke_calendar_feed(
    actor: Any, feed: CalendarFeed, *, request: HttpRequest | None = None
) -> CalendarFeed:
    current = CalendarFeed.objects.select_for_update(of=("self",)).get(pk=feed.pk)
    if current.owner_id != actor.pk:
        raise ActionError("Only the person who created a feed can revoke it.")
    if current.revoked_at is not None:
        raise ActionError("This feed is already revoked.")
    current.revoked_at = timezone.now()
    current.save(update_fields=["revoked_at"])
    audit.record(
        "calendar_feed.revoke",
        actor=actor,
        obj=current,
        request=request,
        changes={"scope": current.scope, "team": current.team_id},
    )
    return current


# --------------------------------------------------------------------------- API access

# The scopes each role may hold: a token narrows what its user can do, never widens it.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "viewer": ("read",),
    "assessor": ("read", "write"),
    "reviewer": ("read", "write", "review"),
    "administrator": ("read", "write", "review"),
}
MAX_API_TOKENS = 20
TOKEN_TOUCH_SECONDS = 60  # write last_used_at at most this often per token


def allowed_scopes(user: Any) -> tuple[str, ...]:
    from assessments.access.roles import role_of

    scopes = ROLE_SCOPES.get(role_of(user) or "", ())
    if role_of(user) == "administrator" and ServiceAccount.objects.filter(user=user).exists():
        scopes = (*scopes, "scim")  # the identity provider's account (assessments/scim/)
    return scopes


def can_manage_tokens_of(actor: Any, owner: Any) -> bool:
    """People manage their own tokens; administrators manage service accounts' tokens."""
    from assessments.access.roles import has_role

    if actor.pk == owner.pk:
        return True
    return ServiceAccount.objects.filter(user=owner).exists() and has_role(actor, "administrator")


@transaction.atomic
def create_api_token(
    actor: Any,
    *,
    owner: Any,
    name: str,
    scopes: list[str] | tuple[str, ...],
    expires_in_days: int,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """A new API token for ``owner`` (the actor, or a service account an administrator
    manages). Returns the token and its secret, which is shown once: only a hash of it
    is stored."""
    if not can_manage_tokens_of(actor, owner):
        raise ActionError(
            "You can create tokens for yourself and, as an administrator, for "
            "service accounts only."
        )
    name = (name or "").strip()
    if not name:
        raise ActionError("Give the token a name that says where it is used.")
    chosen = [s for s in ApiToken.Scope.values if s in set(scopes)]
    if not chosen or len(chosen) != len(set(scopes)):
        raise ActionError("Choose at least one scope: read, write or review.")
    if ApiToken.Scope.SCIM in chosen and not ServiceAccount.objects.filter(user=owner).exists():
        raise ActionError(
            "The SCIM scope is for the identity provider: give it to a service account "
            "of an administrator, not to a person's own token."
        )
    allowed = allowed_scopes(owner)
    beyond = [s for s in chosen if s not in allowed]
    if beyond:
        raise ActionError(
            f"The {', '.join(beyond)} scope{'s are' if len(beyond) > 1 else ' is'} beyond what "
            f"this account's role can do ({', '.join(allowed) or 'nothing'})."
        )
    if not 1 <= expires_in_days <= ApiToken.MAX_DAYS:
        raise ActionError(f"A token lasts between 1 and {ApiToken.MAX_DAYS} days.")
    if ApiToken.objects.usable().filter(user=owner).count() >= MAX_API_TOKENS:
        raise ActionError(
            f"This account already has {MAX_API_TOKENS} tokens in use. Revoke one first."
        )
    secret = ApiToken.MARK + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=owner,
        name=name[:120],
        prefix=secret[: ApiToken.PREFIX_LENGTH],
        token_hash=ApiToken.hash_token(secret),
        scopes=chosen,
        expires_at=timezone.now() + dt.timedelta(days=expires_in_days),
        created_by=actor,
    )
    audit.record(
        "api_token.create",
        actor=actor,
        obj=token,
        request=request,
        changes={
            "owner": owner.get_username(),
            "name": token.name,
            "prefix": token.prefix,
            "scopes": chosen,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return token, secret


@transaction.atomic
def revoke_api_token(
    actor: Any, token: ApiToken, *, request: HttpRequest | None = None
) -> ApiToken:
    current = (
        ApiToken.objects.select_for_update(of=("self",)).select_related("user").get(pk=token.pk)
    )
    if not can_manage_tokens_of(actor, current.user):
        raise ActionError(
            "Only the token's owner (or, for a service account, an administrator) can revoke it."
        )
    if current.revoked_at is not None:
        raise ActionError("This token is already revoked.")
    current.revoked_at = timezone.now()
    current.revoked_by = actor
    current.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(
        "api_token.revoke",
        actor=actor,
        obj=current,
        request=request,
        changes={"owner": current.user.get_username(), "prefix": current.prefix},
    )
    return current


def record_refused_token(token: ApiToken, *, request: HttpRequest | None = None) -> None:
    """Someone presented a revoked or expired token: worth a line in the audit log."""
    reason = "revoked" if token.revoked_at is not None else "expired"
    audit.record(
        "api_token.refused",
        actor=None,
        actor_label="anonymous",
        obj=token,
        request=request,
        changes={"reason": reason, "owner": token.user.get_username(), "prefix": token.prefix},
    )


def touch_api_token(token: ApiToken) -> None:
    """Record when a token was last used (not an audit event: reads would flood the log)."""
    now = timezone.now()
    if token.last_used_at and (now - token.last_used_at).total_seconds() < TOKEN_TOUCH_SECONDS:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


@transaction.atomic
def create_service_account(
    actor: Any,
    *,
    username: str,
    role: str,
    description: str = "",
    request: HttpRequest | None = None,
) -> ServiceAccount:
    """A named account for automation, holding ``role``. It has no password."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from assessments.access.roles import ROLE_ORDER, has_role

    if not has_role(actor, "administrator"):
        raise ActionError("Only administrators create service accounts.")
    username = (username or "").strip()
    User = get_user_model()
    if (
        not username
        or len(username) > 150
        or not all(c.isalnum() or c in "@.+-_" for c in username)
    ):
        raise ActionError("Give the account a name of letters, digits and @ . + - _ only.")
    if User.objects.filter(username__iexact=username).exists():
        raise ActionError(f"The name “{username}” is already taken.")
    if role not in [r.value for r in ROLE_ORDER]:
        raise ActionError("Choose the role the service account holds.")
    user = User.objects.create_user(username=username, password=None)
    user.groups.add(Group.objects.get(name=role))
    account = ServiceAccount.objects.create(
        user=user, description=description.strip(), created_by=actor
    )
    audit.record(
        "service_account.create",
        actor=actor,
        obj=user,
        request=request,
        changes={"username": username, "role": role, "description": account.description},
    )
    return account
