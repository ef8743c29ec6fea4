"""Catalogue actions: load, copy and make current a catalogue version."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from assessments import engine
from assessments.actions.errors import ActionError
from assessments.records import audit
from assessments.workflow import decisions

# --------------------------------------------------------------------------- catalogue
# (The catalogue section imports what it needs in each function, so that it stays an
# append-only block of this shared module.)


@transaction.atomic
def load_catalogue_version(
    actor: Any,
    data: Any,
    *,
    make_current: bool = False,
    source: str = "",
    request: HttpRequest | None = None,
) -> Any:
    """Store catalogue data (the YAML's shape) as a new version, never over an old one.

    The first version installed becomes current even without ``make_current``: without
    a current version no assessment can start.
    """
    from assessments import catalogue as versions
    from assessments.models import CatalogueVersion

    if not isinstance(data, dict):
        raise ActionError("The catalogue file must hold a mapping with version, frameworks, …")
    try:
        normalised = engine.Catalogue.from_dict(data).to_dict()
        versions.check_rows(normalised)
        versions.check_version_string(normalised["version"])
    except (engine.CatalogueError, ValueError) as exc:
        raise ActionError(str(exc)) from exc
    had_current = CatalogueVersion.objects.filter(is_current=True).exists()
    try:
        with transaction.atomic():
            version = decisions.import_catalogue(normalised, make_current=False)
    except IntegrityError as exc:  # someone loaded the same version string just now
        raise ActionError(f"Catalogue version {normalised['version']!r} already exists.") from exc
    audit.record(
        "catalogue.load",
        actor=actor,
        obj=version,
        request=request,
        changes={"version": version.version, "source": source, **versions.summary(normalised)},
    )
    if make_current or not had_current:
        make_catalogue_current(actor, version, request=request)
        version.refresh_from_db()
    return version


@transaction.atomic
def copy_catalogue_version(
    actor: Any,
    source: Any,
    *,
    new_version: str = "",
    request: HttpRequest | None = None,
) -> Any:
    """Deep-copy a version (frameworks, items, controls, mappings, notes) under a new
    version string, not current, so it can be edited and then made current."""
    from assessments import catalogue as versions
    from assessments.models import CatalogueVersion

    source = CatalogueVersion.objects.get(pk=source.pk)
    try:
        wanted = versions.check_version_string(
            new_version or versions.next_copy_version(source.version)
        )
        data = {**decisions.catalogue_data(source), "version": wanted}
        engine.Catalogue.from_dict(data)
        versions.check_rows(data)
    except (engine.CatalogueError, ValueError) as exc:
        raise ActionError(f"Catalogue {source.version} cannot be copied: {exc}") from exc
    try:
        with transaction.atomic():
            copy = decisions.import_catalogue(data, make_current=False)
    except IntegrityError as exc:
        raise ActionError(f"Catalogue version {wanted!r} already exists.") from exc
    copy.notes = f"Copied from catalogue {source.version}." + (
        f"\n\n{source.notes}" if source.notes else ""
    )
    copy.save(update_fields=["notes", "updated_at"])
    audit.record(
        "catalogue.copy",
        actor=actor,
        obj=copy,
        request=request,
        changes={"from": source.version, "version": copy.version, **versions.summary(data)},
    )
    return copy


@transaction.atomic
def make_catalogue_current(actor: Any, version: Any, *, request: HttpRequest | None = None) -> Any:
    """Make ``version`` the one current catalogue: new assessments are decided under it.

    Assessments already started keep the version they started with.
    """
    from assessments.models import CatalogueVersion

    # Lock every version row, so two administrators cannot both make one current.
    rows = {
        v.pk: v for v in CatalogueVersion.objects.select_for_update(of=("self",)).order_by("pk")
    }
    target = rows.get(version.pk)
    if target is None:
        raise ActionError("That catalogue version no longer exists.")
    if target.is_current:
        raise ActionError(f"Catalogue {target.version} is already the current version.")
    try:
        built = engine.Catalogue.from_dict(decisions.catalogue_data(target))
    except engine.CatalogueError as exc:
        raise ActionError(f"Catalogue {target.version} cannot be made current: {exc}") from exc
    if not built.controls:
        raise ActionError(
            f"Catalogue {target.version} has no controls, so it cannot be made current."
        )
    previous = next((v for v in rows.values() if v.is_current), None)
    CatalogueVersion.objects.filter(is_current=True).update(is_current=False)
    CatalogueVersion.objects.filter(pk=target.pk).update(is_current=True)
    target.is_current = True
    audit.record(
        "catalogue.make_current",
        actor=actor,
        obj=target,
        request=request,
        changes={"current": {"old": previous.version if previous else None, "new": target.version}},
    )
    return target
