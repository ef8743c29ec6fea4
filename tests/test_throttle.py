"""The sign-in lock holds under parallel attempts, and failures cannot flood the audit log."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import time_machine
from django.contrib.auth.signals import user_login_failed
from django.db import connection
from django.test import Client, TestCase, TransactionTestCase
from django.urls import reverse

from assessments.models import AuditEvent, SignInThrottle
from tests import factories as f

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


class ParallelAttemptsTests(TransactionTestCase):
    def test_forty_parallel_guesses_check_exactly_five_passwords(self):
        f.assessor("ada")
        checked: list[str] = []  # passwords actually checked
        lock = threading.Lock()
        barrier = threading.Barrier(40)

        def attempt(n: int) -> int:
            try:
                barrier.wait()
                response = Client().post(
                    reverse("login"),
                    {"username": "ada", "password": f"guess-number-{n}"},
                    REMOTE_ADDR="10.0.0.1",
                )
                return response.status_code
            finally:
                connection.close()

        def count_check(sender, credentials, **kwargs):
            with lock:
                checked.append(credentials["username"])

        user_login_failed.connect(count_check, dispatch_uid="count-checks")
        try:
            with ThreadPoolExecutor(max_workers=40) as pool:
                statuses = list(pool.map(attempt, range(40)))
        finally:
            user_login_failed.disconnect(dispatch_uid="count-checks")
        self.assertEqual(len(checked), 5, statuses)
        self.assertEqual(sorted(set(statuses)), [200, 429])
        self.assertEqual(AuditEvent.objects.filter(verb="auth.locked_out").count(), 1)
        self.assertIsNotNone(SignInThrottle.objects.get().locked_until)


class AuditRateLimitTests(TestCase):
    def fail(self, username="nobody", ip="10.0.0.1"):
        return self.client.post(
            reverse("login"), {"username": username, "password": "x"}, REMOTE_ADDR=ip
        )

    def test_refusals_while_locked_are_audited_once_a_minute_with_a_count(self):
        with time_machine.travel(START, tick=False) as traveller:
            for _ in range(5):
                self.fail()
            for _ in range(200):
                self.assertEqual(self.fail().status_code, 429)
            refused = AuditEvent.objects.filter(verb="auth.login_refused")
            self.assertEqual(refused.count(), 1)
            self.assertEqual(refused.get().changes["refused"], 1)
            traveller.shift(dt.timedelta(minutes=1, seconds=1))
            self.fail()
            self.assertEqual(refused.count(), 2)
            self.assertEqual(refused.latest("id").changes["refused"], 200)
        self.assertLess(AuditEvent.objects.count(), 6)

    def test_failures_are_audited_once_a_minute_per_pair_with_the_count(self):
        with time_machine.travel(START, tick=False) as traveller:
            self.fail()
            self.fail()
            self.fail()
            self.fail("someone-else")
            failed = AuditEvent.objects.filter(verb="auth.login_failed")
            self.assertEqual(
                sorted((e.actor_label, e.changes["failures"]) for e in failed),
                [("nobody", 1), ("someone-else", 1)],
            )
            traveller.shift(dt.timedelta(seconds=61))
            self.fail()
            self.assertEqual(
                failed.filter(actor_label="nobody").latest("id").changes, {"failures": 3}
            )

    def test_the_lockout_event_carries_the_failures_not_yet_reported(self):
        with time_machine.travel(START, tick=False):
            for _ in range(5):
                self.fail()
        failed = AuditEvent.objects.filter(verb="auth.login_failed").order_by("id")
        self.assertEqual([e.changes["failures"] for e in failed], [1, 4])
        self.assertTrue(AuditEvent.objects.filter(verb="auth.locked_out").exists())

    def test_failures_not_yet_audited_are_audited_at_the_next_successful_sign_in(self):
        f.assessor("ada")
        with time_machine.travel(START, tick=False):
            for _ in range(3):
                self.fail("ada")
            ok = self.client.post(
                reverse("login"),
                {"username": "ada", "password": f.PASSWORD},
                REMOTE_ADDR="10.0.0.1",
            )
            self.assertEqual(ok.status_code, 302)
        failed = AuditEvent.objects.filter(verb="auth.login_failed").order_by("id")
        self.assertEqual([e.changes["failures"] for e in failed], [1, 2])
        self.assertEqual(SignInThrottle.objects.get().attempts, 0)
