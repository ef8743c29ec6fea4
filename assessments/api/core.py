"""The API object, its two ways in (bearer tokens and the browser's session), scopes,
and RFC 9457 problem responses for every error."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import DocsBase
from ninja.parser import Parser
from ninja.security import HttpBearer
from ninja.security.base import AuthBase
from ninja.utils import check_csrf

from assessments import actions
from assessments.interchange.manifest import ManifestError, ManifestErrors
from assessments.models import ApiToken

logger = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
ALL_SCOPES = frozenset(ApiToken.Scope.values)


# --------------------------------------------------------------------------- problems


class Problem(Schema):
    """An error, as RFC 9457 describes it (``type`` is always ``about:blank`` here; the
    ``title`` is the status's phrase and ``detail`` says what went wrong)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
    conflicts: dict[str, dict[str, Any]] | None = None


ERRORS: dict[int, type[Problem]] = dict.fromkeys((400, 401, 403, 404, 409, 422), Problem)


class ApiError(Exception):
    """Raised by an endpoint to answer with a problem document."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def problem(request: HttpRequest, status: int, detail: str, **extra: Any) -> HttpResponse:
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.path,
        **{k: v for k, v in extra.items() if v is not None},
    )
    response = HttpResponse(
        body.model_dump_json(exclude_none=True), status=status, content_type=PROBLEM
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


# --------------------------------------------------------------------------- auth


class TokenAuth(HttpBearer):
    """``Authorization: Bearer aia_…``. A revoked or expired token is refused and the
    attempt is audited."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if not token.startswith(ApiToken.MARK) or len(token) > 200:
            return None
        found = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=ApiToken.hash_token(token))
            .first()
        )
        if found is None:
            return None
        if not found.is_usable():
            actions.record_refused_token(found, request=request)
            return None
        if not found.user.is_active:
            return None
        actions.touch_api_token(found)
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user


class SessionAuth(AuthBase):
    """The browser's session (for the docs page and scripts in the page). Unsafe
    methods need the CSRF token, as every form of the site does."""

    openapi_type = "apiKey"
    openapi_in = "cookie"
    openapi_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if "Authorization" in request.headers:
            # A request that names a token is judged by that token alone: a revoked
            # token is not rescued by a session cookie sent along with it.
            return None
        if check_csrf(request) is not None:
            raise ApiError(403, "The CSRF token is missing or wrong. Send the X-CSRFToken header.")
        return user


def scopes_of(request: HttpRequest) -> frozenset[str]:
    """A token's scopes; a signed-in browser session holds every scope (its role limits it)."""
    token = getattr(request, "api_token", None)
    return frozenset(token.scopes) if token is not None else ALL_SCOPES


def require(request: HttpRequest, scope: str, perm: str) -> Any:
    """The caller, when its token has ``scope`` and its role grants ``perm``; else 403."""
    if scope not in scopes_of(request):
        raise ApiError(403, f"This token does not have the {scope} scope.")
    user = request.user
    if not user.has_perm(perm):
        raise ApiError(403, "Your role does not allow this.")
    return user


# --------------------------------------------------------------------------- docs


class VendoredSwagger(DocsBase):
    """Swagger UI from this site's static files (no CDN) under the site's strict CSP."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        return render(
            request,
            "api/docs.html",
            {"openapi_url": self.get_openapi_url(api, kwargs), "api": api},
        )


# --------------------------------------------------------------------------- the API


def _refuse_bad_text(value: Any, where: str) -> None:
    """No text the API stores or searches may hold NUL: PostgreSQL refuses it in text, and
    no name, slug or answer needs it."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiError(
                422,
                f"Text in the {where} may not contain NUL characters.",
                errors=[{"location": where, "message": "Contains a NUL character."}],
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: JSON allows it, no database stores it
            raise ApiError(
                422,
                f"Text in the {where} is not valid Unicode (a lone surrogate).",
                errors=[{"location": where, "message": "Contains a lone surrogate."}],
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_bad_text(key, where)
            _refuse_bad_text(item, where)
    elif isinstance(value, list):
        for item in value:
            _refuse_bad_text(item, where)


class RefusingBadTextParser(Parser):
    """The default JSON and query parsing, refusing NUL and lone surrogates anywhere with
    a 422 problem."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = super().parse_body(request)
        _refuse_bad_text(data, "body")
        return data

    def parse_querydict(self, data: Any, list_fields: list[str], request: HttpRequest) -> Any:
        result = super().parse_querydict(data, list_fields, request)
        _refuse_bad_text(result, "query")
        return result


class AssessorAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Errors are documented as ``application/problem+json``, as they are sent."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content") or {}
                    if int(status) >= 400 and "application/json" in content:
                        response["content"] = {PROBLEM: content["application/json"]}
        return schema


api = AssessorAPI(
    title="Agent Identity Assessor API",
    version="1",
    description=(
        "The inventory, assessments, reviews, reports, audit log and catalogue of Agent "
        "Identity Assessor. Authenticate with `Authorization: Bearer <token>` (create a token "
        "under your account menu); a token's scopes (read, write, review) narrow what its "
        "account's role allows. Errors are RFC 9457 problem documents."
    ),
    urls_namespace="api",
    parser=RefusingBadTextParser(),
    auth=[TokenAuth(), SessionAuth()],
    docs=VendoredSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return problem(request, exc.status, exc.detail, **exc.extra)


@api.exception_handler(actions.ConflictError)
def _conflict(request: HttpRequest, exc: actions.ConflictError) -> HttpResponse:
    conflicts = {
        name: {"current": current, "yours": yours}
        for name, (current, yours) in (exc.fields or {}).items()
    }
    return problem(request, 409, str(exc), conflicts=conflicts or None)


@api.exception_handler(actions.ActionError)
def _action_error(request: HttpRequest, exc: actions.ActionError) -> HttpResponse:
    return problem(request, 422, str(exc))


@api.exception_handler(ManifestErrors)
def _manifest_errors(request: HttpRequest, exc: ManifestErrors) -> HttpResponse:
    errors = [{"key": e.key, "message": str(e)} for e in exc.errors]
    return problem(request, 422, "The manifest is invalid; nothing was changed.", errors=errors)


@api.exception_handler(ManifestError)
def _manifest_error(request: HttpRequest, exc: ManifestError) -> HttpResponse:
    return problem(
        request,
        422,
        "The manifest is invalid; nothing was changed.",
        errors=[{"key": exc.key, "message": str(exc), "allowed": list(exc.allowed or ())}],
    )


@api.exception_handler(NinjaValidationError)
def _validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {
            "location": ".".join(str(p) for p in e.get("loc", ())),
            "message": str(e.get("msg", "")),
        }
        for e in exc.errors
    ]
    return problem(request, 422, "The request is invalid; nothing was changed.", errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        request, 401, "Send a valid API token (Authorization: Bearer …) or sign in first."
    )


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(request, 403, str(exc) or "Your role does not allow this.")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, 404, "There is nothing here: check the slug, number or id.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja turns any error while parsing the body into "cannot parse": when the parser
    # refused it on purpose (RefusingBadTextParser), say why.
    if isinstance(exc.__cause__, ApiError):
        return _api_error(request, exc.__cause__)
    return problem(request, exc.status_code, str(exc))


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return problem(request, 500, "Something went wrong on the server. The error was logged.")


def absolute(name: str, *args: Any) -> str:
    return reverse(f"api:{name}", args=args)
