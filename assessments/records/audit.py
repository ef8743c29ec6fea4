"""The append-only, keyed and anchored audit log.

Every state change calls ``record`` inside its own transaction, so the event and the
change land together or not at all. Each event carries a MAC (HMAC-SHA256 with the audit
key, ``settings.AUDIT_KEY``, which is not in the database) over its content and the
previous event's MAC, and the id of the key that made it, so keys can rotate
(``settings.AUDIT_KEYS`` keeps the old ones for verification). Whoever can write the
database cannot rewrite an event and re-chain the rest without the key.

A chain alone cannot show that its newest events were removed. Signed checkpoints
(``write_checkpoint``: event count, last event and its MAC, time) are written daily and
on demand, to the database and outside it (``AUDIT_CHECKPOINT_DIR``, the log, e-mail);
``verify_chain`` checks the log against the latest one and names what it finds:
changed, deleted, reordered, re-hashed without the key, or truncated events.

Events written before the key existed (migration 0030) have no key id and verify under
the legacy unkeyed SHA-256 scheme. They are anchored by the first keyed event, whose MAC
covers the last of them; an unkeyed event after a keyed one is a forgery.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments.access.clientip import client_ip
from assessments.models import Agent, AuditCheckpoint, AuditEvent

logger = logging.getLogger("assessments.records.audit")

__all__ = ["client_ip", "diff", "record", "verify_chain"]

_PG_AUDIT_LOCK = 0x41554449  # "AUDI": serialises writers so the chain never forks
CHECKPOINT_FORMAT = "agent-identity-assessor/audit-checkpoint"
CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------- keys


def key_id(key: str) -> str:
    """A short public name for a key (an HMAC of a fixed label: it does not reveal it)."""
    return hmac.new(key.encode(), b"audit key id", hashlib.sha256).hexdigest()[:16]


def audit_keys() -> dict[str, bytes]:
    """Every key that verifies: the current one and those kept from before a rotation."""
    keys = [settings.AUDIT_KEY, *getattr(settings, "AUDIT_KEYS", [])]
    return {key_id(k): k.encode() for k in keys if k}


def current_key() -> tuple[str, bytes]:
    return key_id(settings.AUDIT_KEY), settings.AUDIT_KEY.encode()


def mac(key: bytes, purpose: str, message: str) -> str:
    # The purpose keeps an event's MAC from ever being valid as a checkpoint's, and back.
    return hmac.new(key, f"{purpose}\n{message}".encode(), hashlib.sha256).hexdigest()


def event_mac(event: AuditEvent, key: bytes) -> str:
    return mac(key, "audit event", event.canonical())


# --------------------------------------------------------------------------- writing


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Changed fields as {field: {"old": ..., "new": ...}}."""
    return {
        key: {"old": _jsonable(before.get(key)), "new": _jsonable(after.get(key))}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def record(
    verb: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    agent: Agent | None = None,
    changes: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
    object_repr: str | None = None,
) -> AuditEvent:
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if agent is None and isinstance(obj, Agent):
        agent = obj
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_AUDIT_LOCK])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event = AuditEvent(
            actor=actor,
            actor_label=actor_label
            if actor_label is not None
            else (actor.get_username() if actor else "system"),
            verb=verb,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            object_repr=(
                object_repr if object_repr is not None else str(obj) if obj is not None else ""
            )[:255],
            agent=agent,
            changes=_jsonable(changes or {}),
            ip_address=client_ip(request),
            prev_hash=last or AuditEvent.GENESIS,
        )
        event.key_id, key = current_key()
        event.hash = event_mac(event, key)
        event.save()
        # Webhooks follow the audit log, inside the same transaction as the change.
        from assessments.interchange import webhooks

        webhooks.on_audit_event(event)
    return event


# --------------------------------------------------------------------------- checkpoints


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
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_AUDIT_LOCK])
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

FINDING_LABELS = {
    "changed": "changed",
    "deleted": "deleted",
    "reordered": "reordered",
    "rehashed": "re-hashed without the key",
    "truncated": "truncated",
    "inserted": "inserted",
    "checkpoint": "forged checkpoint",
    "unknown_key": "signed with an unknown key",
    "approved_changed": "approved assessment changed",
    "approved_missing": "approved assessment missing",
    "approved_extra": "approved assessment without its approval",
}
_MAX_FINDINGS = 50
_MAX_LOOKUPS = 50


