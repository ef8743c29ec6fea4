"""Webhooks end to end: a real local HTTP server receives signed deliveries, failures
are retried with backoff and logged, and an administrator can send one again."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import time_machine
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.utils import timezone

from assessments import actions
from assessments.interchange import webhooks
from assessments.models import (
    AuditEvent,
    GapException,
    Review,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests import factories as f


class Receiver:
    """A local HTTP server that records what it receives and answers ``status``."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append({"headers": headers, "body": body})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# The test receiver listens on this host, which webhooks are otherwise never sent to.
LOCAL_RECEIVER = override_settings(WEBHOOK_BLOCKED_NETWORKS=["169.254.0.0/16"])


@LOCAL_RECEIVER
class WebhookTests(TestCase):
    def setUp(self):
        self.receiver = Receiver()
        self.addCleanup(self.receiver.stop)
        self.admin = f.administrator()
        self.assessor = f.assessor()
        self.endpoint = actions.create_webhook_endpoint(
            self.admin,
            name="SIEM",
            url=self.receiver.url,
            events=[
                "assessment.submitted",
                "agent.changed",
                "review.overdue",
                "exception.expiring",
            ],
        )

    def test_a_submitted_assessment_arrives_signed_and_verifiable(self):
        agent = f.agent(slug="subject", actor=self.assessor)
        draft = f.answered(agent, self.assessor)
        self.receiver.received.clear()
        with self.captureOnCommitCallbacks(execute=True):
            actions.submit_assessment(self.assessor, draft)
        self.assertEqual(len(self.receiver.received), 1)
        got = self.receiver.received[0]
        self.assertTrue(webhooks.verify(self.endpoint.secret, got["headers"], got["body"]))
        payload = json.loads(got["body"])
        self.assertEqual(payload["type"], "assessment.submitted")
        self.assertEqual(payload["data"]["agent"], "subject")
        self.assertEqual(payload["data"]["actor"], self.assessor.username)
        delivery = WebhookDelivery.objects.get(event="assessment.submitted")
        self.assertEqual(
            (delivery.state, delivery.attempts, delivery.last_status), ("delivered", 1, 200)
        )
        self.assertEqual(got["headers"]["webhook-id"], delivery.message_id)
        # A receiver refuses a changed body, another secret, or an old timestamp.
        self.assertFalse(webhooks.verify(self.endpoint.secret, got["headers"], got["body"] + b" "))
        self.assertFalse(webhooks.verify(webhooks.new_secret(), got["headers"], got["body"]))
        later = int(got["headers"]["webhook-timestamp"]) + 3600
        self.assertFalse(
            webhooks.verify(self.endpoint.secret, got["headers"], got["body"], now=later)
        )

    def test_a_withdrawn_submission_is_an_event_of_its_own(self):
        agent = f.agent(slug="subject", actor=self.assessor)
        submitted = actions.submit_assessment(self.assessor, f.answered(agent, self.assessor))
        self.endpoint.events = ["assessment.withdrawn"]
        self.endpoint.save()
        self.receiver.received.clear()
        with self.captureOnCommitCallbacks(execute=True):
            actions.withdraw_assessment(self.assessor, submitted, reason="Wrong systems.")
        self.assertEqual(len(self.receiver.received), 1)
        payload = json.loads(self.receiver.received[0]["body"])
        self.assertEqual(payload["type"], "assessment.withdrawn")
        self.assertEqual(payload["data"]["agent"], "subject")

    def test_only_the_events_an_endpoint_asked_for_are_sent(self):
        agent = f.agent(slug="subject", actor=self.assessor)
        draft = actions.submit_assessment(self.assessor, f.answered(agent, self.assessor))
        with self.captureOnCommitCallbacks(execute=True):
            actions.return_assessment(f.reviewer(), draft, comment="Check the systems.")
        self.assertFalse(WebhookDelivery.objects.filter(event="assessment.returned").exists())

    def test_a_failing_receiver_is_retried_with_backoff_then_sent_again_by_hand(self):
        self.receiver.status = 500
        with self.captureOnCommitCallbacks(execute=True):
            f.agent(slug="subject", actor=self.assessor)
        delivery = WebhookDelivery.objects.get(event="agent.changed")
        self.assertEqual(
            (delivery.state, delivery.attempts, delivery.last_status), ("pending", 1, 500)
        )
        wait = delivery.next_attempt_at - timezone.now()
        self.assertTrue(dt.timedelta(seconds=25) < wait <= dt.timedelta(seconds=30), wait)
        # Not due yet: the periodic command leaves it alone.
        call_command("deliver_webhooks", stdout=io.StringIO())
        delivery.refresh_from_db()
        self.assertEqual(delivery.attempts, 1)
        # Each attempt waits longer; after the last one the delivery has failed.
        for _ in range(webhooks.MAX_ATTEMPTS - 1):
            with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
                call_command("deliver_webhooks", stdout=io.StringIO())
            delivery.refresh_from_db()
        self.assertEqual((delivery.state, delivery.attempts), ("failed", webhooks.MAX_ATTEMPTS))
        self.assertEqual(len(self.receiver.received), webhooks.MAX_ATTEMPTS)
        # The receiver is fixed; an administrator sends it again.
        self.receiver.status = 204
        self.client.force_login(self.admin)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                "/admin/assessments/webhookdelivery/",
                {"action": "send_again", "_selected_action": [delivery.pk]},
            )
        self.assertEqual(response.status_code, 302)
        delivery.refresh_from_db()
        self.assertEqual((delivery.state, delivery.last_status), ("delivered", 204))
        self.assertTrue(AuditEvent.objects.filter(verb="webhook.resend").exists())
        last = self.receiver.received[-1]
        self.assertTrue(webhooks.verify(self.endpoint.secret, last["headers"], last["body"]))

    def test_the_daily_run_tells_of_overdue_reviews_and_expiring_exceptions_once(self):
        agent = f.agent(slug="subject", actor=self.assessor)
        approved = f.approved(agent, self.assessor, f.reviewer())
        today = timezone.localdate()
        Review.objects.open().filter(agent=agent).update(due_on=today - dt.timedelta(days=1))
        GapException.objects.create(
            agent=agent,
            assessment=approved,
            subject="AIC-05",
            reason="Being built.",
            expires_on=today + dt.timedelta(days=7),
            accepted_by=self.admin,
        )
        self.receiver.received.clear()
        with self.captureOnCommitCallbacks(execute=True):
            webhooks.emit_daily(today)
            webhooks.emit_daily(today)  # a second run the same day sends nothing new
        types = sorted(json.loads(r["body"])["type"] for r in self.receiver.received)
        self.assertEqual(types, ["exception.expiring", "review.overdue"])

    def test_administrators_register_endpoints_in_the_admin_and_it_is_audited(self):
        self.client.force_login(self.admin)
        response = self.client.post(
            "/admin/assessments/webhookendpoint/add/",
            {
                "name": "Chat",
                "url": "https://chat.example.com/hook",
                "events": ["review.triggered"],
                "is_active": "on",
            },
        )
        self.assertEqual(response.status_code, 302, response.content[:500])
        event = AuditEvent.objects.filter(verb="webhook.create").latest("id")
        self.assertEqual(event.changes["events"], ["review.triggered"])
        self.assertNotIn("whsec_", json.dumps(event.changes))
        with self.assertRaises(actions.ActionError):
            actions.create_webhook_endpoint(
                self.admin, name="x", url="ftp://example.com", events=["review.triggered"]
            )
        self.client.force_login(self.assessor)
        self.assertEqual(self.client.get("/admin/assessments/webhookendpoint/").status_code, 403)


