"""``export_audit`` ships the audit log as JSON lines a SIEM can verify."""

from __future__ import annotations

import hashlib
import hmac
import io
import json

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase

from assessments.models import AuditEvent
from tests import factories as f


def canonical_hash(row: dict) -> str:
    """Recompute an event's MAC from the exported fields alone, as a SIEM holding the
    audit key would (the key itself is never exported)."""
    data = {
        "created_at": row["created_at"],
        "actor": row["actor_id"],
        "actor_label": row["actor_label"],
        "verb": row["verb"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "object_repr": row["object_repr"],
        "agent": row["agent_id"],
        "changes": row["changes"],
        "ip_address": row["ip_address"],
        "prev_hash": row["prev_hash"],
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    if not row["key_id"]:
        return hashlib.sha256(text.encode()).hexdigest()
    key = settings.AUDIT_KEY.encode()
    return hmac.new(key, f"audit event\n{text}".encode(), hashlib.sha256).hexdigest()


class ExportAuditTests(TestCase):
    def test_exports_events_after_an_id_with_a_chain_that_verifies(self):
        f.agent(slug="one")
        f.agent(slug="two")
        first = AuditEvent.objects.order_by("id").first()
        out, err = io.StringIO(), io.StringIO()
        call_command("export_audit", "--since", str(first.pk), stdout=out, stderr=err)
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        expected = list(AuditEvent.objects.filter(id__gt=first.pk).order_by("id"))
        self.assertEqual([r["id"] for r in rows], [e.pk for e in expected])
        self.assertEqual(rows[0]["prev_hash"], first.hash)
        for row, previous in zip(rows, [first.hash] + [r["hash"] for r in rows[:-1]], strict=True):
            self.assertEqual(row["prev_hash"], previous)
            self.assertEqual(canonical_hash(row), row["hash"])
        self.assertIn(f"last id {expected[-1].pk}", err.getvalue())

    def test_nothing_new_exports_nothing(self):
        f.agent(slug="one")
        last = AuditEvent.objects.order_by("id").last()
        out = io.StringIO()
        call_command("export_audit", "--since", str(last.pk), stdout=out, stderr=io.StringIO())
        self.assertEqual(out.getvalue(), "")

    def test_a_negative_since_is_refused(self):
        with self.assertRaises(CommandError):
            call_command("export_audit", "--since", "-1", stderr=io.StringIO())
