from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from assessments.roles import has_role, role_of


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "user_role": role_of(user),
        "can_edit": has_role(user, "assessor"),
        "can_review": has_role(user, "reviewer"),
        "is_administrator": has_role(user, "administrator"),
    }
