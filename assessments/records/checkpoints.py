"""Signed checkpoints of the audit log: written daily and on demand, to the database and
outside it, so truncating the newest events shows."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import connection, transaction
from django.utils import timezone

from assessments.models import AuditCheckpoint, AuditEvent
from assessments.records.keys import PG_AUDIT_LOCK, current_key, mac

logger = logging.getLogger("assessments.records.audit")

CHECKPOINT_FORMAT = "agent-identity-assessor/audit-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """How long the log was and how it ended, at a moment, signed with the audit key."""

    event_count: int
    last_event_id: int | None
    head: str
    created_at: dt.datetime
    key_id: str
    signature: str = ""
    source: str = ""  # where it was read from, for messages

    def payload(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "event_count": self.event_count,
            "last_event_id": self.last_event_id,
            "head": self.head,
            "created_at": self.created_at.astimezone(dt.UTC).isoformat(),
            "key_id": self.key_id,
        }

    def to_json(self) -> str:
        return json.dumps({**self.payload(), "signature": self.signature}, indent=2, sort_keys=True)

    def signed_with(self, key: bytes) -> str:
        message = json.dumps(self.payload(), sort_keys=True, separators=(",", ":"))
        return mac(key, "audit checkpoint", message)

    def check_signature(self, keys: dict[str, bytes]) -> str:
        """``valid``, ``invalid`` or ``unknown key``."""
        key = keys.get(self.key_id)
        if key is None:
            return "unknown key"
        return "valid" if hmac.compare_digest(self.signed_with(key), self.signature) else "invalid"

    @property
    def label(self) -> str:
        return (
            f"the checkpoint of {self.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"({self.event_count} event{'s' if self.event_count != 1 else ''})"
        )

    @classmethod
    def from_row(cls, row: AuditCheckpoint) -> Checkpoint:
        return cls(
            event_count=row.event_count,
            last_event_id=row.last_event_id,
            head=row.head,
            created_at=row.created_at,
            key_id=row.key_id,
            signature=row.signature,
            source=f"checkpoint #{row.pk} in the database",
        )

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> Checkpoint:
        """Read a checkpoint written by ``to_json``; ValueError says what is wrong."""
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("it is not an audit checkpoint of this app")
        if data.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint format version {data.get('version')!r} is not known")
        try:
            count, last_id = data["event_count"], data["last_event_id"]
            head, key, signature = data["head"], data["key_id"], data["signature"]
            created_at = dt.datetime.fromisoformat(data["created_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a field is missing or malformed ({exc})") from None
        valid = (
            isinstance(count, int)
            and count >= 0
            and (last_id is None or isinstance(last_id, int))
            and all(isinstance(v, str) for v in (head, key, signature))
            and created_at.tzinfo is not None
        )
        if not valid:
            raise ValueError("a field has the wrong type")
        return cls(count, last_id, head, created_at, key, signature, source)

    @classmethod
    def from_file(cls, path: str | Path) -> Checkpoint:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"it cannot be read ({exc})") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("it is not JSON") from None
        return cls.from_dict(data, source=str(path))


@dataclass
class CheckpointOutcome:
    checkpoint: Checkpoint
    published_to: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def write_checkpoint() -> CheckpointOutcome:
    """Sign the log's current length and end; keep it in the database and publish it
    outside: the log always, ``AUDIT_CHECKPOINT_DIR`` and ``AUDIT_CHECKPOINT_EMAIL`` when
    set. A publishing failure is reported, never hidden."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PG_AUDIT_LOCK])
        last = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
        kid, key = current_key()
        unsigned = Checkpoint(
            event_count=AuditEvent.objects.count(),
            last_event_id=last[0] if last else None,
            head=last[1] if last else AuditEvent.GENESIS,
            created_at=timezone.now(),
            key_id=kid,
        )
        checkpoint = replace(unsigned, signature=unsigned.signed_with(key))
        row = AuditCheckpoint.objects.create(
            created_at=checkpoint.created_at,
            event_count=checkpoint.event_count,
            last_event_id=checkpoint.last_event_id,
            head=checkpoint.head,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature,
        )
    outcome = CheckpointOutcome(Checkpoint.from_row(row), ["the database"])
    _publish(outcome)
    return outcome


def _publish(outcome: CheckpointOutcome) -> None:
    checkpoint = outcome.checkpoint
    text = checkpoint.to_json()
    logger.info("Audit checkpoint: %s", json.dumps(json.loads(text), sort_keys=True))
    outcome.published_to.append("the log")
    if directory := settings.AUDIT_CHECKPOINT_DIR:
        stamp = checkpoint.created_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = Path(directory) / f"audit-checkpoint-{stamp}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as out:
                out.write(text + "\n")
            outcome.published_to.append(str(path))
        except OSError as exc:
            logger.error("Audit checkpoint not written to %s: %s", path, exc)
            outcome.failures.append(f"{path}: {exc}")
    if recipients := settings.AUDIT_CHECKPOINT_EMAIL:
        message = EmailMessage(
            subject=f"Audit checkpoint: {checkpoint.event_count} events",
            body=(
                "Keep this message: it is a signed checkpoint of the audit log of Agent "
                "Identity Assessor. To check the log against it, save the JSON below to a "
                "file and run:\n\n    python manage.py verify_audit_log --checkpoint FILE\n\n"
                f"{text}\n"
            ),
            to=recipients,
        )
        try:
            mailers.default.send_messages([message])
            outcome.published_to.append(", ".join(recipients))
        except Exception as exc:  # SMTP errors are many; each is reported, none is fatal
            logger.error("Audit checkpoint not e-mailed to %s: %s", recipients, exc)
            outcome.failures.append(f"e-mail to {', '.join(recipients)}: {exc}")


# --------------------------------------------------------------------------- verifying