class BlockedNetworkTests(TestCase):
    """Webhooks never go to this host or to link-local addresses (cloud metadata), by
    name or by address, checked on the connected socket."""

    def setUp(self):
        self.receiver = Receiver()
        self.addCleanup(self.receiver.stop)
        self.admin = f.administrator()

    def test_an_endpoint_on_this_host_or_a_metadata_address_is_refused(self):
        for url in [
            self.receiver.url,
            "http://localhost:8080/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
        ]:
            with (
                self.subTest(url=url),
                self.assertRaisesMessage(actions.ActionError, "where webhooks are not sent"),
            ):
                actions.create_webhook_endpoint(
                    self.admin, name="x", url=url, events=["review.triggered"]
                )
        # a private network (an internal SIEM) is fine
        actions.create_webhook_endpoint(
            self.admin, name="siem", url="http://10.1.2.3/hook", events=["review.triggered"]
        )

    def test_a_delivery_to_a_blocked_address_is_refused_before_anything_is_sent(self):
        with LOCAL_RECEIVER:
            endpoint = actions.create_webhook_endpoint(
                self.admin, name="x", url=self.receiver.url, events=["agent.changed"]
            )
        # e.g. a name that resolved elsewhere when it was saved and to this host now
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="agent.changed",
            dedupe_key="k",
            message_id="msg_blocked",
            payload={"type": "agent.changed"},
            next_attempt_at=timezone.now(),
        )
        done = webhooks.attempt(delivery.pk)
        self.assertEqual(self.receiver.received, [])
        self.assertIsNone(done.last_status)
        self.assertIn("blocked", done.last_error)
        self.assertNotIn("127.0.0.1", done.last_error)
        with LOCAL_RECEIVER:
            delivery.refresh_from_db()
            WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=0)
            self.assertEqual(webhooks.attempt(delivery.pk).state, "delivered")
        self.assertEqual(len(self.receiver.received), 1)


