"""Webhooks: events told to the URLs administrators register, signed, retried.

Events follow the audit log: every audit event whose verb maps to a webhook event
(``assessment.submit`` -> ``assessment.submitted``, ``agent.update`` ->
``agent.changed``, …) becomes a delivery to each active endpoint that asked for it, in
the same transaction as the change, so nothing is announced that did not happen. The
daily job adds ``review.overdue`` and ``exception.expiring``. Deliveries are sent by the
tasks backend (``assessments.workflow.background``), signed as the Standard Webhooks
convention does: ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``
with the endpoint's secret, and retried with backoff; each attempt is logged on the
delivery and an administrator can send one again.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from assessments.models import (
    AuditEvent,
    GapException,
    Review,
    WebhookDelivery,
    WebhookEndpoint,
)
from assessments.workflow import background

EVENT_NAMES = tuple(name for name, _label in WebhookEndpoint.EVENTS)
# Audit verbs and the webhook event each one is.
FROM_AUDIT = {
    "assessment.submit": "assessment.submitted",
    "assessment.approve": "assessment.approved",
    "assessment.return": "assessment.returned",
    "assessment.withdraw": "assessment.withdrawn",
    "review.trigger": "review.triggered",
    "agent.create": "agent.changed",
    "agent.update": "agent.changed",
    "agent.retire": "agent.changed",
    "agent.reactivate": "agent.changed",
}
# Seconds to wait before attempt 2, 3, …; after the last, the delivery has failed.
BACKOFF = (30, 120, 600, 3600, 6 * 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1
TIMEOUT = 10
TOLERANCE = 5 * 60  # receivers should refuse timestamps further off than this
EXPIRY_NOTICE_DAYS = (30, 7, 1)


# --------------------------------------------------------------------------- signing


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for this message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> bool:
    """What a receiver does: recompute the signature and check the timestamp is recent."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        message_id = lower["webhook-id"]
        timestamp = int(lower["webhook-timestamp"])
        given = lower["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    current = now if now is not None else timezone.now().timestamp()
    if abs(current - timestamp) > TOLERANCE:
        return False
    wanted = sign(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(wanted, candidate) for candidate in given)


# --------------------------------------------------------------------------- emitting


def _queue(endpoint: WebhookEndpoint, event: str, key: str, data: dict[str, Any]) -> None:
    message_id = f"msg_{uuid.uuid4().hex}"
    payload = {"type": event, "timestamp": timezone.now().isoformat(), "data": data}
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint,
                event=event,
                message_id=message_id,
                dedupe_key=key[:200],
                payload=payload,
                next_attempt_at=timezone.now(),
            )
    except IntegrityError:
        return  # already told this endpoint about this
    background.enqueue("deliver_webhook", delivery.pk)


def emit(event: str, key: str, data: dict[str, Any]) -> None:
    """Queue ``event`` for every active endpoint that asked for it (once per ``key``)."""
    for endpoint in WebhookEndpoint.objects.filter(is_active=True):
        if event in (endpoint.events or []):
            _queue(endpoint, event, f"{event}:{key}", data)


def on_audit_event(event: AuditEvent) -> None:
    """Called by ``audit.record`` for every event it writes."""
    name = FROM_AUDIT.get(event.verb)
    if name is None:
        return
    agent_slug = event.agent.slug if event.agent_id and event.agent else None
    emit(
        name,
        f"audit:{event.pk}",
        {
            "audit_event_id": event.pk,
            "verb": event.verb,
            "actor": event.actor_label,
            "object": event.object_repr,
            "agent": agent_slug,
            "url": f"{settings.SITE_URL}/agents/{agent_slug}/" if agent_slug else None,
            "changes": event.changes,
        },
    )


def emit_daily(today: dt.date | None = None) -> int:
    """The daily events: reviews that became overdue today, exceptions that expire in
    30, 7 or 1 days. Returns how many events were emitted (before endpoints)."""
    today = today or timezone.localdate()
    count = 0
    yesterday = today - dt.timedelta(days=1)
    for review in Review.objects.open().filter(due_on=yesterday).select_related("agent"):
        count += 1
        emit(
            "review.overdue",
            f"{review.pk}:{review.due_on.isoformat()}",
            {
                "agent": review.agent.slug,
                "due_on": review.due_on.isoformat(),
                "url": settings.SITE_URL + review.agent.get_absolute_url(),
            },
        )
    for days in EXPIRY_NOTICE_DAYS:
        expiring = GapException.objects.active(today).filter(
            expires_on=today + dt.timedelta(days=days)
        )
        for exception in expiring.select_related("agent"):
            count += 1
            emit(
                "exception.expiring",
                f"{exception.pk}:{days}",
                {
                    "agent": exception.agent.slug,
                    "subject": exception.subject,
                    "expires_on": exception.expires_on.isoformat(),
                    "days_left": days,
                },
            )
    return count


# --------------------------------------------------------------------------- delivering


class BlockedAddress(OSError):
    """The webhook's host is, or resolved to, an address in WEBHOOK_BLOCKED_NETWORKS."""


