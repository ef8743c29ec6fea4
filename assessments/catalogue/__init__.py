"""The catalogue in the web app: versions, locks, copies, and conditions in plain English.

A catalogue version is *locked* once any assessment that is not a draft was decided
under it: those records must keep rendering as they were decided, so its frameworks,
items, controls, mappings and notes no longer change. Administrators copy it as a new
version, edit the copy and make that current (``actions.copy_catalogue_version``,
``actions.make_catalogue_current``).

The package also holds the admin's behaviour for catalogue versions (``admin``). The
bundled YAML it loads lives in ``assessments/catalog/``.

May import: the models, the engine, ``records``, ``workflow`` and the actions (the
admin's copies and locks go through them); never the views or the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from assessments import engine
from assessments.engine.terms import DERIVED_FACT_NAMES
from assessments.models import (
    Assessment,
    CatalogueVersion,
    Control,
    ControlMapping,
    Framework,
    FrameworkItem,
    ReferenceNote,
)
from assessments.workflow import decisions

VERSION_MAX_LENGTH = CatalogueVersion._meta.get_field("version").max_length or 32
_COPY_SUFFIX = re.compile(r"-copy-\d+\Z")


# --------------------------------------------------------------------------- versions and locks


def versions_with_counts() -> QuerySet[CatalogueVersion]:
    """Every version, newest first, with how many assessments were made under it."""
    drafts = Q(assessments__status=Assessment.Status.DRAFT)
    return CatalogueVersion.objects.annotate(
        assessment_count=Count("assessments"),
        decided_count=Count("assessments", filter=~drafts),
        approved_count=Count(
            "assessments", filter=Q(assessments__status=Assessment.Status.APPROVED)
        ),
        draft_count=Count("assessments", filter=drafts),
    ).order_by("-created_at", "-pk")


def versions_counted(counts: Mapping[str, Mapping[str, int]]) -> list[CatalogueVersion]:
    """Every version, newest first, with the counts of ``versions_with_counts`` taken
    from ``counts`` (``portfolio.catalogue_counts``, kept in the dashboard's snapshot)
    instead of counting every assessment again."""
    out = list(CatalogueVersion.objects.order_by("-created_at", "-pk"))
    for version in out:
        c = counts.get(str(version.pk), {})
        version.assessment_count = c.get("assessments", 0)  # type: ignore[attr-defined]
        version.decided_count = c.get("decided", 0)  # type: ignore[attr-defined]
        version.approved_count = c.get("approved", 0)  # type: ignore[attr-defined]
        version.draft_count = c.get("drafts", 0)  # type: ignore[attr-defined]
    return out


def decided_count(version_id: int | None) -> int:
    """Assessments under this version that are no longer drafts (what locks it)."""
    if version_id is None:
        return 0
    return (
        Assessment.objects.filter(catalogue_id=version_id)
        .exclude(status=Assessment.Status.DRAFT)
        .count()
    )


def is_locked(version_id: int | None) -> bool:
    return decided_count(version_id) > 0


def locked_version_ids() -> set[int]:
    return set(
        Assessment.objects.exclude(status=Assessment.Status.DRAFT)
        .values_list("catalogue_id", flat=True)
        .distinct()
    )


def lock_message(version: CatalogueVersion, count: int | None = None) -> str:
    count = decided_count(version.pk) if count is None else count
    return (
        f"Catalogue {version.version} is locked: {count} assessment"
        f"{'s were' if count != 1 else ' was'} submitted or decided under it, and must keep "
        "rendering as decided. Its frameworks, items, controls, mappings and notes are "
        "read-only. To change them, use “Copy as a new version” on the catalogue versions "
        "page, edit the copy, then make it current."
    )


def next_copy_version(source: str, taken: Iterable[str] | None = None) -> str:
    """A free version string for a copy of ``source``: ``2026.1-copy-1``, ``-copy-2``, ..."""
    existing = set(
        taken if taken is not None else CatalogueVersion.objects.values_list("version", flat=True)
    )
    base = _COPY_SUFFIX.sub("", source)
    number = 1
    while True:
        suffix = f"-copy-{number}"
        candidate = base[: VERSION_MAX_LENGTH - len(suffix)] + suffix
        if candidate not in existing:
            return candidate
        number += 1


def check_version_string(version: str) -> str:
    """A new version string, stripped; ValueError says what is wrong with it."""
    version = (version or "").strip()
    if not version:
        raise ValueError("A catalogue version needs a version string, such as 2026.2.")
    if len(version) > VERSION_MAX_LENGTH:
        raise ValueError(
            f"The version string {version!r} is {len(version)} characters long; "
            f"at most {VERSION_MAX_LENGTH}."
        )
    if any(ch.isspace() or not ch.isprintable() for ch in version):
        raise ValueError(f"The version string {version!r} must not contain spaces.")
    if CatalogueVersion.objects.filter(version__iexact=version).exists():
        raise ValueError(
            f"Catalogue version {version!r} already exists. Versions are never overwritten: "
            "choose a new version string."
        )
    return version


# --------------------------------------------------------------------------- checking rows


def check_rows(data: Mapping[str, Any]) -> None:
    """Refuse data the database would truncate or reject (lengths, slugs, URLs).

    ``data`` is the engine's dict shape, already checked by ``engine.Catalogue.from_dict``
    (which owns consistency: unknown facts, dangling mappings, duplicates).
    """

    def check(instance: Any, where: str, exclude: Sequence[str]) -> None:
        try:
            instance.clean_fields(exclude=list(exclude))
        except ValidationError as exc:
            problems = "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()
            )
            raise engine.CatalogueError(f"{where}: {problems}") from None

    check(CatalogueVersion(version=str(data["version"])), "Catalogue version", ["notes"])
    for fw in data["frameworks"]:
        framework = Framework(
            key=fw["key"],
            name=fw["name"],
            short_name=fw.get("short_name") or fw["name"],
            version=fw.get("version") or "",
            publisher=fw.get("publisher") or "",
            url=fw.get("url") or "",
            notes=list(fw.get("notes") or []),
        )
        check(framework, f"Framework {fw['key']!r}", ["catalogue"])
        for item in fw["items"]:
            check(
                FrameworkItem(item_id=item["id"], title=item["title"]),
                f"Framework {fw['key']!r} item {item['id']!r}",
                ["framework", "parent"],
            )
    for ctl in data["controls"]:
        control = Control(
            control_id=ctl["id"],
            title=ctl["title"],
            description=ctl.get("description") or "",
            applies_when=ctl.get("applies_when") or [],
            in_place_when=ctl.get("in_place_when") or [],
            gap_when=ctl.get("gap_when") or [],
        )
        check(control, f"Control {ctl['id']!r}", ["catalogue"])
        for m in ctl.get("mappings") or []:
            check(
                ControlMapping(justification=m["justification"]),
                f"Control {ctl['id']!r} mapping to {m['framework']} {m['item']}",
                ["control", "item"],
            )
    for note in data.get("reference_notes") or []:
        check(
            ReferenceNote(
                cited=note["cited"], verdict=note["verdict"], status=note.get("status", "invalid")
            ),
            f"Reference note {note['cited']!r}",
            ["catalogue"],
        )


def counts_for(version: CatalogueVersion) -> dict[str, int]:
    """How much a stored version holds (the same keys as :func:`summary`)."""
    return {
        "frameworks": version.frameworks.count(),
        "items": FrameworkItem.objects.filter(framework__catalogue=version).count(),
        "controls": version.controls.count(),
        "mappings": ControlMapping.objects.filter(control__catalogue=version).count(),
        "reference_notes": version.reference_notes.count(),
    }


def summary(data: Mapping[str, Any]) -> dict[str, int]:
    """How much a catalogue holds, for messages and audit events."""
    return {
        "frameworks": len(data["frameworks"]),
        "items": sum(len(fw["items"]) for fw in data["frameworks"]),
        "controls": len(data["controls"]),
        "mappings": sum(len(c.get("mappings") or []) for c in data["controls"]),
        "reference_notes": len(data.get("reference_notes") or []),
    }


# --------------------------------------------------------------------------- conditions


# How a value reads after "is", where the questionnaire's option label does not read well
# there (the labels answer a question; here they complete a sentence).
_VALUE_WORDS: dict[str, dict[Any, str]] = {
    "decision_mode": {"model_assisted": "model-assisted"},
    "tool_selection": {
        "none": "none",
        "fixed": "fixed",
        "chooses_from_allowlist": "chooses from an allow-list",
        "discovers_dynamically": "discovers tools at runtime",
    },
    "human_approval": {"none": "none"},
    "orchestration": {
        "standalone": "standalone",
        "orchestrates_agents": "orchestrates other agents",
        "orchestrated_by_agent": "orchestrated by another agent",
        "peer_mesh": "a peer mesh",
    },
    "classification": {"agent_identity": "agent identity", "machine_identity": "machine identity"},
}
# Derived yes/no facts, as a sentence for each value.
_DERIVED_SENTENCES: dict[str, tuple[str, str]] = {
    "has_write_system": (
        "it has a system with write or admin access",
        "it has no system with write or admin access",
    ),
    "has_admin_system": (
        "it has a system with admin access",
        "it has no system with admin access",
    ),
    "orchestrated": (
        "it works with other agents (orchestration or linked agents)",
        "it is standalone",
    ),
}
_FACT_NAMES: dict[str, str] = {"classification": "the class"}


def _first_lower(label: str) -> str:
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _value_word(fact: str, value: Any) -> str:
    words = _VALUE_WORDS.get(fact, {})
    if value in words and not isinstance(value, bool):
        return words[value]
    if value is True:
        return "yes"
    if value is False:
        return "no"
    try:
        question = decisions.questionnaire().question(fact)
    except (KeyError, LookupError):
        question = None
    if question is not None:
        for option in question.options:
            if option.value == value:
                return _first_lower(option.label)
    return str(value).replace("_", " ")


def _either(words: Sequence[str]) -> str:
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} or {words[-1]}"


def term_text(fact: str, values: Sequence[Any]) -> str:
    """One fact test in words: ``credential model is workload identity or per-task tokens``."""
    booleans = all(isinstance(v, bool) for v in values)
    if booleans and len(set(values)) == 1:
        value = values[0]
        if fact in _DERIVED_SENTENCES:
            return _DERIVED_SENTENCES[fact][0 if value else 1]
        if fact in engine.FLAG_IDS:
            name = fact.replace("_", " ")
            return f"the {name} flag fired" if value else f"the {name} flag did not fire"
    name = _FACT_NAMES.get(fact, fact.replace("_", " "))
    return f"{name} is {_either([_value_word(fact, v) for v in values])}"


# The order facts are read in: the class first, then the questionnaire's order, then the
# derived facts and flags. PostgreSQL's jsonb does not keep a clause's key order, so the
# text must not depend on it.
_FACT_ORDER = {
    fact: rank
    for rank, fact in enumerate(
        ("classification", *engine.ANSWER_KEYS, *DERIVED_FACT_NAMES, *engine.FLAG_IDS)
    )
}


def clause_text(clause: Mapping[str, Sequence[Any]]) -> str:
    """All the tests of one clause, joined: they must all hold."""
    ordered = sorted(clause.items(), key=lambda item: (_FACT_ORDER.get(item[0], 999), item[0]))
    return ", and ".join(term_text(fact, list(values)) for fact, values in ordered)


def condition_texts(condition: Sequence[Mapping[str, Sequence[Any]]] | None) -> list[str]:
    """One sentence per clause; the condition holds when any clause does."""
    return [clause_text(clause) for clause in condition or ()]


def condition_text(condition: Sequence[Mapping[str, Sequence[Any]]] | None) -> str:
    """The whole condition as one sentence (``...; or ...``); empty when there is none."""
    return "; or ".join(condition_texts(condition))
