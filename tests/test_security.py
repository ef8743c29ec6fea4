"""The security baseline: CSP, sessions, passwords, brute-force lockout, deploy check."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import time_machine
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import TestCase
from django.urls import reverse

from assessments.models import AuditEvent
from tests import factories as f

ROOT = Path(__file__).resolve().parent.parent
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


class ContentSecurityPolicyTests(TestCase):
    def test_policy_is_strict(self):
        self.client.force_login(f.viewer())
        policy = self.client.get(reverse("assessments:dashboard"))["Content-Security-Policy"]
        directives = dict(
            (part.split(" ", 1) + [""])[:2] for part in (p.strip() for p in policy.split(";"))
        )
        self.assertEqual(directives["default-src"], "'self'")
        self.assertRegex(directives["script-src"], r"^'self' 'nonce-[\w\-+/=]+'$")
        self.assertEqual(directives["object-src"], "'none'")
        self.assertEqual(directives["base-uri"], "'none'")
        self.assertEqual(directives["frame-ancestors"], "'none'")
        self.assertEqual(directives["form-action"], "'self'")
        self.assertNotIn("unsafe-inline", policy)
        self.assertNotIn("unsafe-eval", policy)

    def test_every_script_tag_on_a_page_carries_the_requests_nonce(self):
        self.client.force_login(f.viewer())
        response = self.client.get(reverse("assessments:agent_list"))
        nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
        tags = re.findall(r"<script\b[^>]*>", response.content.decode())
        self.assertTrue(tags)
        for tag in tags:
            self.assertIn(f'nonce="{nonce}"', tag)

    def test_htmx_is_configured_without_eval_or_injected_styles(self):
        self.client.force_login(f.viewer())
        html = self.client.get(reverse("assessments:dashboard")).content.decode()
        config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', html).group(1)
        self.assertIn('"allowEval": false', config)
        self.assertIn('"includeIndicatorStyles": false', config)

    def test_no_template_has_inline_handlers_styles_or_unnonced_scripts(self):
        offenders = []
        templates = [*ROOT.joinpath("templates").rglob("*.html")]
        templates += [*ROOT.joinpath("assessments").rglob("templates/**/*.html")]
        for path in templates:
            text = path.read_text()
            for pattern, what in [
                (r"\son[a-z]+\s*=", "inline event handler"),
                (r"\shx-on[:\-]", "hx-on handler"),
                (r"\sstyle\s*=", "inline style attribute"),
                (r"<style\b", "inline <style> block"),
                (r"javascript:", "javascript: URL"),
            ]:
                if re.search(pattern, text, flags=re.IGNORECASE):
                    offenders.append(f"{path.relative_to(ROOT)}: {what}")
            for tag in re.findall(r"<script\b[^>]*>", text):
                if 'nonce="{{ csp_nonce }}"' not in tag:
                    offenders.append(f"{path.relative_to(ROOT)}: script without the nonce")
        self.assertEqual(offenders, [])

    def test_clickjacking_and_sniffing_headers(self):
        response = self.client.get(reverse("login"))
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response["Referrer-Policy"], "same-origin")
        self.assertEqual(response["Cross-Origin-Opener-Policy"], "same-origin")


class SignInTests(TestCase):
    def setUp(self):
        self.user = f.assessor("ada")

    def sign_in(self, password=f.PASSWORD, username="ada", ip="10.0.0.1"):
        return self.client.post(
            reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
        )

    def test_sign_in_starts_a_new_session_and_is_audited(self):
        self.client.get(reverse("login"))
        self.client.session.save()
        before = self.client.session.session_key
        response = self.sign_in()
        self.assertRedirects(response, reverse("assessments:dashboard"))
        self.assertNotEqual(self.client.session.session_key, before)
        event = AuditEvent.objects.get(verb="auth.login")
        self.assertEqual((event.actor, event.ip_address), (self.user, "10.0.0.1"))

    def test_failed_sign_in_is_audited_without_the_password(self):
        self.sign_in(password="wrong-password-123")
        event = AuditEvent.objects.get(verb="auth.login_failed")
        self.assertEqual(event.actor_label, "ada")
        self.assertEqual(event.ip_address, "10.0.0.1")
        self.assertNotIn("wrong-password-123", event.canonical())

    def test_sign_out_ends_the_session_on_the_server(self):
        self.sign_in()
        key = self.client.session.session_key
        response = self.client.post(reverse("logout"))
        self.assertRedirects(response, reverse("login"))
        self.assertFalse(Session.objects.filter(session_key=key).exists())
        self.assertTrue(AuditEvent.objects.filter(verb="auth.logout", actor=self.user).exists())

    def test_sign_out_by_get_is_refused(self):
        self.sign_in()
        self.assertEqual(self.client.get(reverse("logout")).status_code, 405)

    def test_five_failures_lock_the_username_and_address_for_fifteen_minutes(self):
        with time_machine.travel(START, tick=False) as traveller:
            for _ in range(4):
                self.assertEqual(self.sign_in(password="nope-nope-nope").status_code, 200)
            fifth = self.sign_in(password="nope-nope-nope")
            self.assertEqual(fifth.status_code, 429)
            self.assertContains(fifth, "too many failed sign-ins", status_code=429)
            # Even the right password is refused while locked, and says so.
            locked = self.sign_in()
            self.assertEqual(locked.status_code, 429)
            self.assertIn("Retry-After", locked.headers)
            self.assertFalse(AuditEvent.objects.filter(verb="auth.login").exists())
            # Another address, or another username, is not locked.
            self.assertEqual(self.sign_in(ip="10.0.0.2").status_code, 302)
            traveller.shift(dt.timedelta(minutes=14))
            self.assertEqual(self.sign_in().status_code, 429)
            traveller.shift(dt.timedelta(minutes=1, seconds=1))
            self.assertEqual(self.sign_in().status_code, 302)
        lockouts = AuditEvent.objects.filter(verb="auth.locked_out")
        self.assertEqual(lockouts.count(), 1)
        self.assertEqual(lockouts.get().ip_address, "10.0.0.1")
        failed = AuditEvent.objects.filter(verb="auth.login_failed")
        self.assertEqual(sum(e.changes["failures"] for e in failed), 5)

    def test_failures_older_than_the_window_do_not_count(self):
        with time_machine.travel(START, tick=False) as traveller:
            for _ in range(4):
                self.sign_in(password="nope-nope-nope")
            traveller.shift(dt.timedelta(minutes=16))
            self.assertEqual(self.sign_in(password="nope-nope-nope").status_code, 200)
            self.assertEqual(self.sign_in().status_code, 302)

    def test_a_successful_sign_in_resets_the_count(self):
        with time_machine.travel(START, tick=False):
            for _ in range(4):
                self.sign_in(password="nope-nope-nope")
            self.assertEqual(self.sign_in().status_code, 302)
            self.client.post(reverse("logout"))
            self.assertEqual(self.sign_in(password="nope-nope-nope").status_code, 200)


class SessionLifetimeTests(TestCase):
    def setUp(self):
        self.user = f.viewer("vic")

    def sign_in(self):
        return self.client.post(reverse("login"), {"username": "vic", "password": f.PASSWORD})

    def test_thirty_idle_minutes_end_the_session(self):
        with time_machine.travel(START, tick=False) as traveller:
            self.sign_in()
            key = self.client.session.session_key
            traveller.shift(dt.timedelta(minutes=29))
            self.assertEqual(self.client.get(reverse("assessments:dashboard")).status_code, 200)
            traveller.shift(dt.timedelta(minutes=29))  # sliding: still alive
            self.assertEqual(self.client.get(reverse("assessments:dashboard")).status_code, 200)
            traveller.shift(dt.timedelta(minutes=30, seconds=1))
            response = self.client.get(reverse("assessments:dashboard"))
            self.assertEqual(response.status_code, 302)
            self.assertTrue(response["Location"].startswith(reverse("login")))
            self.assertFalse(Session.objects.filter(session_key=key).exists())
            event = AuditEvent.objects.get(verb="auth.session_expired")
            self.assertEqual(event.changes, {"reason": "idle"})

    def test_background_polling_does_not_keep_an_idle_session_alive(self):
        from assessments.models import BoardPackJob

        job = BoardPackJob.objects.create(requested_by=self.user)
        url = reverse("assessments:board_pack_status", args=[job.pk])
        with time_machine.travel(START, tick=False) as traveller:
            self.sign_in()
            for _ in range(5):  # the Reports page polls while a board pack is made
                traveller.shift(dt.timedelta(minutes=5))
                self.assertEqual(
                    self.client.get(url, headers={"HX-Request": "true"}).status_code, 200
                )
            traveller.shift(dt.timedelta(minutes=5, seconds=1))  # 30 minutes since a click
            response = self.client.get(url, headers={"HX-Request": "true"})
            self.assertEqual(response.status_code, 302)
            self.assertEqual(
                AuditEvent.objects.get(verb="auth.session_expired").changes, {"reason": "idle"}
            )

    def test_opening_the_same_page_is_activity(self):
        from assessments.models import BoardPackJob

        job = BoardPackJob.objects.create(requested_by=self.user)
        url = reverse("assessments:board_pack_status", args=[job.pk])
        with time_machine.travel(START, tick=False) as traveller:
            self.sign_in()
            for _ in range(8):
                traveller.shift(dt.timedelta(minutes=5))
                self.assertEqual(self.client.get(url).status_code, 200)

    def test_a_session_ends_twelve_hours_after_sign_in_however_active(self):
        with time_machine.travel(START, tick=False) as traveller:
            self.sign_in()
            for _ in range(12 * 60 // 25 + 2):
                traveller.shift(dt.timedelta(minutes=25))
                status = self.client.get(reverse("assessments:dashboard")).status_code
                if status != 200:
                    break
            self.assertEqual(status, 302)
            event = AuditEvent.objects.get(verb="auth.session_expired")
            self.assertEqual(event.changes, {"reason": "absolute"})
            elapsed = event.created_at - START
            self.assertGreaterEqual(elapsed, dt.timedelta(hours=12))
            self.assertLess(elapsed, dt.timedelta(hours=12, minutes=25))

    def test_disabling_an_account_ends_its_sessions(self):
        self.sign_in()
        key = self.client.session.session_key
        self.user.is_active = False
        self.user.save()
        self.assertFalse(Session.objects.filter(session_key=key).exists())
        response = self.client.get(reverse("assessments:dashboard"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(AuditEvent.objects.filter(verb="auth.sessions_ended").exists())

    def test_session_settings(self):
        self.assertEqual(settings.SESSION_IDLE_TIMEOUT, 30 * 60)
        self.assertEqual(settings.SESSION_ABSOLUTE_TIMEOUT, 12 * 60 * 60)
        self.assertTrue(settings.SESSION_COOKIE_HTTPONLY)
        self.assertEqual(settings.SESSION_COOKIE_SAMESITE, "Lax")


class CsrfCookieTests(TestCase):
    def test_the_csrf_cookie_is_http_only(self):
        response = self.client.get(reverse("login"))
        self.assertTrue(response.cookies["csrftoken"]["httponly"])

    def test_htmx_sends_the_token_from_the_page_not_the_cookie(self):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(f.viewer("csrf-viewer"))
        page = client.get(reverse("assessments:calendar_feeds")).content.decode()
        token = re.search(r'<body hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'>', page).group(1)
        # What htmx sends: the header from the page, plus the cookie the browser holds.
        response = client.post(
            reverse("assessments:calendar_feeds"),
            {"scope": "mine"},
            headers={"X-CSRFToken": token, "HX-Request": "true"},
        )
        self.assertEqual(response.status_code, 302)
        no_token = client.post(reverse("assessments:calendar_feeds"), {"scope": "mine"})
        self.assertEqual(no_token.status_code, 403)
        scripts = " ".join(p.read_text() for p in ROOT.joinpath("static/js").glob("*.js"))
        self.assertNotIn("document.cookie", scripts)


class PasswordPolicyTests(TestCase):
    def test_passwords_need_twelve_characters(self):
        with self.assertRaises(ValidationError):
            validate_password("Xk7#mQ2!pLw")  # 11 characters
        validate_password("Xk7#mQ2!pLw9")

    def test_long_passphrases_are_allowed(self):
        validate_password("correct horse battery staple " * 3)  # 87 characters

    def test_common_and_similar_passwords_are_refused(self):
        with self.assertRaises(ValidationError):
            validate_password("password1234")
        person = f.viewer("margaretha")
        with self.assertRaises(ValidationError):
            validate_password("margaretha12", user=person)


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    drop = {"DEBUG", "SECRET_KEY", "AUDIT_KEY", "AUDIT_KEYS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in drop}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


class ProductionSettingsTests(TestCase):
    def test_production_settings_pass_the_deploy_check(self):
        result = _manage(
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            env={
                "DEBUG": "0",
                "SECRET_KEY": "x" * 20 + "-Production-Key-0123456789-abcdefghij",
                "AUDIT_KEY": "y" * 20 + "-Production-Audit-Key-0123456789",
                "ALLOWED_HOSTS": "assessor.example.com",
            },
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_refuses_to_start_without_an_audit_key_when_debug_is_off(self):
        secret = "x" * 20 + "-Production-Key-0123456789-abcdefghij"
        result = _manage("check", env={"DEBUG": "0", "SECRET_KEY": secret})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("AUDIT_KEY is not set", result.stderr)
        result = _manage("check", env={"DEBUG": "0", "SECRET_KEY": secret, "AUDIT_KEY": secret})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("AUDIT_KEY must be a different secret from SECRET_KEY", result.stderr)

    def test_refuses_to_start_without_a_secret_key_when_debug_is_off(self):
        result = _manage("check", env={"DEBUG": "0"})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SECRET_KEY is not set", result.stderr)

    def test_a_malformed_boolean_setting_is_a_clear_error(self):
        result = _manage("check", env={"DEBUG": "maybe"})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DEBUG must be one of", result.stderr)
