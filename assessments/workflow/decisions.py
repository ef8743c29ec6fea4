"""Between the database and the engine.

The engine (``assessments.engine``) knows nothing of Django. This module gives it
what it needs from the database (a catalogue version built from the rows
administrators edit, the agent's systems and linked agents from the inventory) and
evaluates assessments with it. It decides nothing itself.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from django.apps import apps as global_apps
from django.db import transaction
from django.db.models import Prefetch

from assessments import engine
from assessments.models import (
    Agent,
    AgentLink,
    Assessment,
    CatalogueVersion,
    ControlMapping,
    System,
    review_intervals,
)

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
CURRENT_QUESTIONNAIRE = "1"
INVENTORY_KEYS = ("systems", "linked_agents")


# --------------------------------------------------------------------------- questionnaire


@cache
def questionnaire(version: str = CURRENT_QUESTIONNAIRE) -> engine.Questionnaire:
    path = CATALOG_DIR / f"questionnaire-v{version}.yaml"
    if not path.exists():
        raise LookupError(f"Questionnaire version {version} is not installed.")
    return engine.load_questionnaire(path)


def visible_answers(q: engine.Questionnaire, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answers to the questions that apply; hidden follow-ups are kept but not counted."""
    shown = {question.id for question in q.visible_questions(answers)}
    return {k: v for k, v in answers.items() if k in shown and v is not None}


# --------------------------------------------------------------------------- catalogue


def import_catalogue(
    data: Mapping[str, Any], *, make_current: bool = True, apps: Any = None
) -> Any:
    """Store a catalogue (engine dict shape) as a new version. Works in migrations too."""
    apps = apps or global_apps
    get = apps.get_model
    Version = get("assessments", "CatalogueVersion")
    Framework, Item = get("assessments", "Framework"), get("assessments", "FrameworkItem")
    Control, Mapping_ = get("assessments", "Control"), get("assessments", "ControlMapping")
    Note = get("assessments", "ReferenceNote")
    engine.Catalogue.from_dict(data)  # refuses inconsistent data before anything is written
    with transaction.atomic():
        if make_current:
            Version.objects.filter(is_current=True).update(is_current=False)
        version = Version.objects.create(version=str(data["version"]), is_current=make_current)
        items: dict[tuple[str, str], Any] = {}
        # Migrations before 0020 run this with a Framework that has no levels yet.
        has_levels = any(f.name == "levels" for f in Framework._meta.get_fields())
        for f_pos, fw in enumerate(data["frameworks"]):
            levels = {"levels": list(fw.get("levels") or [])} if has_levels else {}
            framework = Framework.objects.create(
                catalogue=version,
                key=fw["key"],
                name=fw["name"],
                short_name=fw.get("short_name") or fw["name"],
                version=fw.get("version", ""),
                publisher=fw.get("publisher", ""),
                url=fw.get("url", ""),
                notes=list(fw.get("notes") or []),
                position=f_pos,
                **levels,
            )
            for i_pos, it in enumerate(fw["items"]):
                items[(fw["key"], it["id"])] = Item.objects.create(
                    framework=framework,
                    item_id=it["id"],
                    title=it["title"],
                    parent=items.get((fw["key"], it.get("parent") or "")),
                    position=i_pos,
                )
        for c_pos, ctl in enumerate(data["controls"]):
            control = Control.objects.create(
                catalogue=version,
                control_id=ctl["id"],
                title=ctl["title"],
                description=ctl["description"],
                applies_when=ctl.get("applies_when") or [],
                in_place_when=ctl.get("in_place_when") or [],
                gap_when=ctl.get("gap_when") or [],
                position=c_pos,
            )
            Mapping_.objects.bulk_create(
                Mapping_(
                    control=control,
                    item=items[(m["framework"], m["item"])],
                    justification=m["justification"],
                )
                for m in ctl.get("mappings") or []
            )
        for n_pos, note in enumerate(data.get("reference_notes") or []):
            Note.objects.create(
                catalogue=version,
                cited=note["cited"],
                verdict=note["verdict"],
                status=note.get("status", "invalid"),
                use=[[u["framework"], u["item"]] for u in note.get("use") or []],
                position=n_pos,
            )
    return version