@dataclass(frozen=True)
class Finding:
    kind: str
    event_id: int | None
    detail: str

    @property
    def label(self) -> str:
        return FINDING_LABELS[self.kind]

    def __str__(self) -> str:
        where = (
            f"event #{self.event_id}"
            if self.event_id is not None
            else "approved assessments"
            if self.kind.startswith("approved")
            else "checkpoints"
        )
        return f"{where}: {self.label}: {self.detail}"


@dataclass
class ChainReport:
    """What verification found. Exit codes of ``verify_audit_log``: 0 intact,
    1 tampered, 2 could not be checked (a key or the checkpoint is missing or unusable)."""

    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    unverifiable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    # No checkpoint to check against: whoever runs commands on the server can write one
    # (``manage.py audit_checkpoint``); the web page says so, in words, to administrators.
    checkpoint_missing: bool = False

    def add(self, kind: str, event_id: int | None, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.findings) < _MAX_FINDINGS:
            self.findings.append(Finding(kind, event_id, detail))

    @property
    def tampered(self) -> bool:
        return bool(self.counts)

    @property
    def ok(self) -> bool:
        return not self.tampered and not self.unverifiable

    @property
    def exit_code(self) -> int:
        return 1 if self.tampered else 2 if self.unverifiable else 0

    @property
    def problems(self) -> int:
        return sum(self.counts.values())

    @property
    def broken_at(self) -> int | None:
        return self.findings[0].event_id if self.findings else None

    @property
    def problem(self) -> str:
        return self.findings[0].detail if self.findings else ""

    def summary(self) -> str:
        events = f"{self.checked} event{'s' if self.checked != 1 else ''}"
        if self.tampered:
            kinds = ", ".join(f"{n} {FINDING_LABELS[k]}" for k, n in sorted(self.counts.items()))
            return f"Tampered: {kinds} ({events} checked)."
        if self.unverifiable:
            return f"Cannot be fully checked: {' '.join(self.unverifiable)}"
        against = f", up to and beyond {self.checkpoint.label}" if self.checkpoint else ""
        return f"Intact: all {events} verify{against}."


def verify_chain(*, checkpoint_file: str | Path | None = None) -> ChainReport:
    """Walk the whole log in order and check each event's MAC and link, then the log's
    length and end against the latest checkpoint (``checkpoint_file`` if given, else the
    newest valid one in the database or ``AUDIT_CHECKPOINT_DIR``). Names every problem,
    not only the first."""
    keys = audit_keys()
    report = ChainReport()
    checkpoint = _latest_checkpoint(report, keys, checkpoint_file)
    report.checkpoint = checkpoint
    cp_last = checkpoint.last_event_id if checkpoint and checkpoint.event_count else None

    expected_prev = AuditEvent.GENESIS
    seen_keyed = False
    position = 0
    up_to_checkpoint = 0
    head_seen: tuple[int, str] | None = None
    previous_id: int | None = None
    unknown_keys: dict[str, int] = {}
    first_unknown: dict[str, int] = {}
    legacy = 0
    lookups = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        position += 1
        authentic: bool | None = True
        if event.key_id:
            seen_keyed = True
            key = keys.get(event.key_id)
            if key is None:
                unknown_keys[event.key_id] = unknown_keys.get(event.key_id, 0) + 1
                first_unknown.setdefault(event.key_id, event.pk)
                authentic = None
            elif not hmac.compare_digest(event_mac(event, key), event.hash):
                authentic = False
                if event.unkeyed_hash() == event.hash:
                    report.add("rehashed", event.pk, "its hash was recomputed without the key.")
                else:
                    report.add("changed", event.pk, "its content no longer matches its MAC.")
        elif seen_keyed:
            authentic = False
            report.add(
                "rehashed",
                event.pk,
                "it has no key id although keyed events come before it: it was written or "
                "re-hashed without the key.",
            )
        else:
            legacy += 1
            if event.unkeyed_hash() != event.hash:
                authentic = False
                report.add("changed", event.pk, "its content no longer matches its hash.")

        # A link is only evidence when the event itself is authentic.
        if event.prev_hash != expected_prev and authentic is not False:
            other = None
            if lookups < _MAX_LOOKUPS:
                lookups += 1
                other = (
                    AuditEvent.objects.filter(hash=event.prev_hash)
                    .exclude(pk=event.pk)
                    .values_list("pk", flat=True)
                    .first()
                )
            if other is not None:
                after = f"event #{previous_id}" if previous_id else "the start of the log"
                report.add(
                    "reordered",
                    event.pk,
                    f"it was written after event #{other} but now comes after {after}.",
                )
            else:
                report.add(
                    "deleted",
                    event.pk,
                    "the event written before it is no longer in the log.",
                )
        expected_prev = event.hash
        if cp_last is not None:
            if event.pk <= cp_last:
                up_to_checkpoint += 1
            if event.pk == cp_last:
                head_seen = (position, event.hash)
        previous_id = event.pk
    report.checked = position
    if legacy:
        report.notes.append(
            f"{legacy} event{'s' if legacy != 1 else ''} from before audit keys "
            f"verif{'y' if legacy != 1 else 'ies'} under the earlier unkeyed scheme"
            + (", anchored by the keyed events after them." if seen_keyed else ".")
        )

    for kid, n in sorted(unknown_keys.items()):
        # Only the events before the first keyed one may lack a key (the documented
        # pre-key events, verified above under the unkeyed scheme). A key id that no
        # configured key has is what a forger who cannot sign would write: tampering,
        # unless a key of an earlier rotation was left out of AUDIT_KEYS.
        report.add(
            "unknown_key",
            first_unknown[kid],
            f"{n} event{'s' if n != 1 else ''} (the first is this one) carry the key id {kid}, "
            "which no configured key has: they were written without the audit key, or a key "
            "kept from a rotation is missing from AUDIT_KEYS.",
        )
    _verify_approved(report)
    if checkpoint is not None and cp_last is not None:
        _check_against(report, checkpoint, head_seen, up_to_checkpoint)
    return report


