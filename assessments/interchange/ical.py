"""Secret iCalendar feeds of review dates (RFC 5545, through the ``icalendar`` library).

A feed URL carries a random token; only its SHA-256 is stored, so the token is the
credential and a leaked database does not leak working URLs. One all-day event per open
review, on its due date, with a stable UID so calendar clients update it in place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from assessments import portfolio
from assessments.access import scope as team_scope
from assessments.models import Agent, CalendarFeed, Review
from assessments.workflow import reviews

PRODID = "-//Agent Identity Assessor//Reclassification reviews//EN"


def feed_url(token: str) -> str:
    return settings.SITE_URL + reverse("assessments:calendar_feed", args=[token])


def find_feed(token: str) -> CalendarFeed | None:
    """The live feed for ``token``: not revoked, and its owner still signs in with a role."""
    if not token or len(token) > 128:
        return None
    feed = (
        CalendarFeed.objects.select_related("owner", "team")
        .filter(token_hash=CalendarFeed.hash_token(token), revoked_at=None)
        .first()
    )
    if feed is None or not feed.owner.is_active:
        return None
    if not feed.owner.has_perm("assessments.view_review"):
        return None
    return feed


def feed_reviews(feed: CalendarFeed) -> models.QuerySet[Review]:
    qs = Review.objects.open().filter(agent__status=Agent.Status.ACTIVE)
    # Its owner's teams as they are now, when reading is team-scoped (scope.py).
    qs = team_scope.readable(qs, feed.owner, "agent__team")
    if feed.scope == CalendarFeed.Scope.TEAM:
        if feed.team_id is None:
            return qs.none()
        qs = qs.filter(agent__team_id=feed.team_id)
    else:
        qs = qs.filter(Q(agent__owner_id=feed.owner_id) | Q(assignee_id=feed.owner_id))
    return qs.select_related("agent", "agent__team", "agent__owner", "assignee").order_by(
        "due_on", "pk"
    )


def feed_name(feed: CalendarFeed) -> str:
    if feed.scope == CalendarFeed.Scope.TEAM and feed.team is not None:
        return f"Reviews: {feed.team.name}"
    return f"Reviews: {reviews.person(feed.owner)}"


def _description(review: Review, url: str) -> str:
    agent = review.agent
    lines = [
        f"Reclassification review of {agent.name} ({agent.slug}).",
        (
            f"Current decision: {agent.get_current_classification_display()}, "
            f"tier {agent.current_tier}."
            if agent.current_tier
            else f"{portfolio.UNASSESSED_LABEL}: no assessment approved yet."
        ),
        f"Team: {agent.team.name}. Owner: {reviews.person(agent.owner)}.",
        f"Assigned to: {reviews.person(review.assignee) or 'nobody yet'}.",
        "",
        "Why:",
        *[f"- {r.get('detail', '')}" for r in review.reasons],
        "",
        url,
    ]
    return "\n".join(lines)


def render_feed(feed: CalendarFeed, items: list[Review], now: dt.datetime | None = None) -> bytes:
    now = now or timezone.now()
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("name", feed_name(feed))
    cal.add("x-wr-calname", feed_name(feed))
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", icalendar.vDuration(dt.timedelta(hours=1)))
    for review in items:
        cal.add_component(_event(review, host, now))
    return cal.to_ical()


def _event(review: Review, host: str, now: dt.datetime) -> Any:
    agent = review.agent
    url = settings.SITE_URL + agent.get_absolute_url()
    event = icalendar.Event()
    event.add("uid", f"review-{review.pk}@{host}")
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", review.due_on)
    event.add("dtend", review.due_on + dt.timedelta(days=1))
    prefix = "Triggered review" if review.triggered_at else "Review due"
    event.add("summary", f"{prefix}: {agent.name}")
    event.add("description", _description(review, url))
    event.add("url", url)
    event.add("categories", ["Reclassification review"])
    event.add("status", "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    event.add("created", review.created_at.astimezone(dt.UTC))
    return event
