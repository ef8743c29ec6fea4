from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from assessments.access import scope, sso
from assessments.access.roles import has_role, role_of
from assessments.models import Assessment, Notification


def inbox_counts(user: Any, *, reviewer: bool) -> dict[str, int]:
    """The navigation's badges in one query: the person's unread notifications and, for
    reviewers, the assessments awaiting a decision (``Assessment.objects.awaiting_decision``)."""

    def count(qs: Any, group: str) -> Coalesce:
        rows = qs.order_by().values(group).annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(rows[:1], output_field=IntegerField()), Value(0))

    unread = Notification.objects.unread().filter(recipient=OuterRef("pk"))
    awaiting = scope.decidable(Assessment.objects.awaiting_decision(), user, "agent__team")
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values(
            unread=count(unread, "recipient"),
            awaiting=count(awaiting, "status") if reviewer else Value(0),
        )
        .first()
    )
    return (
        {"unread": row["unread"], "awaiting": row["awaiting"]}
        if row
        else {"unread": 0, "awaiting": 0}
    )


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    reviewer = has_role(user, "reviewer")
    return {
        "user_role": role_of(user),
        "can_edit": has_role(user, "assessor"),
        "can_review": reviewer,
        "is_administrator": has_role(user, "administrator"),
        # A local password to change and to pair with a second factor (not for people
        # who sign in through SSO, nor for anyone but break-glass in SSO-only mode).
        "local_password": user.has_usable_password()
        and sso.local_password_allowed(user.get_username()),
        # Counted only when a page shows the navigation (never for htmx fragments).
        "inbox": SimpleLazyObject(lambda: inbox_counts(user, reviewer=reviewer)),
    }