def _check_against(
    report: ChainReport,
    checkpoint: Checkpoint,
    head_seen: tuple[int, str] | None,
    up_to_checkpoint: int,
) -> None:
    n = checkpoint.event_count
    if head_seen is None:
        removed = n - up_to_checkpoint
        report.add(
            "truncated",
            checkpoint.last_event_id,
            f"{checkpoint.label} ended with this event and it is gone: only "
            f"{up_to_checkpoint} of the {n} events it counted remain, so at least "
            f"{removed} event{'s were' if removed != 1 else ' was'} removed from the end of "
            "the log as it stood then.",
        )
        return
    position, head = head_seen
    if head != checkpoint.head:
        report.add(
            "changed",
            checkpoint.last_event_id,
            f"it is not the event {checkpoint.label} ended with.",
        )
    elif position < n:
        report.add(
            "deleted",
            checkpoint.last_event_id,
            f"{n - position} of the {n} events {checkpoint.label} counted up to it are missing.",
        )
    elif position > n:
        report.add(
            "inserted",
            checkpoint.last_event_id,
            f"{position - n} more events come before it than {checkpoint.label} counted.",
        )


def _latest_checkpoint(
    report: ChainReport, keys: dict[str, bytes], checkpoint_file: str | Path | None
) -> Checkpoint | None:
    if checkpoint_file is not None:
        try:
            checkpoint = Checkpoint.from_file(checkpoint_file)
        except ValueError as exc:
            report.unverifiable.append(f"The checkpoint {checkpoint_file} is unusable: {exc}.")
            return None
        status = checkpoint.check_signature(keys)
        if status == "unknown key":
            report.unverifiable.append(
                f"The checkpoint {checkpoint_file} was signed with key id {checkpoint.key_id}, "
                "which is not configured: add that key to AUDIT_KEYS."
            )
            return None
        if status == "invalid":
            report.unverifiable.append(
                f"The checkpoint {checkpoint_file} does not carry a valid signature: it was "
                "altered or was not written with these keys."
            )
            return None
        return checkpoint

    candidates: list[Checkpoint] = []
    for row in AuditCheckpoint.objects.order_by("id"):
        checkpoint = Checkpoint.from_row(row)
        status = checkpoint.check_signature(keys)
        if status == "valid":
            candidates.append(checkpoint)
        elif status == "invalid":
            report.add(
                "checkpoint",
                None,
                f"{checkpoint.source} ({checkpoint.label}) does not carry a valid signature: "
                "it was forged or altered.",
            )
        else:
            report.notes.append(
                f"Skipped {checkpoint.source}: signed with key id {checkpoint.key_id}, which "
                "is not configured."
            )
    directory = settings.AUDIT_CHECKPOINT_DIR
    if directory and Path(directory).is_dir():
        for path in sorted(Path(directory).glob("*.json")):
            try:
                checkpoint = Checkpoint.from_file(path)
            except ValueError as exc:
                report.notes.append(f"Skipped {path}: {exc}.")
                continue
            status = checkpoint.check_signature(keys)
            if status == "valid":
                candidates.append(checkpoint)
            else:
                report.notes.append(f"Skipped {path}: its signature is {status}.")
    if not candidates:
        report.notes.append(
            "No checkpoint was found, so removing the newest events would not show; the daily "
            "reminder run writes one."
        )
        report.checkpoint_missing = True
        return None
    return max(candidates, key=lambda c: (c.created_at, c.event_count))


