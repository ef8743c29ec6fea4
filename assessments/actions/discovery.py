"""Discovery actions: store a run, read it, reconcile it with the inventory, triage.

A run keeps its files (bytes and SHA-256) and is read by the pure readers
(``assessments.discovery``), in the background from the page and the API, at once from
``manage.py discover``. Each identity is compared with the previous run of its source
(new, changed, unchanged, vanished) and linked to the agent whose evidence names it.
A linked agent whose identity changed gets an "Evidence changed" review; one whose
identity vanished gets a review proposing its retirement. Triage (register as an
agent, remains a machine identity, decommission) is audited, one identity at a time
or in bulk: :mod:`assessments.actions.discovery_triage`, whose actions are re-exported
here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import connections, router, transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments import discovery
from assessments.actions.discovery_triage import (
    MAX_REASON,
    PLATFORMS,
    TRIAGE_ACTIONS,
    BulkOutcome,
    Registered,
    bulk_triage,
    decommission_allowed,
    decommission_identity,
    dismiss_decommission,
    keep_as_machine,
    register_identity,
    reopen_triage,
    unused_days,
)
from assessments.actions.errors import ActionError
from assessments.actions.evidence import DRIFT_CODE
from assessments.actions.ownership import activity_from_discovery
from assessments.actions.reviews import trigger_review
from assessments.models import (
    Agent,
    DiscoveredIdentity,
    DiscoveryFile,
    DiscoveryRun,
    EvidenceUpload,
    Review,
)
from assessments.records import audit
from assessments.workflow import background

logger = logging.getLogger(__name__)

MAX_FILES = 10
VANISHED_CODE = "identity_vanished"
Identity = DiscoveredIdentity
S = DiscoveredIdentity.Status
T = DiscoveredIdentity.Triage
D = DiscoveredIdentity.Decommission


def _clean_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = "".join(ch for ch in base if ch.isprintable())[:255]
    return cleaned or "export"


def parse_files(
    kind: str, files: Sequence[tuple[str, bytes]], source: str = ""
) -> list[discovery.common.EvidenceFile]:
    """Parse and shape-check uploaded files; ActionError naming the file when one is bad."""
    if kind not in discovery.KINDS:
        raise ActionError(f"Choose what the files are; allowed: {', '.join(discovery.KINDS)}.")
    if not files:
        raise ActionError("Choose at least one file.")
    if len(files) > MAX_FILES:
        raise ActionError(f"Upload at most {MAX_FILES} files at a time.")
    if kind in discovery.SOURCE_REQUIRED and not source.strip():
        raise ActionError("Name the cluster these files are from (the source).")
    if len(source) > 200:
        raise ActionError("The source name is longer than 200 characters.")
    try:
        parsed = [discovery.load(_clean_name(n), d) for n, d in files]
        discovery.check(kind, parsed, source)
    except discovery.DiscoveryError as error:
        raise ActionError(f"{error}. Nothing was stored.") from None
    return parsed


@transaction.atomic
def start_discovery(
    actor: Any,
    kind: str,
    files: Sequence[tuple[str, bytes]],
    *,
    source: str = "",
    request: HttpRequest | None = None,
) -> DiscoveryRun:
    """Store the files as a queued run and hand the reading to the background."""
    parsed = parse_files(kind, files, source)
    run = DiscoveryRun.objects.create(
        kind=kind,
        requested_source=source.strip(),
        started_by=actor,
        files_summary=[{"name": f.name, "sha256": f.sha256} for f in parsed],
    )
    DiscoveryFile.objects.bulk_create(
        DiscoveryFile(run=run, name=p.name, sha256=p.sha256, size=len(data), content=data)
        for p, (_n, data) in zip(parsed, files, strict=True)
    )
    audit.record(
        "discovery.upload",
        actor=actor,
        obj=run,
        request=request,
        changes={"kind": kind, "source": run.requested_source, "files": run.files_summary},
    )
    background.enqueue("read_discovery_run", run.pk)
    return run


def read_discovery_run(run_id: int) -> DiscoveryRun:
    """Read a stored run and reconcile it (the background task's body). A file that
    cannot be read fails the run, removes its files and changes no identity."""
    run = DiscoveryRun.objects.get(pk=run_id)
    if run.status not in (DiscoveryRun.Status.QUEUED, DiscoveryRun.Status.READING):
        return run
    DiscoveryRun.objects.filter(pk=run.pk).update(status=DiscoveryRun.Status.READING, progress=5)
    stored = [(f.name, bytes(f.content)) for f in run.files.all()]
    try:
        parsed = [discovery.load(n, d) for n, d in stored]
        DiscoveryRun.objects.filter(pk=run.pk).update(progress=20)
        reading = discovery.read(run.kind, parsed, run.requested_source or None)
    except discovery.DiscoveryError as error:
        with transaction.atomic():
            run.files.all().delete()
            run.status = DiscoveryRun.Status.FAILED
            run.error = f"{error}. Nothing was stored."
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            audit.record(
                "discovery.fail", actor=run.started_by, obj=run, changes={"error": run.error}
            )
        return run
    DiscoveryRun.objects.filter(pk=run.pk).update(progress=70)
    return reconcile(run, reading, stored, actor=run.started_by)


@dataclass
class Plan:
    """What a reading changes: the status of each identity against the previous run."""

    statuses: dict[str, str] = field(default_factory=dict)  # external_id -> status
    hashes: dict[str, str] = field(default_factory=dict)  # external_id -> grant hash
    vanished: list[DiscoveredIdentity] = field(default_factory=list)
    previous: dict[str, DiscoveredIdentity] = field(default_factory=dict)

    def counts(self, reading: discovery.Reading) -> dict[str, int]:
        values = list(self.statuses.values())
        return {
            **reading.counts(),
            "new": values.count(S.NEW),
            "changed": values.count(S.CHANGED),
            "unchanged": values.count(S.UNCHANGED),
            "vanished": len(self.vanished),
        }


# Read back only when an identity's grants changed (its signals before and after).
HEAVY_FIELDS = ("signals", "details", "location")


def plan(reading: discovery.Reading) -> Plan:
    """Compare a reading with the identities stored for its source (read only): one
    query, without the stored signals and evidence lines (the hashes say what changed)."""
    previous = {
        i.external_id: i
        for i in DiscoveredIdentity.objects.filter(kind=reading.kind, source=reading.source).defer(
            *HEAVY_FIELDS
        )
    }
    out = Plan(previous=previous)
    seen = set()
    for identity in reading.identities:
        seen.add(identity.external_id)
        old = previous.get(identity.external_id)
        grants = out.hashes[identity.external_id] = identity.grant_hash()
        if old is None or old.status == S.VANISHED:
            out.statuses[identity.external_id] = S.NEW
        elif old.grant_hash != grants:
            out.statuses[identity.external_id] = S.CHANGED
        else:
            out.statuses[identity.external_id] = S.UNCHANGED
    out.vanished = [i for eid, i in previous.items() if eid not in seen and i.status != S.VANISHED]
    return out


def _links(kind: str) -> dict[str, int]:
    """external id -> agent id, from the evidence uploads that name the identity."""
    prefix = "serviceAccount:" if kind == "gcp" else ""
    found = {}
    for agent_id, principal in (
        EvidenceUpload.objects.filter(kind=kind)
        .exclude(principal="")
        .order_by("uploaded_at")
        .values_list("agent_id", "principal")
    ):
        found[principal.removeprefix(prefix)] = agent_id
    return found


def store_run(
    actor: Any,
    kind: str,
    files: Sequence[tuple[str, bytes]],
    parsed: Sequence[Any],
    *,
    source: str = "",
) -> DiscoveryRun:
    """A run read at once (``manage.py discover``): stored with its files, then read."""
    run = DiscoveryRun.objects.create(
        kind=kind,
        requested_source=source.strip(),
        started_by=actor,
        files_summary=[{"name": f.name, "sha256": f.sha256} for f in parsed],
        status=DiscoveryRun.Status.READING,
    )
    DiscoveryFile.objects.bulk_create(
        DiscoveryFile(run=run, name=p.name, sha256=p.sha256, size=len(data), content=data)
        for p, (_n, data) in zip(parsed, files, strict=True)
    )
    return run


def _values(found: discovery.Identity, grant_hash: str) -> dict[str, Any]:
    """What a run stores about an identity (its status and runs aside)."""
    return {
        "name": found.name[:300],
        "identity_type": found.type[:80],
        "created_on": found.created,
        "last_used": found.last_used,
        "last_used_from": found.last_used_from[:120],
        "owner_hint": found.owner_hint[:200],
        "agent_like": found.agent_like,
        "signals": found.signals_list(),
        "details": found.details,
        "location": found.where.to_dict() if found.where else {},
        "grant_hash": grant_hash,
    }


def content_hash(values: dict[str, Any]) -> str:
    """A hash of what a person reads about an identity, without the file names and
    positions of its lines: the same export pushed again, renamed, or with a role added
    above it (every position moves) leaves the stored rows as they are."""
    signals = [
        [s["signal"], [line.get("says", "") for line in s["evidence"]]] for s in values["signals"]
    ]
    payload = {
        **values,
        "signals": signals,
        "location": values["location"].get("says", ""),
    }
    blob = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(blob).hexdigest()


CONTENT_FIELDS = (
    "name",
    "identity_type",
    "created_on",
    "last_used",
    "last_used_from",
    "owner_hint",
    "agent_like",
    "signals",
    "details",
    "location",
    "grant_hash",
    "content_hash",
    "read_in",
)
RUN_FIELDS = ("status", "last_run", "updated_at")
TRIAGE_FIELDS = (
    "agent",
    "triage",
    "triage_reason",
    "triaged_by",
    "triaged_at",
    "decommission_state",
    "decommission_closed_at",
)


def _update_rows(rows: Sequence[DiscoveredIdentity], names: Sequence[str]) -> None:
    """One UPDATE statement run for every row (``executemany``), each value prepared by
    its field as the ORM does. ``bulk_update`` writes a CASE WHEN per field whose length
    grows with the batch, so its time grows with the square of it: 10,000 rows took 80 s
    (``bench/discovery.py``)."""
    if not rows:
        return
    meta = DiscoveredIdentity._meta
    fields = [f for f in meta.concrete_fields if f.name in names]
    db = connections[router.db_for_write(DiscoveredIdentity)]  # not the proxy, per value
    quote = db.ops.quote_name
    # The table and columns are the model's own, quoted; the values are parameters.
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(str(meta.pk.column))} = %s"  # noqa: S608
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), db) for f in fields] + [row.pk] for row in rows
    ]
    with db.cursor() as cursor:
        for start in range(0, len(params), 2000):
            cursor.executemany(sql, params[start : start + 2000])


def _insert_rows(rows: Sequence[dict[str, Any]]) -> None:
    """One INSERT statement run for every new row (``executemany``), from each row's
    values by field name (the others take their defaults), each prepared by its field as
    the ORM does: ``bulk_create`` built and compiled 10,000 models of 30 columns in 3 s
    of the 10 a run may take (``bench/discovery.py``), this in a fraction of it."""
    if not rows:
        return
    meta = DiscoveredIdentity._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    db = connections[router.db_for_write(DiscoveredIdentity)]  # not the proxy, per value
    quote = db.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    defaults = {f.attname: f.get_default() for f in fields}
    params = [
        [f.get_db_prep_save(row.get(f.attname, defaults[f.attname]), db) for f in fields]
        for row in rows
    ]
    with db.cursor() as cursor:
        for start in range(0, len(params), 2000):
            cursor.executemany(sql, params[start : start + 2000])


def _signal_names(pks: Sequence[int]) -> dict[int, list[str]]:
    """The stored signals of the identities whose grants changed (the others' are equal)."""
    found: dict[int, list[str]] = {}
    for start in range(0, len(pks), 900):
        for pk, signals in DiscoveredIdentity.objects.filter(
            pk__in=pks[start : start + 900]
        ).values_list("pk", "signals"):
            found[pk] = [s["signal"] for s in signals or []]
    return found


@transaction.atomic
def reconcile(
    run: DiscoveryRun,
    reading: discovery.Reading,
    stored: Sequence[tuple[str, bytes]],
    *,
    actor: Any = None,
    now: dt.datetime | None = None,
) -> DiscoveryRun:
    """Store ``reading`` as the latest state of its source and act on what changed.

    A handful of queries whatever the size: the previous identities in one (without
    their signals), the new ones by ``bulk_create``, those found as they were (the same
    content hash) by one UPDATE of their status per batch of primary keys, the others
    by one ``executemany``; one audit event summarises the run."""
    now = now or timezone.now()
    changes = plan(reading)
    links = _links(reading.kind)
    regranted = [
        old.pk
        for eid, old in changes.previous.items()
        if changes.statuses.get(eid) in (S.CHANGED, S.NEW) and old.grant_hash != changes.hashes[eid]
    ]
    before_signals = _signal_names(regranted)
    creating: list[dict[str, Any]] = []
    rewriting: list[DiscoveredIdentity] = []
    drift: list[tuple[DiscoveredIdentity, list[str], list[str]]] = []
    reopened: list[DiscoveredIdentity] = []
    touched: dict[str, list[int]] = {}
    for found in reading.identities:
        eid = found.external_id
        status = changes.statuses[eid]
        old = changes.previous.get(eid)
        values = _values(found, changes.hashes[eid])
        digest = content_hash(values)
        if old is None:
            creating.append(
                {
                    "kind": reading.kind,
                    "source": reading.source,
                    "external_id": eid,
                    "first_run_id": run.pk,
                    "agent_id": links.get(eid),
                    "status": status,
                    "last_run_id": run.pk,
                    "updated_at": now,
                    "content_hash": digest,
                    "read_in_id": run.pk,
                    **values,
                }
            )
            continue
        triage_before = tuple(getattr(old, f) for f in TRIAGE_FIELDS)
        if old.agent_id is None and eid in links:
            old.agent_id = links[eid]
        if old.pk in before_signals:
            before = before_signals[old.pk]
            after = [s["signal"] for s in values["signals"]]
            if status == S.CHANGED and old.agent_id is not None:
                drift.append((old, sorted(before), sorted(after)))
            if old.triage == T.MACHINE and set(before) != set(after):
                reopened.append(old)
                old.triage, old.triage_reason = T.NONE, ""
                old.triaged_by, old.triaged_at = None, None
        if old.triage == T.DECOMMISSION and old.decommission_state == D.DONE and status == S.NEW:
            # Back after it was gone: its decommission is open again.
            old.decommission_state, old.decommission_closed_at = D.OPEN, None
        if digest == old.content_hash and tuple(getattr(old, f) for f in TRIAGE_FIELDS) == (
            triage_before
        ):
            # Most identities of a run are as they were: one UPDATE per status for them.
            touched.setdefault(status, []).append(old.pk)
            continue
        for key, value in values.items():
            setattr(old, key, value)
        old.content_hash, old.read_in = digest, run
        old.status, old.last_run, old.updated_at = status, run, now
        rewriting.append(old)
    for gone in changes.vanished:
        gone.status, gone.last_run, gone.updated_at = S.VANISHED, run, now
        if gone.triage == T.DECOMMISSION and gone.decommission_state == D.OPEN:
            gone.decommission_state, gone.decommission_closed_at = D.DONE, now
    _insert_rows(creating)
    for status, pks in touched.items():
        for start in range(0, len(pks), 900):
            DiscoveredIdentity.objects.filter(pk__in=pks[start : start + 900]).update(
                status=status, last_run=run, updated_at=now
            )
    _update_rows(rewriting, CONTENT_FIELDS + RUN_FIELDS + TRIAGE_FIELDS)
    _update_rows(changes.vanished, RUN_FIELDS + ("decommission_state", "decommission_closed_at"))
    run.source = reading.source
    run.counts = changes.counts(reading)
    run.status = DiscoveryRun.Status.DONE
    run.progress = 100
    run.finished_at = timezone.now()
    run.save(update_fields=["source", "counts", "status", "progress", "finished_at"])
    audit.record(
        "discovery.run",
        actor=actor,
        obj=run,
        changes={
            "kind": run.kind,
            "source": run.source,
            "files": run.files_summary,
            "counts": run.counts,
            "rewritten": len(rewriting),
        },
    )
    for identity in reopened:
        audit.record(
            "discovery.reopen",
            actor=actor,
            obj=identity,
            changes={"external_id": identity.external_id, "why": "its signals changed"},
        )
    # What the run read as each linked identity's last use is its agent's last activity.
    activity_from_discovery(
        DiscoveredIdentity.objects.filter(last_run=run, agent__isnull=False).values_list(
            "agent_id", flat=True
        ),
        actor=actor,
    )
    agents = Agent.objects.in_bulk(
        {i.agent_id for i, _b, _a in drift} | {i.agent_id for i in changes.vanished if i.agent_id}
    )
    for identity, before, after in drift:
        agent = agents.get(identity.agent_id)
        if agent is None or agent.is_retired:
            continue
        _drift_review(actor, agent, identity, before, after, run)
    for identity in changes.vanished:
        agent = agents.get(identity.agent_id) if identity.agent_id else None
        if agent is None or agent.is_retired:
            continue
        _review_once(
            actor,
            agent,
            VANISHED_CODE,
            f"Discovery no longer finds its identity {identity.external_id} in "
            f"{run.source} (run of {timezone.localtime(run.created_at):%Y-%m-%d %H:%M}): "
            "retire the agent if it is gone.",
        )
    return run


def _label(signal: str) -> str:
    return discovery.SIGNAL_LABELS.get(signal, signal).lower()


def _drift_review(
    actor: Any,
    agent: Agent,
    identity: DiscoveredIdentity,
    before: list[str],
    after: list[str],
    run: DiscoveryRun,
) -> None:
    gained = [s for s in after if s not in before]
    lost = [s for s in before if s not in after]
    parts = []
    if gained:
        parts.append("now " + ", ".join(_label(s) for s in gained))
    if lost:
        parts.append("no longer " + ", ".join(_label(s) for s in lost))
    what = "; ".join(parts) or "its grants differ from the previous run"
    files = ", ".join(f["name"] for f in run.files_summary)
    _review_once(
        actor,
        agent,
        DRIFT_CODE,
        f"Evidence changed (discovery of {run.source}, {files}): its identity "
        f"{identity.external_id} changed: {what}.",
    )


def _review_once(actor: Any, agent: Agent, code: str, detail: str) -> Review | None:
    open_review = Review.objects.open().filter(agent=agent).first()
    if open_review and any(
        isinstance(r, dict) and r.get("detail") == detail for r in open_review.reasons
    ):
        return None
    return trigger_review(agent, [{"code": code, "detail": detail}], actor=actor)


__all__ = [
    "MAX_FILES",
    "MAX_REASON",
    "PLATFORMS",
    "TRIAGE_ACTIONS",
    "VANISHED_CODE",
    "BulkOutcome",
    "Plan",
    "Registered",
    "bulk_triage",
    "content_hash",
    "decommission_allowed",
    "decommission_identity",
    "dismiss_decommission",
    "keep_as_machine",
    "parse_files",
    "plan",
    "read_discovery_run",
    "reconcile",
    "register_identity",
    "reopen_triage",
    "start_discovery",
    "store_run",
    "unused_days",
]
