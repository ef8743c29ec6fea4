"""How engine results and answers read to people: shared by pages and PDF reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assessments import engine


def form_value(value: Any) -> str:
    """An answer as a form field carries it ("true"/"false" for booleans)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def display_value(question: engine.Question, value: Any) -> str:
    """An answer in the questionnaire's own words."""
    if value is None:
        return "Not answered"
    labels = {form_value(o.value): o.label for o in question.options}
    if isinstance(value, list):
        if question.type == "systems":
            return ", ".join(f"{s['name']} ({s['access']})" for s in value) or "None"
        if question.type == "agents":
            return ", ".join(a["slug"] if isinstance(a, dict) else a for a in value) or "None"
        return ", ".join(labels.get(form_value(v), str(v)) for v in value) or (
            question.none_option or "None"
        )
    return labels.get(form_value(value), str(value))


def panel_context(
    result: engine.Result,
    q: engine.Questionnaire,
    catalogue: engine.Catalogue | None = None,
) -> dict[str, Any]:
    """The decision panel: the live one in the wizard, the frozen one on the assessment
    page, and the same facts in the PDF. ``catalogue`` names the frameworks."""
    labels = {question.id: question.prompt for question in q.questions}
    evidence = {
        name: [
            {
                "key": e["key"],
                "value": display_value(q.question(e["key"]), e["value"])
                if e["key"] in labels
                else str(e["value"]),
            }
            for e in items
        ]
        for name, items in result.evidence.items()
    }
    signals = [
        {
            "id": name,
            "title": engine.SIGNAL_TITLES.get(name, name),
            "value": value,
            "fired": value is True or (name == "traceability" and value != "full"),
            "description": engine.SIGNAL_DESCRIPTIONS.get(name, ""),
            "evidence": evidence.get(name, []),
        }
        for name, value in result.signals.items()
    ]
    flags = [
        {
            "id": flag,
            "title": engine.FLAG_TITLES.get(flag, flag),
            "description": engine.FLAG_DESCRIPTIONS.get(flag, ""),
            "blocking": flag in engine.BLOCKING_FLAGS,
            "evidence": evidence.get(flag, []),
        }
        for flag in result.flags
    ]
    return {
        "result": result,
        "signals": signals,
        "flags": flags,
        "mappings": _mappings(result.framework_mappings, catalogue),
        "unanswered_prompts": [(k, labels.get(k, k)) for k in result.unanswered],
        "missing_prompts": [(k, labels.get(k, k)) for k in result.missing],
        "gap_count": len(result.gaps),
    }


def _mappings(
    mappings: Mapping[str, tuple[str, ...]], catalogue: engine.Catalogue | None
) -> list[dict[str, Any]]:
    """Framework items the required controls map to, framework by framework."""
    names = {f.key: f.short_name for f in catalogue.frameworks} if catalogue else {}
    return [
        {"key": key, "name": names.get(key, key), "items": list(items)}
        for key, items in mappings.items()
    ]
