"""Template helpers for reviews: reason labels and the planned-changes card."""

from __future__ import annotations

from typing import Any

from django import template

from assessments.models import Assessment, Review
from assessments.workflow import reviews

register = template.Library()


@register.filter
def reason_label(code: str) -> str:
    """A review reason code as the queue names it ("new_link" -> "New linked agent")."""
    return reviews.reason_label(str(code))


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


@register.inclusion_tag("assessments/includes/planned_changes.html", takes_context=True)
def planned_changes_card(context: template.Context) -> dict[str, Any]:
    """The latest approved assessment's planned changes, each with a "landed" button
    (assessors and above) that triggers the reassessment."""
    agent = context["agent"]
    latest: Assessment | None = context.get("latest_approved")
    review: Review | None = context.get("open_review")
    planned = list((latest.answers or {}).get("planned_changes") or []) if latest else []
    landed = reviews.landed_changes(review)
    request = context.get("request")
    can_mark = bool(
        request and request.user.has_perm("assessments.add_assessment") and not agent.is_retired
    )
    return {
        "agent": agent,
        "latest": latest,
        "changes": [
            {
                "value": value,
                "label": reviews.planned_change_label(value),
                "landed": value in landed,
            }
            for value in planned
        ],
        "can_mark": can_mark,
        "csrf_token": context.get("csrf_token"),
    }
