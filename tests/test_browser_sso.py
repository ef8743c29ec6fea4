"""Single sign-on in a real browser against a real OpenID provider on this machine.

The provider is django-allauth's IdP app (tests/oidc_provider), run by ``runserver`` in
a subprocess with its own database; the relying party is this live server. Chromium
signs in through the authorisation-code flow with PKCE: a mapped group lands on the
dashboard with its role; an unmapped person waits; a changed group changes the role at
the next sign-in; a tampered state and an injected callback are refused; a disabled
account is refused. Then a passkey, enrolled and used with Chromium's virtual
authenticator, under the strict CSP.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from unittest import mock

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections
from django.test import override_settings

from assessments.access.roles import role_of
from assessments.models import AuditEvent
from tests import factories as f
from tests.oidc_provider.server import OpenIDProvider
from tests.test_browser import _launch

pytestmark = pytest.mark.browser
User = get_user_model()
CLIENT_ID, CLIENT_SECRET = "assessor-rp", "rp-secret-for-tests-only-0123456789"  # noqa: S105
IDP_PASSWORD = "idp-password-for-tests-1234"  # noqa: S105


def fresh_totp_code(secret: str) -> str:
    """The authenticator app's code now, never one about to expire (allauth accepts the
    current 30-second window only)."""
    if time.time() % 30 > 26:
        time.sleep(30 - time.time() % 30 + 0.5)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


ROLE_MAP = {"aia-admins": "administrator", "aia-reviewers": "reviewer", "aia-viewers": "viewer"}


class _BrowserCase(StaticLiveServerTestCase):
    def setUp(self):
        from playwright.sync_api import sync_playwright

        self.enterContext(mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}))
        f.ensure_reference_data()
        self._pw = sync_playwright().start()
        self.addCleanup(self._pw.stop)
        self.addCleanup(connections.close_all)
        self.browser, _ = _launch(self._pw)
        self.addCleanup(self.browser.close)
        # Script errors and CSP violations; refused pages are checked where expected.
        self.errors: list[str] = []
        self.refused: list[tuple[int, str]] = []

    def assert_accessible(self, page):
        """No serious or critical axe-core violation on the page (as test_accessibility)."""
        from axe_playwright_python.sync_playwright import Axe

        violations = [
            f"{v['impact']} {v['id']}: {v['nodes'][0]['target']}"
            for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        self.assertEqual(violations, [], page.url)

    def new_page(self):
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console",
            lambda m: (
                self.errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: self.refused.append((r.status, r.url)) if r.status >= 400 else None,
        )
        return page


class SingleSignOnTests(_BrowserCase):
    provider: OpenIDProvider

    @classmethod
    def setUpClass(cls):
        cls.provider = OpenIDProvider()
        cls.provider.start()
        cls.addClassCleanup(cls.provider.stop)
        cls._sso = override_settings(
            OIDC_ROLE_MAP=ROLE_MAP,
            OIDC_TEAM_PREFIX="team:",
            OIDC_PROVIDER_NAME="Corporate SSO",
            # SSO sign-ins answered the provider's own factors: the local gate stands aside.
            MFA_REQUIRED_ROLES=["reviewer", "administrator"],
            SOCIALACCOUNT_PROVIDERS={
                "openid_connect": {
                    "OAUTH_PKCE_ENABLED": True,
                    "APPS": [
                        {
                            "provider_id": "sso",
                            "name": "Corporate SSO",
                            "client_id": CLIENT_ID,
                            "secret": CLIENT_SECRET,
                            "settings": {
                                "server_url": cls.provider.issuer,
                                "oauth_pkce_enabled": True,
                                "scope": ["openid", "profile", "email"],
                            },
                        }
                    ],
                }
            },
        )
        cls._sso.enable()
        cls.addClassCleanup(cls._sso.disable)
        super().setUpClass()
        cls.provider.client(
            CLIENT_ID, CLIENT_SECRET, f"{cls.live_server_url}/accounts/oidc/sso/login/callback/"
        )

    def sso_sign_in(self, page, username, *, at_provider=True):
        """Click "Sign in with …", and sign in at the provider if it asks."""
        authorize = []
        page.on(
            "request",
            lambda r: authorize.append(r.url) if "/identity/o/authorize" in r.url else None,
        )
        page.goto(f"{self.live_server_url}/accounts/login/")
        page.get_by_role("button", name="Sign in with Corporate SSO").click()
        if at_provider:
            page.wait_for_url(f"{self.provider.issuer}/accounts/login/**")
            page.fill("#id_login", username)
            page.fill("#id_password", IDP_PASSWORD)
            page.press("#id_password", "Enter")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize[0]).query)
        self.assertEqual(query["code_challenge_method"], ["S256"])  # PKCE
        self.assertEqual(query["response_type"], ["code"])
        self.assertTrue(query["state"][0])

    def signed_in_as(self, page) -> str | None:
        response = page.goto(f"{self.live_server_url}/")
        if "/accounts/login/" in page.url:
            return None
        self.assertEqual(response.status, 200)
        return page.url

    def test_a_mapped_group_signs_in_with_its_role_and_a_changed_group_changes_it(self):
        f.team("Platform")
        self.provider.person("alice", IDP_PASSWORD, ["aia-reviewers", "team:platform", "staff"])
        page = self.new_page()
        self.sso_sign_in(page, "alice")
        page.wait_for_url(f"{self.live_server_url}/")
        self.assertIn("Dashboard", page.title())
        alice = User.objects.get(username="alice")
        self.assertEqual(role_of(alice), "reviewer")
        self.assertFalse(alice.has_usable_password())
        self.assertEqual([t.name for t in alice.teams.all()], ["Platform"])
        event = AuditEvent.objects.get(verb="auth.login_sso")
        self.assertEqual(event.changes["role"], "reviewer")
        self.assertEqual(event.actor, alice)
        # A reviewer may open the audit log; a viewer may not.
        self.assertEqual(page.goto(f"{self.live_server_url}/audit/").status, 200)

        # The directory moves alice to the viewers: her next sign-in makes her a viewer.
        self.assertIn("Reviewer", page.locator(".role-badge").inner_text())
        page.locator(".dropdown-toggle").first.click()
        self.assertEqual(page.get_by_text("Change password").count(), 0)  # no local password
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/accounts/login/")
        self.provider.person("alice", IDP_PASSWORD, ["aia-viewers"])
        self.sso_sign_in(page, "alice", at_provider=False)  # still signed in there
        page.wait_for_url(f"{self.live_server_url}/")
        alice = User.objects.get(username="alice")
        self.assertEqual(role_of(alice), "viewer")
        self.assertEqual(list(alice.teams.all()), [])
        self.assertEqual(page.goto(f"{self.live_server_url}/audit/").status, 403)
        self.assertEqual(User.objects.filter(username__startswith="alice").count(), 1)
        self.assertEqual(self.errors, [])
        self.assertEqual(self.refused, [(403, f"{self.live_server_url}/audit/")])

    def test_an_unmapped_person_waits_for_access(self):
        self.provider.person("uma", IDP_PASSWORD, ["everyone", "administrators"])
        page = self.new_page()
        self.sso_sign_in(page, "uma")
        page.wait_for_url(f"{self.live_server_url}/accounts/waiting/")
        self.assertIn("Waiting for access", page.inner_text("main"))
        self.assert_accessible(page)
        uma = User.objects.get(username="uma")
        self.assertIsNone(role_of(uma))
        self.assertFalse(uma.is_staff or uma.is_superuser)
        self.assertEqual(page.goto(f"{self.live_server_url}/agents/").status, 403)
        self.assertEqual(self.errors, [])
        self.assertEqual(self.refused, [(403, f"{self.live_server_url}/agents/")])

    def test_a_tampered_state_or_an_injected_callback_is_refused(self):
        self.provider.person("mallory", IDP_PASSWORD, ["aia-admins"])
        page = self.new_page()
        # Signed in at the provider already, so its answer is a redirect to our callback.
        page.goto(f"{self.provider.issuer}/accounts/login/")
        page.fill("#id_login", "mallory")
        page.fill("#id_password", IDP_PASSWORD)
        page.press("#id_password", "Enter")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        # Hold the flow before the callback: start it, follow the provider's redirects
        # by hand (cookies are the browser's), and keep the callback address.
        held = {}

        def hold(route):
            start = route.fetch(max_redirects=0)
            authorize = urllib.parse.urljoin(route.request.url, start.headers["location"])
            answer = page.context.request.get(authorize, max_redirects=0)
            held["callback"] = urllib.parse.urljoin(authorize, answer.headers["location"])
            route.fulfill(status=200, content_type="text/plain", body="held")

        page.route("**/accounts/oidc/sso/login/", hold)
        page.goto(f"{self.live_server_url}/accounts/login/")
        page.get_by_role("button", name="Sign in with Corporate SSO").click()
        page.get_by_text("held").wait_for()
        page.unroute("**/accounts/oidc/sso/login/")
        genuine = held["callback"]
        self.assertTrue(
            genuine.startswith(f"{self.live_server_url}/accounts/oidc/sso/login/callback/")
        )
        parts = urllib.parse.urlsplit(genuine)
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.assertTrue(query["code"] and query["state"])
        tampered = parts._replace(
            query=urllib.parse.urlencode({**query, "state": query["state"][::-1] + "x"})
        ).geturl()
        page.goto(tampered)
        self.assertIn("/accounts/oidc/sso/login/callback/", page.url)
        self.assertIn("error", page.inner_text("main").lower())
        self.assertIsNone(self.signed_in_as(page))
        # The genuine callback, replayed in another browser (a code injected into
        # someone else's session), is refused too: the state belongs to the first one.
        other = self.new_page()
        other.goto(genuine)
        self.assertIn("error", other.inner_text("main").lower())
        self.assertIsNone(self.signed_in_as(other))
        self.assertFalse(User.objects.filter(username="mallory").exists())
        self.assertFalse(AuditEvent.objects.filter(verb="auth.login_sso").exists())
        self.assertEqual(self.errors, [])

    def test_a_disabled_account_is_refused(self):
        self.provider.person("dora", IDP_PASSWORD, ["aia-viewers"])
        page = self.new_page()
        self.sso_sign_in(page, "dora")
        page.wait_for_url(f"{self.live_server_url}/")
        dora = User.objects.get(username="dora")
        dora.is_active = False
        dora.save()  # an administrator disables the account
        self.assertIsNone(self.signed_in_as(page))  # the session ends at once
        self.sso_sign_in(page, "dora", at_provider=False)
        page.wait_for_url(f"{self.live_server_url}/accounts/inactive/")
        self.assertIn("inactive", page.inner_text("main").lower())
        self.assertIsNone(self.signed_in_as(page))
        self.assertEqual(AuditEvent.objects.filter(verb="auth.login_sso").count(), 1)


@override_settings(
    MFA_REQUIRED_ROLES=["reviewer", "administrator"],
    # WebAuthn on the plain-HTTP live server (Chromium treats localhost as secure).
    MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN=True,
)
class SecondFactorTests(_BrowserCase):
    """A reviewer made to enrol a second factor, then signing in with it; allauth's
    pages run under the strict CSP (any violation is a console error)."""

    def setUp(self):
        super().setUp()
        self.person = f.reviewer("rex")

    def password_sign_in(self, page):
        page.goto(f"{self.live_server_url}/accounts/login/")
        page.fill("#id_login", "rex")
        page.fill("#id_password", f.PASSWORD)
        page.press("#id_password", "Enter")

    def reauthenticate_if_asked(self, page):
        if "/accounts/reauthenticate/" in page.url:
            page.fill("#id_password", f.PASSWORD)
            page.press("#id_password", "Enter")

    def sign_out(self, page):
        page.goto(f"{self.live_server_url}/")
        page.locator(".dropdown-toggle").first.click()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/accounts/login/")

    def test_totp_enrolment_and_sign_in(self):
        page = self.new_page()
        self.password_sign_in(page)
        page.wait_for_url("**/accounts/2fa/?required=1")
        self.assertIn("Your role requires a second factor", page.inner_text("main"))
        self.assert_accessible(page)
        page.goto(f"{self.live_server_url}/accounts/2fa/totp/activate/")
        self.reauthenticate_if_asked(page)
        page.wait_for_url("**/accounts/2fa/totp/activate/")
        self.assert_accessible(page)
        secret = page.locator("#authenticator_secret").input_value()
        page.fill("#id_code", fresh_totp_code(secret))
        page.press("#id_code", "Enter")
        page.wait_for_url(lambda url: "/totp/activate/" not in url)
        self.assertTrue(Authenticator.objects.filter(user=self.person, type="totp").exists())
        self.assertEqual(page.goto(f"{self.live_server_url}/").status, 200)
        self.assertEqual(page.url, f"{self.live_server_url}/")

        self.sign_out(page)
        self.password_sign_in(page)
        page.wait_for_url("**/accounts/2fa/authenticate/")
        self.assert_accessible(page)
        page.fill("#id_code", fresh_totp_code(secret))
        page.get_by_role("button", name="Sign In").first.click()
        page.wait_for_url(f"{self.live_server_url}/")
        self.assertEqual(self.errors, [])

    def test_passkey_enrolment_and_sign_in_with_the_virtual_authenticator(self):
        page = self.new_page()
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        self.password_sign_in(page)
        page.wait_for_url("**/accounts/2fa/?required=1")
        page.goto(f"{self.live_server_url}/accounts/2fa/webauthn/add/")
        self.reauthenticate_if_asked(page)
        page.wait_for_url("**/accounts/2fa/webauthn/add/")
        self.assert_accessible(page)
        page.fill("#id_name", "Laptop passkey")
        page.locator("#mfa_webauthn_add").click()
        page.wait_for_url(lambda url: "/webauthn/add/" not in url)
        key = Authenticator.objects.get(user=self.person, type="webauthn")
        self.assertEqual(key.wrap().name, "Laptop passkey")
        events = AuditEvent.objects.filter(verb="account.mfa_added", object_id=str(self.person.pk))
        self.assertIn("webauthn", [e.changes["type"] for e in events])
        self.assertEqual(page.goto(f"{self.live_server_url}/").status, 200)
        self.assertEqual(page.url, f"{self.live_server_url}/")

        self.sign_out(page)
        self.password_sign_in(page)
        page.wait_for_url("**/accounts/2fa/authenticate/")
        page.locator("#mfa_webauthn_authenticate").click()
        page.wait_for_url(f"{self.live_server_url}/")
        self.assertIn("Reviewer", page.locator(".role-badge").inner_text())
        credentials = cdp.send(
            "WebAuthn.getCredentials", {"authenticatorId": authenticator["authenticatorId"]}
        )
        self.assertEqual(len(credentials["credentials"]), 1)
        self.assertGreaterEqual(credentials["credentials"][0]["signCount"], 1)
        self.assertEqual(self.errors, [])
