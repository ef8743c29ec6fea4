"""Single sign-on and second factors, through django-allauth.

- ``AccountAdapter``: local accounts are made by administrators, never by signing up;
  in SSO-only mode local passwords work for the break-glass accounts alone.
- ``SocialAccountAdapter``: people arriving through OpenID Connect get an account just
  in time, named after their ``preferred_username`` (or e-mail, or subject).
- ``sync_from_claims``: at every SSO sign-in, the role is derived again from the
  directory groups in the token (``OIDC_ROLE_MAP``); a person with no mapped group holds
  no role at all, never a default privilege. Groups named ``OIDC_TEAM_PREFIX`` + a team
  slug make the person a member of that team.
- ``AccessGateMiddleware``: a signed-in person without a role sees the "waiting for
  access" page; a role in ``MFA_REQUIRED_ROLES`` signed in with a local password and
  without a second factor is sent to enrol one before anything else (people signed in
  through SSO answered their identity provider's own factors).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.signals import user_logged_in
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override

from assessments.access import accounts
from assessments.access.roles import ROLE_ORDER, role_of
from assessments.models import Role, Team
from assessments.records import audit, backup

User = get_user_model()


def local_password_allowed(username: str) -> bool:
    """In SSO-only mode, local passwords are for the break-glass accounts alone."""
    if not settings.SSO_ONLY:
        return True
    return username.strip().lower() in settings.SSO_BREAK_GLASS_USERS


def sso_enabled() -> bool:
    return bool(settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS"))


def provider_origins() -> list[str]:
    """The origins a sign-in form may send the browser to: each configured provider's
    issuer, and any in ``OIDC_FORM_ACTION_ORIGINS`` (a provider whose sign-in page is on
    another host than its issuer)."""
    origins = []
    for app in settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", []):
        url = urlsplit(app.get("settings", {}).get("server_url", ""))
        if url.scheme in ("http", "https") and url.netloc:
            origins.append(f"{url.scheme}://{url.netloc}")
    return list(dict.fromkeys([*origins, *settings.OIDC_FORM_ACTION_ORIGINS]))


def allow_provider_form_action(view: Callable[..., HttpResponseBase]) -> Callable[..., Any]:
    """Our CSP lets forms post to this site only, and browsers apply that to the
    redirects a form submission follows: the pages whose form starts a single sign-on
    (the sign-in page, allauth's confirmation page) also allow the provider's origin."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if origins := provider_origins():
            policy: dict[str, Any] = dict(settings.SECURE_CSP)
            policy["form-action"] = [*policy.get("form-action", [CSP.SELF]), *origins]
            response = csp_override(policy)(lambda _request: response)(request)
        return response

    return wrapped


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are encrypted in the database (allauth keeps
    them in the clear unless told), with a key derived from ``SECRET_KEY``; the keys in
    ``SECRET_KEY_FALLBACKS`` still decrypt, so a rotation keeps every factor working."""

    def encrypt(self, text: str) -> str:
        return _fernet().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        return _fernet().decrypt(encrypted_text.encode()).decode()


def _fernet() -> MultiFernet:
    def key(secret: str | bytes) -> bytes:
        raw = secret.encode() if isinstance(secret, str) else secret
        digest = hashlib.sha256(b"assessor.mfa-secrets:" + raw).digest()
        return base64.urlsafe_b64encode(digest)

    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet([Fernet(key(secret)) for secret in secrets])


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False  # administrators create local accounts; SSO creates the others


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True  # just-in-time accounts; their role comes from the directory groups

    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict[str, Any]) -> Any:
        user = super().populate_user(request, sociallogin, data)
        claims = claims_of(sociallogin.account.extra_data)
        wanted = (
            claims.get("preferred_username")
            or (claims.get("email") or "").split("@")[0]
            or sociallogin.account.uid
        )
        user.username = _unique_username(str(wanted))
        user.set_unusable_password()
        return user


def _unique_username(wanted: str) -> str:
    base = re.sub(r"[^\w.@+-]", "", wanted)[:140] or "sso-user"
    name, n = base, 1
    while User.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def claims_of(extra_data: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims, with the userinfo endpoint's on top."""
    return {**(extra_data.get("id_token") or {}), **(extra_data.get("userinfo") or {})}


def groups_in(claims: dict[str, Any]) -> list[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    return [str(g) for g in value if isinstance(g, str | int)]


def role_for(groups: list[str]) -> str | None:
    """The highest role any of the groups maps to, or None."""
    mapped = {settings.OIDC_ROLE_MAP[g] for g in groups if g in settings.OIDC_ROLE_MAP}
    for role in reversed(ROLE_ORDER):
        if role.value in mapped:
            return role.value
    return None


@transaction.atomic
def sync_from_claims(user: Any, claims: dict[str, Any], request: HttpRequest | None) -> None:
    """Make the person's role and teams what the directory says, now."""
    groups = groups_in(claims)
    role, teams = apply_directory_groups(user, groups)
    audit.record(
        "auth.login_sso",
        actor=user,
        obj=user,
        request=request,
        changes={
            "groups": sorted(groups),
            "role": role or "none",
            "teams": sorted(t.name for t in teams),
        },
    )


def apply_directory_groups(user: Any, groups: list[str]) -> tuple[str | None, list[Team]]:
    """Give the person the role and the teams their directory groups map to
    (``OIDC_ROLE_MAP``, ``OIDC_TEAM_PREFIX``), taking away the others; the same rule
    for a sign-in's claims and for SCIM provisioning. Returns the role and teams."""
    role = role_for(groups)
    role_groups = Group.objects.filter(name__in=Role.values)
    current = set(user.groups.filter(pk__in=role_groups).values_list("name", flat=True))
    if current and role is None:
        # Out of every mapped group: for the directory, this person has left.
        from assessments.actions.ownership import person_left

        person_left(user, how="left every mapped directory group", actor=None)
    wanted = {role} if role else set()
    if current != wanted:
        user.groups.remove(*[g for g in role_groups if g.name in current - wanted])
        if role:
            user.groups.add(Group.objects.get(name=role))
        user.__dict__.pop("_role_cache", None)  # roles.role_of's cache is now stale
    prefix = settings.OIDC_TEAM_PREFIX
    teams: list[Team] = []
    if prefix:
        slugs = {g[len(prefix) :] for g in groups if g.startswith(prefix)}
        teams = list(Team.objects.filter(slug__in=slugs))
        if set(user.teams.values_list("pk", flat=True)) != {t.pk for t in teams}:
            user.teams.set(teams)  # Team.members, seen from the person
    return role, teams


@receiver(user_logged_in, dispatch_uid="sso-sync-roles")
def _on_allauth_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is not None:
        sync_from_claims(user, claims_of(sociallogin.account.extra_data), request)
        if request is not None and hasattr(request, "session"):
            # The identity provider asked for its own factors; MFA_REQUIRED_ROLES is
            # about local passwords (an SSO account has none to re-authenticate with).
            request.session[_MFA_CHECKED] = True


@receiver(post_save, sender=Authenticator, dispatch_uid="mfa-added-audit")
def _mfa_added(sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any) -> None:
    """A second factor enrolled, by any path (allauth's pages, the admin, the shell), in
    the same transaction as the enrolment (allauth's own signal waits for the commit)."""
    if created and not raw and not backup.restoring():
        _record_mfa("account.mfa_added", instance)


@receiver(post_delete, sender=Authenticator, dispatch_uid="mfa-removed-audit")
def _mfa_removed(sender: Any, instance: Any, **kw: Any) -> None:
    if backup.restoring():
        return
    request = accounts.current_request()
    if request is not None and getattr(request, "user", None) == instance.user:
        request.session.pop(_MFA_CHECKED, None)  # the gate looks again
    _record_mfa("account.mfa_removed", instance)


def _record_mfa(verb: str, authenticator: Any) -> None:
    request = accounts.current_request()
    actor = getattr(request, "user", None) if request is not None else None
    audit.record(
        verb,
        actor=actor if actor is not None and actor.is_authenticated else None,
        obj=authenticator.user,
        request=request,
        changes={"type": authenticator.type},
    )


# Paths a signed-in person may always reach, whatever their role or second factor.
_OPEN_PREFIXES = ("/accounts/", "/static/", "/favicon.ico")
_MFA_CHECKED = "mfa_gate_passed"


class AccessGateMiddleware:
    """Two gates for signed-in people.

    - No role: the home page is the "waiting for access" page (every other page is
      refused with 403, as before); never a default privilege.
    - A role in ``MFA_REQUIRED_ROLES`` and no second factor enrolled: every page but the
      account pages sends them to enrol one. Checked once per session once passed (a
      new sign-in is a new session; removing a factor clears the mark).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not request.path.startswith(_OPEN_PREFIXES):
            if request.path == "/" and role_of(user) is None and not user.is_superuser:
                return redirect("waiting_for_access")
            if settings.MFA_REQUIRED_ROLES and not request.session.get(_MFA_CHECKED):
                if (
                    role_of(user) in settings.MFA_REQUIRED_ROLES
                    and not Authenticator.objects.filter(user=user).exists()
                ):
                    return redirect(reverse("mfa_index") + "?required=1")
                request.session[_MFA_CHECKED] = True
        return self.get_response(request)
