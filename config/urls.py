from allauth.account import views as allauth_views  # noqa: E402
from allauth.socialaccount import views as social_views  # noqa: E402
from allauth.socialaccount.providers.openid_connect import views as oidc_views
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from assessments.access import sso
from assessments.api import api
from assessments.scim import views as scim_views
from assessments.views import accounts, errors

logout_view = auth_views.LogoutView.as_view()

urlpatterns = [
    path("accounts/login/", accounts.login, name="login"),
    path("accounts/logout/", logout_view, name="logout"),
    path("accounts/waiting/", accounts.waiting_for_access, name="waiting_for_access"),
    # allauth's flows name these pages; they are the product's own.
    path("accounts/login/", accounts.login, name="account_login"),
    path("accounts/logout/", logout_view, name="account_logout"),
    path("accounts/inactive/", allauth_views.account_inactive, name="account_inactive"),
    path("accounts/reauthenticate/", accounts.reauthenticate, name="account_reauthenticate"),
    # Second factors (TOTP, recovery codes, passkeys) and OpenID Connect single sign-on.
    path("accounts/2fa/authenticate/", accounts.mfa_authenticate, name="mfa_authenticate"),
    # Asking again for a second factor is locked like a sign-in (views/accounts.py).
    path("accounts/2fa/reauthenticate/", accounts.mfa_reauthenticate, name="mfa_reauthenticate"),
    path(
        "accounts/2fa/webauthn/reauthenticate/",
        accounts.mfa_reauthenticate_webauthn,
        name="mfa_reauthenticate_webauthn",
    ),
    path("accounts/2fa/", include("allauth.mfa.urls")),
    # Single sign-on steps; not the "connections" page: an account has one identity.
    path(
        "accounts/3rdparty/login/cancelled/",
        social_views.login_cancelled,
        name="socialaccount_login_cancelled",
    ),
    path(
        "accounts/3rdparty/login/error/",
        social_views.login_error,
        name="socialaccount_login_error",
    ),
    path("accounts/3rdparty/signup/", social_views.signup, name="socialaccount_signup"),
    path(
        "accounts/oidc/<str:provider_id>/login/",
        sso.allow_provider_form_action(oidc_views.login),
        name="openid_connect_login",
    ),
    path(
        "accounts/oidc/<str:provider_id>/login/callback/",
        oidc_views.callback,
        name="openid_connect_callback",
    ),
    path("accounts/password/", accounts.password_change, name="password_change"),
    path("accounts/password/", accounts.password_change, name="account_change_password"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    # SCIM 2.0 provisioning by the identity provider (assessments/scim/).
    re_path(r"^scim/v2/?(?P<path>.*)$", scim_views.endpoint, name="scim"),
    path("favicon.ico", errors.favicon, name="favicon"),
    path("", include("assessments.urls")),
]

handler403 = "assessments.views.errors.forbidden"
handler404 = "assessments.views.errors.not_found"
handler500 = "assessments.views.errors.server_error"
