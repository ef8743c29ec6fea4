"""Webhook actions: administrators register, change and re-send (each audited)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments.actions.errors import ActionError
from assessments.models import WebhookDelivery, WebhookEndpoint
from assessments.records import audit
from assessments.workflow import background


def _check(url: str, events: list[str]) -> None:
    from assessments.interchange.webhooks import EVENT_NAMES

    if not url.startswith(("https://", "http://")):
        raise ActionError("A webhook URL starts with https:// (or http:// inside your network).")
    from urllib.parse import urlsplit

    from assessments.interchange.webhooks import blocked_network

    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    if not host:
        raise ActionError("The webhook URL has no host name.")
    if host.lower() in ("localhost", "localhost.localdomain") or blocked_network(host):
        raise ActionError(
            f"{host} is this server itself or a link-local address, where webhooks are not "
            "sent (WEBHOOK_BLOCKED_NETWORKS). Use the receiver's own address."
        )
    unknown = [e for e in events if e not in EVENT_NAMES]
    if unknown or not events:
        raise ActionError(f"Choose one or more events from: {', '.join(EVENT_NAMES)}.")


@transaction.atomic
def create_webhook_endpoint(
    actor: Any,
    *,
    name: str,
    url: str,
    events: list[str],
    request: HttpRequest | None = None,
) -> WebhookEndpoint:
    from assessments.interchange.webhooks import new_secret

    _check(url, events)
    endpoint = WebhookEndpoint.objects.create(
        name=name.strip(), url=url, events=list(events), secret=new_secret()
    )
    audit.record(
        "webhook.create",
        actor=actor,
        obj=endpoint,
        request=request,
        changes={"name": endpoint.name, "url": url, "events": list(events)},
    )
    return endpoint


@transaction.atomic
def update_webhook_endpoint(
    actor: Any,
    endpoint: WebhookEndpoint,
    *,
    name: str,
    url: str,
    events: list[str],
    is_active: bool,
    request: HttpRequest | None = None,
) -> WebhookEndpoint:
    _check(url, events)
    current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = {
        "name": current.name,
        "url": current.url,
        "events": current.events,
        "is_active": current.is_active,
    }
    after = {"name": name.strip(), "url": url, "events": list(events), "is_active": is_active}
    changes = audit.diff(before, after)
    if not changes:
        return current
    for key, value in after.items():
        setattr(current, key, value)
    current.save()
    audit.record("webhook.update", actor=actor, obj=current, request=request, changes=changes)
    return current


@transaction.atomic
def resend_webhook(
    actor: Any, delivery: WebhookDelivery, *, request: HttpRequest | None = None
) -> WebhookDelivery:
    """Send a delivery again (after the receiver was fixed): a fresh round of attempts."""
    current = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if current.state == WebhookDelivery.State.PENDING and current.attempts == 0:
        raise ActionError("This delivery has not been attempted yet.")
    previous = current.state
    current.state = WebhookDelivery.State.PENDING
    current.attempts = 0
    current.next_attempt_at = timezone.now()
    current.save(update_fields=["state", "attempts", "next_attempt_at"])
    audit.record(
        "webhook.resend",
        actor=actor,
        obj=current,
        request=request,
        changes={"event": current.event, "message_id": current.message_id, "was": previous},
    )
    background.enqueue("deliver_webhook", current.pk)
    return current
