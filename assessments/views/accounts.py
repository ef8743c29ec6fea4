"""Sign-in: local passwords (and second factors) through allauth's login flow, with the
audit-log lock on repeated failures, and single sign-on beside it (assessments/access/sso.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps

from allauth.account import views as allauth_views
from allauth.account.internal import stagekit
from allauth.account.views import LoginView
from allauth.mfa.base import views as mfa_views
from allauth.mfa.webauthn import views as webauthn_views
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET

from assessments.access import sso, throttle
from assessments.access.roles import role_of
from assessments.records import audit


def _locked_response(request: HttpRequest, until: dt.datetime) -> HttpResponse:
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    response = render(
        request, "registration/locked.html", {"minutes": minutes, "until": until}, status=429
    )
    response["Retry-After"] = str(minutes * 60)
    return response


class _LoginView(LoginView):
    template_name = "registration/login.html"

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context.update(
            sso_enabled=sso.sso_enabled(),
            sso_name=settings.OIDC_PROVIDER_NAME,
            sso_only=settings.SSO_ONLY,
        )
        return context


_allauth_login = _LoginView.as_view()


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@sso.allow_provider_form_action
def login(request: HttpRequest) -> HttpResponseBase:
    """Local sign-in, locked on (username, address) after repeated failures; in SSO-only
    mode, for the break-glass accounts alone."""
    if request.method == "POST":
        if "login" not in request.POST and "username" in request.POST:
            # The field's older name still works (a mutable copy, on purpose).
            post = request.POST.copy()
            post["login"] = str(post["username"])
            request.POST = post  # type: ignore[assignment]
        username = str(request.POST.get("login", ""))
        if not sso.local_password_allowed(username):
            audit.record(
                "auth.login_refused",
                actor_label=throttle.normalised_username(username),
                object_repr=throttle.normalised_username(username),
                request=request,
                changes={"reason": "sso_only"},
            )
            return render(
                request,
                "registration/login.html",
                {
                    "sso_enabled": sso.sso_enabled(),
                    "sso_name": settings.OIDC_PROVIDER_NAME,
                    "sso_only": True,
                    "refused": True,
                },
                status=403,
            )
        if until := throttle.reserve(username, request):
            return _locked_response(request, until)
        response = _allauth_login(request)
        # Signed in, or the password was right and a second factor is asked next
        # (allauth redirects to that stage; a wrong password shows the form again).
        if request.user.is_authenticated:
            throttle.register_success(username, request)
        elif response.status_code in (301, 302, 303):
            # The password was right; the second factor is asked next, on the same
            # counter: the slot is given back, the count so far is not forgiven.
            throttle.release(username, request)
        elif response.status_code == 200 and (
            until := throttle.register_failure(username, request)
        ):
            return _locked_response(request, until)
        return response
    return _allauth_login(request)


@login_required
@require_GET
def waiting_for_access(request: HttpRequest) -> HttpResponse:
    """Signed in, but no role yet: nothing to see until an administrator (or the
    directory) grants one."""
    if role_of(request.user) is not None:
        return redirect("assessments:dashboard")
    return render(request, "registration/waiting.html", status=200)


_password_change = auth_views.PasswordChangeView.as_view()


@login_required
def password_change(request: HttpRequest) -> HttpResponseBase:
    """Django's password change; in SSO-only mode, for the break-glass accounts alone
    (everyone else's password is their directory's)."""
    if not sso.local_password_allowed(request.user.get_username()):
        return render(
            request,
            "registration/password_sso_only.html",
            {"sso_name": settings.OIDC_PROVIDER_NAME},
            status=403,
        )
    return _locked_password_change(request)


def _attempt_locked(
    name: str,
    request: HttpRequest,
    attempt: Callable[[HttpRequest], HttpResponseBase],
    via: str,
) -> HttpResponseBase:
    """One attempt at a secret under the audit-log lock: a redirect is a success, the
    form shown again a failure. ``name`` is the person's username: sign-in, the second
    factor, re-authentication and the password change share one counter, so the fifth
    failure among them all locks (person, address)."""
    if until := throttle.reserve(name, request):
        return _locked_response(request, until)
    response = attempt(request)
    if response.status_code in (301, 302, 303):
        throttle.register_success(name, request)
    elif response.status_code == 200 and (
        until := throttle.register_failure(name, request, via=via)
    ):
        return _locked_response(request, until)
    return response


@sensitive_post_parameters("code", "credential")
@never_cache
def mfa_authenticate(request: HttpRequest) -> HttpResponseBase:
    """allauth's second-factor step of a sign-in, with the same lock as passwords: five
    wrong codes (or failed passkey assertions) lock that person's second factor from
    that address. (allauth's own limiter is off: ACCOUNT_RATE_LIMITS = False.)"""
    login = stagekit.unstash_login(request, peek=True) if request.method == "POST" else None
    if login is None or login.user is None:
        return mfa_views.authenticate(request)  # allauth sends them back to sign in
    return _attempt_locked(
        login.user.get_username(), request, mfa_views.authenticate, "second factor"
    )


def _locked_when_signed_in(
    view: Callable[..., HttpResponseBase], label: str
) -> Callable[..., HttpResponseBase]:
    """``view`` (a form that checks the signed-in person's password or second factor)
    under the same lock as a sign-in: whoever holds a session cannot guess them without
    limit. Five wrong answers, here and at sign-in together, lock (person, address) for
    LOGIN_LOCKOUT_SECONDS."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if request.method != "POST" or not request.user.is_authenticated:
            return view(request, *args, **kwargs)
        return _attempt_locked(
            request.user.get_username(), request, lambda r: view(r, *args, **kwargs), label
        )

    return wrapped


# allauth asks for the password or a second factor again before a factor is added or
# removed; Django's password change asks for the old password.
reauthenticate = _locked_when_signed_in(allauth_views.reauthenticate, "reauthentication")
mfa_reauthenticate = _locked_when_signed_in(mfa_views.reauthenticate, "reauthentication")
mfa_reauthenticate_webauthn = _locked_when_signed_in(
    webauthn_views.reauthenticate_webauthn, "reauthentication"
)


_locked_password_change = _locked_when_signed_in(_password_change, "password change")
