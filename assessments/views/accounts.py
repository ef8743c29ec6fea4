from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from assessments import audit, throttle


def _locked_response(request: HttpRequest, until) -> HttpResponse:  # type: ignore[no-untyped-def]
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return render(
        request,
        "registration/locked.html",
        {"minutes": minutes, "until": until},
        status=429,
        headers={"Retry-After": str(minutes * 60)},
    )


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login(request: HttpRequest) -> HttpResponse:
    """Django's sign-in, with a lock on (username, address) after repeated failures."""
    if request.method == "POST":
        username = request.POST.get("username", "")
        if until := throttle.locked_until(username, request):
            audit.record(
                "auth.login_refused", actor_label=username.strip().lower()[:150],
                object_repr=username[:150], request=request,
                changes={"locked_until": until.isoformat()},
            )
            return _locked_response(request, until)
        response = auth_views.LoginView.as_view(redirect_authenticated_user=True)(request)
        if response.status_code == 200 and not request.user.is_authenticated:
            # The failure itself was recorded by the user_login_failed signal.
            if until := throttle.register_failure(username, request):
                return _locked_response(request, until)
        return response
    return auth_views.LoginView.as_view(redirect_authenticated_user=True)(request)
