"""Backup and restore: the whole database as one versioned JSON document.

The export holds every record the app keeps, with its primary key (audit events name
objects by id, and their MACs cover those ids), including the audit log and its
checkpoints, users (with password hashes: keep the file as safe as the database) and the
catalogue. It leaves out what is rebuilt or transient: sessions, content types and
permissions (referred to by natural key), and background task results.

An import goes only into a database that holds nothing yet but what ``migrate`` puts
there (role groups and the shipped catalogue, which the import replaces), at the same
schema, in one transaction; the audit log then verifies as it did at the source, with
the same AUDIT_KEY/AUDIT_KEYS.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.apps import apps
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.db import DatabaseError, connection, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from assessments.records import audit

FORMAT = "agent-identity-assessor/export"
VERSION = 1
# Apps whose data is exported, and models of theirs that are not.
# allauth's apps hold second factors and single sign-on links: they are people's data too.
APPS = ("auth", "admin", "account", "socialaccount", "mfa", "assessments")
# The stored portfolio figures are derived: a restore queues their computation again.
LEFT_OUT = {"auth.permission", "assessments.usersession", "assessments.portfoliosnapshot"}
# Rows that migrate creates in a new database; an import replaces them.
SEEDED = {
    "auth.group",
    "assessments.catalogueversion",
    "assessments.framework",
    "assessments.frameworkitem",
    "assessments.control",
    "assessments.controlmapping",
    "assessments.referencenote",
}


class BackupError(Exception):
    """The file or the target database is not fit for an import; nothing was changed."""


def exported_models() -> list[type[models.Model]]:
    """Models in an order where everything a row refers to comes before it."""
    app_list = [
        (config, [m for m in config.get_models() if _label(m) not in LEFT_OUT])
        for config in apps.get_app_configs()
        if config.label in APPS
    ]
    return serializers.sort_dependencies(app_list, allow_cycles=True)


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def _schema() -> list[str]:
    """The applied migrations of the exported apps: an import needs the same."""
    applied = MigrationRecorder(connection).applied_migrations()
    return sorted(f"{app}.{name}" for app, name in applied if app in {*APPS, "contenttypes"})


class _Encoder(json.JSONEncoder):
    # Full microseconds: Django's encoder cuts datetimes to milliseconds, which would
    # change the audit events' canonical form and so their MACs.
    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.date | dt.time):
            return o.isoformat()
        return super().default(o)


def export_data(out: IO[str]) -> dict[str, int]:
    """Write the export to ``out``; return the number of rows per model."""
    counts: dict[str, int] = {}
    header = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "schema": _schema(),
    }
    fresh = not connection.in_atomic_block
    with transaction.atomic():
        # One consistent snapshot: PostgreSQL needs REPEATABLE READ for it across queries
        # (settable only as a transaction's first statement); SQLite's transaction is one.
        if connection.vendor == "postgresql" and fresh:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        out.write(json.dumps(header, indent=1)[:-2] + ',\n "objects": [\n')
        first = True
        for model in exported_models():
            counts[_label(model)] = 0
            for record in _serialised(model):
                out.write(("" if first else ",\n") + json.dumps(record, cls=_Encoder))
                first = False
                counts[_label(model)] += 1
        out.write("\n ]\n}\n")
    return counts


def _serialised(model: type[models.Model]) -> Iterator[dict[str, Any]]:
    queryset = model._default_manager.order_by("pk")
    for start in range(0, queryset.count(), 2000):
        yield from serializers.serialize(
            "python",
            queryset[start : start + 2000],
            use_natural_foreign_keys=True,
        )


@dataclass(frozen=True)
class ImportOutcome:
    counts: dict[str, int]
    sha256: str
    chain: audit.ChainReport


def read_export(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BackupError("The file is not JSON: it is not an export of this app.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError("The file is not an export of Agent Identity Assessor.")
    if data.get("version") != VERSION:
        raise BackupError(
            f"The export is format version {data.get('version')!r}; this app reads version "
            f"{VERSION}."
        )
    if not isinstance(data.get("objects"), list) or not isinstance(data.get("schema"), list):
        raise BackupError("The export is incomplete: its objects or schema are missing.")
    return data


_restoring: contextvars.ContextVar[bool] = contextvars.ContextVar("restoring", default=False)


def restoring() -> bool:
    """True while an export is being loaded: signal handlers that record history (audit
    events) stand aside, the rows arrive as they were."""
    return _restoring.get()


def import_data(raw: bytes) -> ImportOutcome:
    """Load an export into an empty database, all or nothing."""
    data = read_export(raw)
    here = _schema()
    if data["schema"] != here:
        missing = sorted(set(data["schema"]) - set(here))
        extra = sorted(set(here) - set(data["schema"]))
        raise BackupError(
            "The export was made at a different schema version: migrate this database (or "
            "the source) to the same release first. "
            + (f"Not applied here: {', '.join(missing[:5])}. " if missing else "")
            + (f"Not applied at the source: {', '.join(extra[:5])}." if extra else "")
        )
    exported = exported_models()
    known = {_label(m) for m in exported}
    if held := _held(exported):
        raise BackupError(
            f"This database is not empty: it holds {held}. Import only into a new database "
            "on which migrate has run, and nothing else."
        )
    counts: dict[str, int] = {}
    try:
        with transaction.atomic():
            # What migrate seeded is replaced by the export's own copy (same ids as there).
            for model in reversed(exported):
                if _label(model) in SEEDED:
                    models.QuerySet.delete(model._default_manager.all())
            deferred = []
            token = _restoring.set(True)
            try:
                for obj in serializers.deserialize(
                    "python", _objects(data["objects"], known), handle_forward_references=True
                ):
                    obj.save()
                    if obj.deferred_fields:
                        deferred.append(obj)
                    label = _label(type(obj.object))
                    counts[label] = counts.get(label, 0) + 1
                for obj in deferred:
                    obj.save_deferred_fields()
            finally:
                _restoring.reset(token)
            _reset_sequences(exported)
            sha256 = hashlib.sha256(raw).hexdigest()
            audit.record(
                "data.import",
                actor_label="system",
                object_repr="export of " + str(data.get("exported_at", ""))[:40],
                changes={"sha256": sha256, "rows": sum(counts.values())},
            )
            # Verified inside the transaction: a log (or an approved assessment) that does
            # not verify rolls the whole load back.
            chain = audit.verify_chain()
            if not chain.ok:
                raise _Unverified(chain)
    except _Unverified as refused:
        raise BackupError(
            "The audit log of the export does not verify, so nothing was loaded: "
            + refused.chain.summary()
            + " "
            + "; ".join(str(finding) for finding in refused.chain.findings[:5])
            + " ".join(refused.chain.unverifiable)
        ) from None
    except (DeserializationError, DatabaseError, LookupError, TypeError, ValueError) as exc:
        raise BackupError(f"The export could not be loaded, and nothing was: {exc}") from exc
    return ImportOutcome(counts, sha256, chain)


class _Unverified(Exception):
    def __init__(self, chain: audit.ChainReport) -> None:
        super().__init__(chain.summary())
        self.chain = chain


def _objects(objects: list[Any], known: set[str]) -> Iterator[dict[str, Any]]:
    for record in objects:
        if not isinstance(record, dict) or str(record.get("model", "")).lower() not in known:
            raise BackupError(f"The export holds a record this app does not keep: {record!r:.80}")
        yield record


def _held(exported: list[type[models.Model]]) -> str:
    held = []
    for model in exported:
        if _label(model) in SEEDED:
            continue
        if n := model._default_manager.count():
            held.append(
                f"{n} {model._meta.verbose_name if n == 1 else model._meta.verbose_name_plural}"
            )
    catalogue = apps.get_model("assessments", "CatalogueVersion")
    if (n := catalogue.objects.count()) > 1:
        held.append(f"{n} catalogue versions")
    return ", ".join(held)


def _reset_sequences(exported: list[type[models.Model]]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), exported)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
