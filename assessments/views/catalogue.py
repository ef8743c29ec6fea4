"""The control catalogue: frameworks, controls, conditions, mappings, and their versions."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.db import models
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET

from assessments import catalogue as versions
from assessments import portfolio
from assessments.access.roles import permission_required
from assessments.models import (
    CatalogueVersion,
    Control,
    ControlMapping,
    Framework,
    FrameworkItem,
)
from assessments.portfolio import stored as stored_figures
from assessments.views.common import HtmxHttpRequest


class VersionForm(forms.Form):
    # CharField refuses NUL characters, which some databases cannot even compare.
    version = forms.CharField(required=False, max_length=versions.VERSION_MAX_LENGTH)


@dataclass
class ItemNode:
    item: FrameworkItem
    controls: list[str]
    children: list[ItemNode] = field(default_factory=list)


@dataclass
class FrameworkView:
    framework: Framework
    items: list[FrameworkItem]
    roots: list[ItemNode]
    is_tree: bool
    mapped_count: int


@dataclass
class Condition:
    label: str
    field: str
    clauses: list[str]
    data: str  # the condition as stored, in JSON

    @property
    def css(self) -> str:
        return self.field.removesuffix("_when").replace("_", "-")


CONDITIONS = (
    ("Applies when", "applies_when"),
    ("In place when", "in_place_when"),
    ("Gap when", "gap_when"),
)


def _strict(qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """Lazy loads raise in tests and development, so an N+1 cannot slip in."""
    return qs.fetch_mode(models.FETCH_RAISE if settings.STRICT_FETCH else models.FETCH_PEERS)


@permission_required("assessments.view_catalogueversion")
@require_GET
def catalogue(request: HtmxHttpRequest) -> HttpResponse:
    # Counting every assessment under each version is the one part of this page that
    # grows with the portfolio: the counts come from the dashboard's snapshot.
    # Before the first computation (a fresh install), the page counts them itself: one
    # grouped count on the (catalogue, status) index.
    today = timezone.localdate()
    stored = stored_figures.read(today)
    all_versions = versions.versions_counted(
        stored.figures["catalogue"] if stored.ready else portfolio.catalogue_counts()
    )
    current = next((v for v in all_versions if v.is_current), None)
    form = VersionForm(request.GET)
    selected: CatalogueVersion | None
    if not request.GET.get("version", "").strip():
        selected = current or next(iter(all_versions), None)
    elif form.is_valid():
        wanted = form.cleaned_data["version"]
        selected = next((v for v in all_versions if v.version == wanted), None)
    else:
        selected = None  # too long or unreadable: no version has that name
    context: dict[str, Any] = {
        "versions": all_versions,
        "selected": selected,
        "asked": (request.GET.get("version") or "")[: versions.VERSION_MAX_LENGTH + 1],
        "current": current,
        "stored": stored if stored.ready else None,  # "as of ..." when read from it
        "today": today,
    }
    status = 200
    if selected is not None:
        context.update(_lazy_version_context(selected))
    elif all_versions:
        status = 404  # the page lists the versions there are
    template = "assessments/catalogue.html"
    if request.htmx and request.htmx.target == "catalogue-content":
        template += "#content"
    return render(request, template, context, status=status)


VERSION_KEYS = (
    "controls",
    "frameworks",
    "notes",
    "invalid_notes",
    "valid_notes",
    "mapping_count",
    "item_count",
)


def _lazy_version_context(version: CatalogueVersion) -> dict[str, Any]:
    """The version's controls, frameworks and notes, read only if the template asks.

    The page caches what it renders from them per version and ``updated_at`` (which
    every catalogue edit bumps), so most requests read none of it."""

    def build() -> dict[str, Any]:
        return _version_context(version)

    built = functools.cache(build)

    def part(key: str) -> SimpleLazyObject:
        return SimpleLazyObject(lambda: built()[key])

    return {key: part(key) for key in VERSION_KEYS}


def _version_context(version: CatalogueVersion) -> dict[str, Any]:
    mappings = ControlMapping.objects.select_related("item__framework").order_by(
        "item__framework__position", "item__position", "pk"
    )
    controls = list(
        _strict(
            Control.objects.filter(catalogue=version)
            .order_by("position", "pk")
            .prefetch_related(Prefetch("mappings", queryset=_strict(mappings)))
        )
    )
    frameworks = list(
        _strict(
            Framework.objects.filter(catalogue=version)
            .order_by("position", "pk")
            .prefetch_related(
                Prefetch("items", queryset=_strict(FrameworkItem.objects.order_by("position")))
            )
        )
    )
    notes = list(version.reference_notes.order_by("position", "pk"))

    mapped_by: dict[int, list[str]] = {}
    control_rows = []
    for control in controls:
        rows = list(control.mappings.all())
        for m in rows:
            mapped_by.setdefault(m.item_id, []).append(control.control_id)
        control_rows.append(
            {
                "control": control,
                "conditions": [
                    Condition(
                        label=label,
                        field=name,
                        clauses=versions.condition_texts(getattr(control, name)),
                        data=json.dumps(getattr(control, name) or []),
                    )
                    for label, name in CONDITIONS
                ],
                "mappings": rows,
                "frameworks_mapped": len({m.item.framework_id for m in rows}),
            }
        )

    framework_views = []
    items_by_key: dict[tuple[str, str], FrameworkItem] = {}
    for fw in frameworks:
        items = list(fw.items.all())
        nodes = {
            item.pk: ItemNode(item=item, controls=mapped_by.get(item.pk, [])) for item in items
        }
        roots: list[ItemNode] = []
        for item in items:
            parent = nodes.get(item.parent_id) if item.parent_id else None
            (parent.children if parent else roots).append(nodes[item.pk])
            items_by_key[(fw.key, item.item_id)] = item
        framework_views.append(
            FrameworkView(
                framework=fw,
                items=items,
                roots=roots,
                is_tree=any(item.parent_id for item in items),
                mapped_count=sum(1 for item in items if item.pk in mapped_by),
            )
        )
    short_names = {fw.key: fw.short_name for fw in frameworks}
    note_rows: list[dict[str, Any]] = [
        {
            "note": note,
            "use": [
                {
                    "framework": short_names.get(fw_key, fw_key),
                    "framework_key": fw_key,
                    "item_id": item_id,
                    "item": items_by_key.get((fw_key, item_id)),
                }
                for fw_key, item_id in note.use or []
            ],
        }
        for note in notes
    ]
    return {
        "controls": control_rows,
        "frameworks": framework_views,
        "notes": note_rows,
        "invalid_notes": [row for row in note_rows if row["note"].status == "invalid"],
        "valid_notes": [row for row in note_rows if row["note"].status != "invalid"],
        "mapping_count": sum(len(row["mappings"]) for row in control_rows),
        "item_count": sum(len(view.items) for view in framework_views),
    }