def catalogue_data(version: CatalogueVersion) -> dict[str, Any]:
    """The rows of one catalogue version, in the engine's dict shape."""
    frameworks = []
    for fw in version.frameworks.order_by("position").prefetch_related("items__parent"):
        frameworks.append(
            {
                "key": fw.key,
                "name": fw.name,
                "short_name": fw.short_name,
                "version": fw.version,
                "publisher": fw.publisher,
                "url": fw.url,
                "notes": list(fw.notes or []),
                "levels": list(fw.levels or []),
                "items": [
                    {"id": it.item_id, "title": it.title}
                    | ({"parent": it.parent.item_id} if it.parent else {})
                    for it in sorted(fw.items.all(), key=lambda i: i.position)
                ],
            }
        )
    controls = []
    mappings = ControlMapping.objects.order_by("pk").select_related("item__framework")
    for ctl in version.controls.order_by("position").prefetch_related(
        Prefetch("mappings", queryset=mappings)
    ):
        controls.append(
            {
                "id": ctl.control_id,
                "title": ctl.title,
                "description": ctl.description,
                "applies_when": ctl.applies_when,
                "in_place_when": ctl.in_place_when,
                "gap_when": ctl.gap_when,
                "mappings": [
                    {
                        "framework": m.item.framework.key,
                        "item": m.item.item_id,
                        "justification": m.justification,
                    }
                    for m in ctl.mappings.all()
                ],
            }
        )
    notes = [
        {"cited": n.cited, "status": n.status, "verdict": n.verdict}
        | ({"use": [{"framework": f, "item": i} for f, i in n.use]} if n.use else {})
        for n in version.reference_notes.order_by("position")
    ]
    return {
        "version": version.version,
        "frameworks": frameworks,
        "controls": controls,
        "reference_notes": notes,
    }


_compiled: dict[int, tuple[Any, engine.Catalogue]] = {}
_compiled_lock = threading.Lock()


def engine_catalogue(version: CatalogueVersion) -> engine.Catalogue:
    """The compiled engine catalogue for a version, rebuilt when its rows change."""
    stamp = version.updated_at
    cached = _compiled.get(version.pk)
    if cached and cached[0] == stamp:
        return cached[1]
    built = engine.Catalogue.from_dict(catalogue_data(version))
    with _compiled_lock:
        _compiled[version.pk] = (stamp, built)
    return built


def current_catalogue() -> CatalogueVersion:
    version = CatalogueVersion.objects.filter(is_current=True).first()
    if version is None:
        raise LookupError("No catalogue is installed. Run: python manage.py load_catalog")
    return version


# --------------------------------------------------------------------------- evaluation


def inventory_answers(agent: Agent) -> dict[str, Any]:
    """Systems and linked agents (each with its own systems) as the engine reads them."""
    systems = [
        {"name": name, "access": access}
        for name, access in System.objects.filter(agent=agent)
        .order_by("name")
        .values_list("name", "access")
    ]
    linked_ids = set(
        AgentLink.objects.filter(source=agent).values_list("target_id", flat=True)
    ) | set(AgentLink.objects.filter(target=agent).values_list("source_id", flat=True))
    linked: dict[int, dict[str, Any]] = {
        pk: {"slug": slug, "systems": []}
        for pk, slug in Agent.objects.filter(pk__in=linked_ids).values_list("pk", "slug")
    }
    for agent_id, name, access in (
        System.objects.filter(agent_id__in=linked)
        .order_by("name")
        .values_list("agent_id", "name", "access")
    ):
        linked[agent_id]["systems"].append({"name": name, "access": access})
    return {
        "systems": systems,
        "linked_agents": sorted(linked.values(), key=lambda row: row["slug"]),
    }


def effective_answers(
    assessment: Assessment, inventory: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What the engine is given: frozen answers once submitted; for a draft, the
    stored answers with systems and linked agents read live from the inventory
    (``inventory``, when the caller has already read it)."""
    stored = dict(assessment.answers or {})
    if assessment.status in Assessment.EDITABLE_STATUSES:
        stored.update(inventory if inventory is not None else inventory_answers(assessment.agent))
    q = questionnaire(assessment.questionnaire_version)
    answers = visible_answers(q, stored)
    # The inventory is a fact, not an answer: its links count even when the answers say
    # "standalone" (the wizard points the contradiction out).
    for key in INVENTORY_KEYS:
        if key in stored:
            answers[key] = stored[key]
    return answers


def evaluate_answers(answers: Mapping[str, Any], catalogue: CatalogueVersion) -> engine.Result:
    return engine.evaluate(
        answers, review_intervals=review_intervals(), catalogue=engine_catalogue(catalogue)
    )


def evaluate_assessment(assessment: Assessment) -> engine.Result:
    return evaluate_answers(effective_answers(assessment), assessment.catalogue)


def systems_by_slug(slugs: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """Inventory systems of the agents with these slugs (a manifest's linked agents).

    Agents the inventory does not have are left out; one that has no systems maps to [].
    """
    found: dict[str, list[dict[str, str]]] = {
        slug: [] for slug in Agent.objects.filter(slug__in=slugs).values_list("slug", flat=True)
    }
    for slug, name, access in (
        System.objects.filter(agent__slug__in=found)
        .order_by("agent__slug", "name")
        .values_list("agent__slug", "name", "access")
    ):
        found[slug].append({"name": name, "access": access})
    return found
