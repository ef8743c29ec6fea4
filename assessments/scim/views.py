"""The SCIM endpoint: every request under ``/scim/v2/`` through one view.

The identity provider authenticates with ``Authorization: Bearer aia_…``, an API token
with the ``scim`` scope of a service account whose role is administrator (it creates
and disables accounts and gives roles). Anything else is a SCIM 401 or 403, audited
like a refused API token. The service provider configuration is public, as RFC 7643
§5 says.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from scim2_models import (
    AuthenticationScheme,
    ForbiddenException,
    SCIMException,
    ScimProvider,
    ServiceProviderConfig,
    UnauthorizedException,
)
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.routing import Operation
from scim2_server.service import ScimService
from scim2_server.utils import load_default_resource_types, load_default_schemas

from assessments import actions
from assessments.access.roles import has_role
from assessments.models import ApiToken, ServiceAccount
from assessments.scim.storage import DatabaseStorage

BASE_PATH = "/scim/v2"
MAX_RESULTS = 200


@cache
def service() -> ScimService:
    config = ServiceProviderConfig.model_validate(
        {
            "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": False},
            "sort": {"supported": True},
            "etag": {"supported": True},
        }
    )
    config.authentication_schemes = [
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="API token",
            description="An API token with the scim scope, of an administrator's "
            "service account: Authorization: Bearer aia_…",
            primary=True,
        )
    ]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )
    return ScimService(provider)


def _authenticate(request: HttpRequest, scim: ScimRequest) -> Any:
    scheme, _, secret = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.startswith(ApiToken.MARK) or len(secret) > 200:
        raise UnauthorizedException(detail="Send an API token with the scim scope.")
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash_token(secret))
        .first()
    )
    if token is None or not token.user.is_active:
        raise UnauthorizedException(detail="This token is not known.")
    if not token.is_usable():
        actions.record_refused_token(token, request=request)
        raise UnauthorizedException(detail="This token is revoked or expired.")
    if ApiToken.Scope.SCIM not in token.scopes:
        raise ForbiddenException(detail="This token does not have the scim scope.")
    if not (
        ServiceAccount.objects.filter(user=token.user).exists()
        and has_role(token.user, "administrator")
    ):
        raise ForbiddenException(
            detail="Provisioning needs a service account whose role is administrator."
        )
    actions.touch_api_token(token)
    request.user = token.user  # the actor of the account changes' audit events
    return token.user


@csrf_exempt
def endpoint(request: HttpRequest, path: str = "") -> HttpResponse:
    svc = service()
    scim = ScimRequest(
        method=request.method or "GET",
        base_url=request.build_absolute_uri(BASE_PATH),
        path="/" + path.removesuffix(".scim"),
        query=request.GET.dict(),
        headers=dict(request.headers),
        body=request.body,
    )
    try:
        if svc.match(scim).operation is not Operation.service_provider_config:
            scim.subject = _authenticate(request, scim)
        response = ScimHandler(svc, DatabaseStorage(svc.provider)).handle(scim)
    except SCIMException as exc:
        response = svc.error_response(exc)
    body = b"" if response.body is None else json.dumps(response.body).encode()
    out = HttpResponse(body, status=response.status.value)
    for name, value in response.headers.items():
        out[name] = value
    if response.body is None:
        del out["Content-Type"]
    out.setdefault("Cache-Control", "no-store")
    if response.status.value == 401:
        out["WWW-Authenticate"] = 'Bearer realm="SCIM"'
    return out
