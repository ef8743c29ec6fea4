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
        return ", ".join(labels.get(form_value(v), str(v)) for v in value) or "None"
    return labels.get(form_value(value), str(value))


def panel_context(
    result: engine.Result,
    q: engine.Questionnaire,
    catalogue: engine.Catalogue | None = None,
    from_evidence: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The decision panel: the live one in the wizard, the frozen one on the assessment
    page, and the same facts in the PDF. ``catalogue`` names the frameworks;
    ``from_evidence`` (``provenance.answers_from_evidence``) marks the answers that
    came from evidence files."""
    labels = {question.id: question.prompt for question in q.questions}
    from_evidence = from_evidence or {}
    evidence = {
        name: [
            {
                "key": e["key"],
                "value": display_value(q.question(e["key"]), e["value"])
                if e["key"] in labels
                else str(e["value"]),
                "from_evidence": e["key"] in from_evidence,
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
        "from_evidence": [
            {
                **item,
                "prompt": labels.get(key, key),
                "display": display_value(q.question(key), item["value"])
                if key in labels
                else str(item["value"]),
            }
            for key, item in from_evidence.items()
        ],
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


# Control characters (CR, LF, NUL, ESC ...) and the Unicode line and paragraph
# separators: a value with one of these could add a header to an e-mail or forge a
# line of its body.
_CONTROL = dict.fromkeys([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029], " ")


def one_line(value: Any) -> str:
    """``value`` as one line of plain text: control characters become spaces, and runs
    of spaces one space. Every value placed in an e-mail's subject or body goes through
    this."""
    return " ".join(str(value if value is not None else "").translate(_CONTROL).split())
