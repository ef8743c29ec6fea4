"""Account actions: personal calendar feeds."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments import audit
from assessments.actions.errors import ActionError
from assessments.models import (
    CalendarFeed,
    Team,
)

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
