from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.encoding import escape_uri_path

from assessments.access import logsafe
from assessments.records import audit

Handler = Callable[[HttpRequest], HttpResponse]

# Touch the session's last-seen stamp at most this often, not on every request.
_TOUCH_EVERY = 60


class SessionTimeoutMiddleware:
    """Ends a signed-in session after SESSION_IDLE_TIMEOUT of inactivity (sliding) or
    SESSION_ABSOLUTE_TIMEOUT after sign-in, whichever comes first."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.setdefault("auth_started", now)
            last_seen = session.get("last_seen", now)
            reason = None
            if now - started >= settings.SESSION_ABSOLUTE_TIMEOUT:
                reason = "absolute"
            elif now - last_seen >= settings.SESSION_IDLE_TIMEOUT:
                reason = "idle"
            if reason:
                user = request.user
                logout(request)
                audit.record(
                    "auth.session_expired",
                    actor=user,
                    obj=user,
                    request=request,
                    changes={"reason": reason},
                )
                messages.info(request, "Your session expired. Please sign in again.")
            elif "last_seen" not in session:
                session["last_seen"] = now
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable[..., Any], *args: Any) -> None:
        # Activity keeps a session alive; a page polling itself in the background is not
        # activity, or an open Reports tab would never time out.
        if not request.user.is_authenticated:
            return
        if getattr(view_func, "polled", False) and request.headers.get("HX-Request") == "true":
            return
        now = int(time.time())
        if now - request.session.get("last_seen", now) >= _TOUCH_EVERY:
            request.session["last_seen"] = now


def polled(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a view whose htmx requests are background polling, not a person's activity:
    they do not extend the session's idle timeout."""
    view.polled = True  # type: ignore[attr-defined]
    return view


class VaryOnHtmxMiddleware:
    """One URL may answer a page or an htmx fragment: caches must tell them apart."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response


class AuditForbiddenMiddleware:
    """Every 403 answered becomes an audit event (who, what, from where)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403:
            user = getattr(request, "user", None)
            audit.record(
                "access.forbidden",
                actor=user,
                actor_label=None if user and user.is_authenticated else "anonymous",
                # Percent-encoded again: a path may hold NUL or control characters
                # (%00), which PostgreSQL refuses in text and which would garble the log.
                object_repr=logsafe.mask(f"{request.method} {escape_uri_path(request.path)}")[:255],
                request=request,
            )
        return response


def accepts_upload(max_bytes: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Marks a view that takes a file upload of up to ``max_bytes`` (plus the form)."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.upload_limit = max_bytes + _FORM_ALLOWANCE  # type: ignore[attr-defined]
        return view

    return mark


_FORM_ALLOWANCE = 64 * 1024  # multipart boundaries, the CSRF token and the other fields
# Routes (by view name, as reverse() names them) that take an upload but whose view
# cannot carry the mark: an API operation is served by the API's view for its path.
_ROUTE_LIMITS: dict[str, int] = {}


def accepts_upload_at(view_name: str, max_bytes: int) -> None:
    """Lets the route ``view_name`` take an upload of up to ``max_bytes`` (plus the form)."""
    _ROUTE_LIMITS[view_name] = max_bytes + _FORM_ALLOWANCE


class RequestSizeLimitMiddleware:
    """Refuses a request body over its view's limit from Content-Length alone, before
    anything (the CSRF check included) reads it: DATA_UPLOAD_MAX_MEMORY_SIZE for every
    view, a larger limit only for views marked with ``accepts_upload``. Placed before
    CsrfViewMiddleware, whose check reads the body."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], *args: Any
    ) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("The request's Content-Length is not a number.", status=400)
        limit = getattr(view_func, "upload_limit", None) or _ROUTE_LIMITS.get(
            getattr(request.resolver_match, "view_name", ""), settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        )
        if length > limit:
            megabytes = max(1, limit // (1024 * 1024))
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "type": "about:blank",
                        "title": "Content Too Large",
                        "status": 413,
                        "detail": f"The request is larger than this endpoint accepts (about "
                        f"{megabytes} MB); nothing was read or stored.",
                    },
                    status=413,
                    content_type="application/problem+json",
                )
            return HttpResponse(
                f"The request is larger than this page accepts (about {megabytes} MB); nothing "
                "was read or stored.",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return None


API_DOCS_PATHS = ("/api/v1/docs", "/api/v1/openapi.json")


def _token_user(request: HttpRequest) -> bool:
    """A usable API token in ``Authorization: Bearer …`` (without touching it)."""
    from assessments.models import ApiToken

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(ApiToken.MARK) or len(token) > 200:
        return False
    return ApiToken.objects.usable().filter(token_hash=ApiToken.hash_token(token.strip())).exists()


class PrivateResponsesMiddleware:
    """Nothing a signed-in person is shown is kept by a browser or a proxy cache
    (``Cache-Control: no-store``: new tokens and feed URLs are shown once), and the API's
    documentation and schema are for people who may use it (``API_DOCS_PUBLIC`` opens
    them to anyone)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        signed_in = bool(getattr(request, "user", None) and request.user.is_authenticated)
        bearer = "Authorization" in request.headers
        if (
            request.path in API_DOCS_PATHS
            and not getattr(settings, "API_DOCS_PUBLIC", False)
            and not signed_in
            and not _token_user(request)
        ):
            if request.path.endswith(".json"):
                from django.http import JsonResponse

                return JsonResponse(
                    {
                        "title": "Unauthorized",
                        "status": 401,
                        "detail": "Sign in, or send an API token, to read the API schema.",
                    },
                    status=401,
                    content_type="application/problem+json",
                )
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        if signed_in or bearer or getattr(request, "user", None) and request.user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response
