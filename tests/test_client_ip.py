"""Client addresses behind proxies: read from the environment, validated, right-most trusted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.test import TestCase, override_settings
from django.urls import reverse

from assessments.models import AuditEvent
from tests import factories as f

ROOT = Path(__file__).resolve().parent.parent
XFF = "HTTP_X_FORWARDED_FOR"


def _setting(name: str, env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLIENT_IP", "TRUSTED"))}
    code = f"from django.conf import settings; print(repr(settings.{name}))"
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.test_settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class SettingsFromEnvironmentTests(TestCase):
    def test_header_and_proxy_count_come_from_the_environment(self):
        env = {"CLIENT_IP_HEADER": "X-Forwarded-For", "TRUSTED_PROXY_COUNT": "2"}
        self.assertEqual(_setting("CLIENT_IP_HEADER", env), repr(XFF))
        self.assertEqual(_setting("TRUSTED_PROXY_COUNT", env), "2")

    def test_one_proxy_is_assumed_when_only_the_header_is_set(self):
        env = {"CLIENT_IP_HEADER": XFF}
        self.assertEqual(_setting("CLIENT_IP_HEADER", env), repr(XFF))
        self.assertEqual(_setting("TRUSTED_PROXY_COUNT", env), "1")

    def test_no_header_means_the_peer_address(self):
        self.assertEqual(_setting("CLIENT_IP_HEADER", {}), "''")
        self.assertEqual(_setting("TRUSTED_PROXY_COUNT", {}), "0")


@override_settings(CLIENT_IP_HEADER=XFF, TRUSTED_PROXY_COUNT=1)
class BehindOneProxyTests(TestCase):
    PROXY = "10.9.9.9"

    def setUp(self):
        f.assessor("ada")

    def fail(self, forwarded: str, username: str = "ada"):
        return self.client.post(
            reverse("login"),
            {"username": username, "password": "wrong-password-123"},
            REMOTE_ADDR=self.PROXY,
            **{XFF: forwarded},
        )

    def last_ip(self) -> str | None:
        return AuditEvent.objects.latest("id").ip_address

    def test_the_audit_log_records_the_client_not_the_proxy(self):
        self.fail("203.0.113.7")
        self.assertEqual(self.last_ip(), "203.0.113.7")

    def test_a_value_the_client_made_up_is_ignored(self):
        # The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended what it saw.
        self.fail("1.1.1.1, 203.0.113.7")
        self.assertEqual(self.last_ip(), "203.0.113.7")

    def test_junk_falls_back_to_the_peer_address_without_an_error(self):
        for junk in ["not-an-ip", "1.1.1.1, 999.1.1.1", "\x00", "a" * 500, "1.1.1.1, ", "::g"]:
            with self.subTest(junk=junk[:20]):
                response = self.fail(junk, username=f"u{len(junk)}")
                self.assertLess(response.status_code, 500)
                if junk.rstrip(", ").endswith("1.1.1.1"):
                    continue
                self.assertEqual(self.last_ip(), self.PROXY)

    def test_ports_zones_and_mapped_addresses_are_normalised(self):
        for value, stored in [
            ("203.0.113.7:4711", "203.0.113.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("fe80::1%eth0", "fe80::1"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
        ]:
            with self.subTest(value=value):
                self.fail(value, username=value)
                self.assertEqual(self.last_ip(), stored)

    def test_a_lockout_behind_the_proxy_locks_one_client_not_everyone(self):
        for _ in range(5):
            self.fail("203.0.113.7")
        self.assertEqual(self.fail("203.0.113.7").status_code, 429)
        other = self.client.post(
            reverse("login"),
            {"username": "ada", "password": f.PASSWORD},
            REMOTE_ADDR=self.PROXY,
            **{XFF: "198.51.100.2"},
        )
        self.assertEqual(other.status_code, 302)


@override_settings(CLIENT_IP_HEADER=XFF, TRUSTED_PROXY_COUNT=2)
class BehindTwoProxiesTests(TestCase):
    def test_the_client_is_what_the_outer_proxy_saw(self):
        self.client.post(
            reverse("login"),
            {"username": "nobody", "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            **{XFF: "6.6.6.6, 203.0.113.7, 10.0.0.1"},
        )
        self.assertEqual(AuditEvent.objects.latest("id").ip_address, "203.0.113.7")


class WithoutAProxyTests(TestCase):
    def test_the_header_is_ignored_when_no_proxy_is_configured(self):
        self.client.post(
            reverse("login"),
            {"username": "nobody", "password": "x"},
            REMOTE_ADDR="192.0.2.5",
            **{XFF: "203.0.113.7"},
        )
        self.assertEqual(AuditEvent.objects.latest("id").ip_address, "192.0.2.5")