def blocked_network(address: str) -> str | None:
    """The blocked network ``address`` (an IP address) is in, or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in settings.WEBHOOK_BLOCKED_NETWORKS:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return network
        except ValueError:
            continue
    return None


SCHEMES = ("http", "https")
BLOCKED = (
    "blocked: the address is in a network where webhooks are not sent (WEBHOOK_BLOCKED_NETWORKS)."
)


def _proxy() -> str:
    """The proxy deliveries go through: only ``WEBHOOK_PROXY``, never the environment's
    ``http_proxy``/``https_proxy`` (a proxy resolves names itself, out of our sight)."""
    return str(getattr(settings, "WEBHOOK_PROXY", "") or "")


def _resolve_allowed(host: str, port: int) -> list[tuple[Any, ...]]:
    """The addresses of ``host``, all checked before any connection: one in a blocked
    network refuses the delivery, with the same words whether a port there is open or
    closed (nothing is connected to learn it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"{host} cannot be resolved ({exc.strerror}).") from None
    if any(blocked_network(str(info[4][0])) for info in infos):
        raise BlockedAddress(BLOCKED)
    return infos


def _is_proxy(host: str, port: int) -> bool:
    proxy = _proxy()
    if not proxy:
        return False
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return (parts.hostname or "") == host and (parts.port or 80) == port


def _connect_allowed(
    address: tuple[str, int],
    timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    source_address: Any = None,
    **kwargs: Any,
) -> socket.socket:
    """``socket.create_connection``, resolving first, checking every address, and then
    connecting to those addresses (pinned: a second lookup cannot swap one in). The
    connected peer is checked once more. The configured proxy is the one host reached
    without the check (the destination behind it was checked: ``_check_destination``)."""
    host, port = address[0], address[1]
    if _is_proxy(host, port):
        return socket.create_connection(address, timeout, source_address)
    error: OSError | None = None
    for family, kind, proto, _name, sockaddr in _resolve_allowed(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        if blocked_network(sock.getpeername()[0]):
            sock.close()
            raise BlockedAddress(BLOCKED)
        return sock
    raise error or OSError(f"{host} has no address.")


def _check_destination(url: str) -> None:
    """Only HTTP(S), to a host outside the blocked networks: checked for the URL and for
    every redirect before anything is connected, with a proxy or without."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise BlockedAddress(
            f"blocked: webhooks are sent over HTTP(S) only, not {parts.scheme or 'this'}:."
        )
    host = parts.hostname or ""
    if not host:
        raise BlockedAddress("blocked: the URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise BlockedAddress("blocked: the URL's port is not a number.") from None
    _resolve_allowed(host, port)


class _GuardedHTTP(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_allowed


class _GuardedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_allowed


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(_GuardedHTTP, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        return self.do_open(_GuardedHTTPS, req, context=self._context)  # type: ignore[attr-defined]


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Each hop is checked (scheme and address) before it is followed."""

    def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:
            try:
                _check_destination(urllib.parse.urljoin(req.full_url, location))
            except OSError:
                fp.close()
                raise
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener() -> urllib.request.OpenerDirector:
    """HTTP and HTTPS only: no FTP, file or data handlers (an unknown scheme is refused
    by ``UnknownHandler`` before any connection), and no proxy from the environment."""
    opener = urllib.request.OpenerDirector()
    proxy = _proxy()
    handlers: list[Any] = [
        urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}),
        urllib.request.UnknownHandler(),
        _HTTPHandler(),
        _HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _Redirects(),
        urllib.request.HTTPErrorProcessor(),
    ]
    for handler in handlers:
        opener.add_handler(handler)
    return opener


def attempt(delivery_id: int) -> WebhookDelivery | None:
    """Send one delivery once; record the outcome and schedule the next attempt."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, state=WebhookDelivery.State.PENDING)
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        # Claimed: a second worker picking it up meanwhile finds it not yet due.
        delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=TIMEOUT * 3)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(timezone.now().timestamp())
    request = urllib.request.Request(  # noqa: S310 (an administrator's http(s) URL)
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Agent-Identity-Assessor-Webhooks/1",
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                delivery.endpoint.secret, delivery.message_id, timestamp, body
            ),
        },
    )
    status, error = None, ""
    try:
        _check_destination(delivery.endpoint.url)
        with _opener().open(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        error = str(getattr(exc, "reason", exc))[:500]
    delivery.last_status = status
    delivery.last_error = error
    if status is not None and 200 <= status < 300:
        delivery.state = WebhookDelivery.State.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.state = WebhookDelivery.State.FAILED
        delivery.next_attempt_at = None
    else:
        wait = BACKOFF[delivery.attempts - 1]
        delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=wait)
    delivery.save(
        update_fields=["last_status", "last_error", "state", "delivered_at", "next_attempt_at"]
    )
    if delivery.state == WebhookDelivery.State.PENDING:
        background.enqueue_later("deliver_webhook", delivery.next_attempt_at, delivery.pk)
    return delivery


def due_deliveries(now: dt.datetime | None = None) -> list[int]:
    """Pending deliveries whose next attempt is due (for ``deliver_webhooks``, when the
    tasks backend cannot run work later by itself)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now
        ).values_list("pk", flat=True)
    )
