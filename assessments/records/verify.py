"""Verifying the audit log: the chain of MACs, the latest checkpoint, and the content of
every approved assessment against the hash its approval recorded."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from assessments.models import AuditCheckpoint, AuditEvent
from assessments.records.checkpoints import Checkpoint
from assessments.records.keys import audit_keys, event_mac

logger = logging.getLogger("assessments.records.audit")

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