class _Listener:
    """A TCP port on this host that counts the connections made to it (an FTP server, a
    port scanned): nothing may ever connect to it."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]

    def connections(self) -> int:
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return n
            conn.close()
            n += 1

    def close(self) -> None:
        self.sock.close()


class _Redirector(Receiver):
    """Answers every POST with a redirect to ``target``."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.status = 302
        handler = self.server.RequestHandlerClass

        def do_post(request):
            request.rfile.read(int(request.headers["Content-Length"]))
            self.received.append({"path": request.path})
            request.send_response(302)
            request.send_header("Location", target)
            request.end_headers()

        handler.do_POST = do_post


class DeliveryGuardTests(TestCase):
    """Issue 23, item 2: HTTP(S) only, redirects included; the address checked before
    connecting, with or without a proxy; "blocked" without telling open from closed."""

    def setUp(self):
        self.admin = f.administrator()
        self.ftp = _Listener()
        self.addCleanup(self.ftp.close)

    def deliver(self, url: str) -> WebhookDelivery:
        import uuid

        with override_settings(WEBHOOK_BLOCKED_NETWORKS=[]):
            endpoint = actions.create_webhook_endpoint(
                self.admin, name="x", url="https://hooks.example.com/x", events=["agent.changed"]
            )
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="agent.changed",
            dedupe_key=url[:200],
            message_id=f"msg_{uuid.uuid4().hex}",
            payload={"type": "agent.changed"},
            next_attempt_at=timezone.now(),
        )
        return webhooks.attempt(delivery.pk)

    def test_a_redirect_to_ftp_or_file_is_refused_before_any_connection(self):
        for target in (
            f"ftp://127.0.0.1:{self.ftp.port}/x",
            "file:///etc/passwd",
            "data:text/plain,hello",
            f"gopher://127.0.0.1:{self.ftp.port}/x",
        ):
            with self.subTest(target=target):
                redirector = _Redirector(target)
                self.addCleanup(redirector.stop)
                # The redirecting server is allowed (the receiver's own test setting);
                # only the hop to another scheme is refused.
                with override_settings(WEBHOOK_BLOCKED_NETWORKS=["169.254.0.0/16"]):
                    done = self.deliver(redirector.url)
                self.assertEqual(len(redirector.received), 1)
                self.assertIn("blocked", done.last_error)
                self.assertIn("HTTP(S) only", done.last_error)
                self.assertNotEqual(done.state, "delivered")
        self.assertEqual(self.ftp.connections(), 0)

    def test_a_redirect_to_an_allowed_https_or_http_url_is_still_followed(self):
        receiver = Receiver()
        self.addCleanup(receiver.stop)
        redirector = _Redirector(receiver.url)
        self.addCleanup(redirector.stop)
        with override_settings(WEBHOOK_BLOCKED_NETWORKS=["169.254.0.0/16"]):
            done = self.deliver(redirector.url)
        self.assertEqual(len(redirector.received), 1)
        self.assertEqual(len(receiver.received), 0)  # a 302 after POST is followed as GET
        self.assertNotIn("blocked", done.last_error)

    def test_a_redirect_to_a_blocked_address_is_refused_before_connecting(self):
        redirector = _Redirector(f"http://169.254.169.254:{self.ftp.port}/latest")
        self.addCleanup(redirector.stop)
        with override_settings(WEBHOOK_BLOCKED_NETWORKS=["169.254.0.0/16"]):
            done = self.deliver(redirector.url)
        self.assertIn("blocked", done.last_error)

    def test_open_and_closed_blocked_ports_read_the_same(self):
        import socket

        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()
        open_ = self.deliver(f"http://127.0.0.1:{self.ftp.port}/x")
        shut = self.deliver(f"http://localhost:{closed_port}/x")
        self.assertEqual(open_.last_error, shut.last_error)
        self.assertTrue(open_.last_error.startswith("blocked"))
        self.assertEqual(self.ftp.connections(), 0)

    def test_the_environments_proxy_is_not_used_and_the_address_still_checked(self):
        import os
        from unittest import mock

        proxy = Receiver()
        self.addCleanup(proxy.stop)
        proxy_url = proxy.url.rsplit("/", 1)[0]
        with mock.patch.dict(os.environ, {"http_proxy": proxy_url, "HTTP_PROXY": proxy_url}):
            done = self.deliver(f"http://localhost:{self.ftp.port}/x")
        self.assertEqual(proxy.received, [])
        self.assertTrue(done.last_error.startswith("blocked"))
        self.assertEqual(self.ftp.connections(), 0)

    def test_an_explicit_webhook_proxy_is_used_after_the_destination_is_checked(self):
        proxy = Receiver()
        self.addCleanup(proxy.stop)
        proxy_url = proxy.url.rsplit("/", 1)[0]
        with override_settings(WEBHOOK_PROXY=proxy_url):
            blocked = self.deliver(f"http://localhost:{self.ftp.port}/x")
            self.assertEqual(proxy.received, [])
            self.assertTrue(blocked.last_error.startswith("blocked"))
            done = self.deliver("http://10.1.2.3/hook")
        self.assertEqual(done.state, "delivered", done.last_error)
        self.assertEqual(len(proxy.received), 1)