# --------------------------------------------------------------------------- approved versions

# What an approval decided: the fields of the approved version its event's content hash
# covers. A fixed list, so a column added later does not change old hashes.
APPROVED_FIELDS = (
    "id",
    "agent_id",
    "number",
    "status",
    "questionnaire_version",
    "catalogue_id",
    "answers",
    "result",
    "classification",
    "tier",
    "based_on_id",
    "assessor_id",
    "submitted_by_id",
    "reviewer_id",
    "review_comment",
    "submitted_at",
    "decided_at",
    "next_review_on",
    "inventory_at_approval",
)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def content_hash(values: dict[str, Any]) -> str:
    """SHA-256 of an approved version's fields (``APPROVED_FIELDS``, as the database
    returns them). The approval event carries it, so its MAC covers the version."""
    plain = {name: _plain(values.get(name)) for name in APPROVED_FIELDS}
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def approved_content_hash(assessment_id: int) -> str:
    from assessments.models import Assessment

    return content_hash(Assessment.objects.filter(pk=assessment_id).values(*APPROVED_FIELDS).get())


def _verify_approved(report: ChainReport) -> None:
    """Every approved assessment against the content hash its approval event recorded:
    a row changed, replaced, deleted or added outside the app (a superuser with the
    triggers off, ``INSERT OR REPLACE`` on SQLite) is named."""
    from assessments.models import Assessment

    approvals: dict[str, tuple[int, str | None]] = {}
    for event_id, object_id, changes in (
        AuditEvent.objects.filter(
            verb="assessment.approve", object_type=Assessment._meta.label_lower
        )
        .order_by("id")
        .values_list("id", "object_id", "changes")
        .iterator(chunk_size=2000)
    ):
        recorded = changes.get("content_hash") if isinstance(changes, dict) else None
        approvals[object_id] = (event_id, recorded if isinstance(recorded, str) else None)
    seen: set[str] = set()
    unhashed = 0
    rows = (
        Assessment.objects.filter(status=Assessment.Status.APPROVED)
        .order_by("id")
        .values(*APPROVED_FIELDS)
    )
    for row in rows.iterator(chunk_size=2000):
        key = str(row["id"])
        seen.add(key)
        found = approvals.get(key)
        what = f"assessment #{row['id']} (agent #{row['agent_id']}, version {row['number']})"
        if found is None:
            report.add(
                "approved_extra",
                None,
                f"{what} is approved but no approval event names it: it was inserted or "
                "replaced outside the app.",
            )
        elif found[1] is None:
            unhashed += 1
        elif not hmac.compare_digest(content_hash(row), found[1]):
            report.add(
                "approved_changed",
                found[0],
                f"{what} no longer matches the content this approval recorded: it was "
                "changed or replaced outside the app.",
            )
    for object_id, (event_id, _recorded) in approvals.items():
        if object_id not in seen:
            report.add(
                "approved_missing",
                event_id,
                f"the assessment #{object_id} this event approved is no longer an approved "
                "assessment: it was deleted, replaced or reopened outside the app.",
            )
    if unhashed:
        report.notes.append(
            f"{unhashed} approved assessment{'s' if unhashed != 1 else ''} from before "
            "approvals recorded a content hash are checked for presence only."
        )


def export_record(event: AuditEvent) -> dict[str, Any]:
    """One event as plain data with every field of its chain, so a SIEM (through the API
    or ``export_audit``) can check it: ``hash`` is the HMAC-SHA256, with the audit key
    named by ``key_id``, of "audit event", a newline and the canonical JSON of the other
    fields (events from before audit keys, with no ``key_id``: plain SHA-256 of it)."""
    return {
        "id": event.pk,
        "created_at": event.created_at.astimezone(dt.UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "verb": event.verb,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "agent_id": event.agent_id,
        "changes": event.changes,
        "ip_address": event.ip_address,
        "prev_hash": event.prev_hash,
        "key_id": event.key_id,
        "hash": event.hash,
    }
