"""The admin site, open to the administrator role only.

Kept apart from admin.py: the default site is built from this class lazily, and
building it must not re-enter the module that registers models on it.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from assessments.access.roles import has_role


class AssessorAdminSite(admin.AdminSite):
    site_header = "Agent Identity Assessor administration"
    site_title = "Agent Identity Assessor"
    index_title = "Users, roles, catalogue and review intervals"

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and has_role(request.user, "administrator"))

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return guarded

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # One sign-in page for the whole product; signed-in non-administrators get 403.
        if request.user.is_authenticated:
            raise PermissionDenied
        return redirect_to_login(request.GET.get("next", request.get_full_path()))
