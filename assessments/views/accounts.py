from __future__ import annotations

import datetime as dt

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from assessments import throttle


def _locked_response(request: HttpRequest, until: dt.datetime) -> HttpResponse:
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    response = render(
        request, "registration/locked.html", {"minutes": minutes, "until": until}, status=429
    )
    response["Retry-After"] = str(minutes * 60)
    return response


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login(request: HttpRequest) -> HttpResponseBase:
    """Django's sign-in, with a lock on (username, address) after repeated failures."""
    if request.method == "POST":
        username = str(request.POST.get("username", ""))
        if until := throttle.reserve(username, request):
            return _locked_response(request, until)
        response = auth_views.LoginView.as_view(redirect_authenticated_user=True)(request)
        if request.user.is_authenticated:
            throttle.register_success(username, request)
        elif response.status_code == 200 and (
            until := throttle.register_failure(username, request)
        ):
            return _locked_response(request, until)
        return response
    return auth_views.LoginView.as_view(redirect_authenticated_user=True)(request)
