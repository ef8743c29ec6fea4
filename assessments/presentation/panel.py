"""The wizard's live panel: answers as shown, signal states, pending evidence proposals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assessments import engine

from .summary import headline
from .vocabulary import display_value, why, words

# The answers each signal reads (decision-model.md, "Signals").
SIGNAL_INPUTS: dict[str, tuple[str, ...]] = {
    "runtime_decisions": (
        "decision_mode",
        "tool_selection",
        "crosses_environments",
        "calls_external_apis",
        "hybrid_pipeline",
        "model_steps_self_direct",
    ),
    "per_task_access": ("decides_own_scopes",),
    "unattended_reach": ("systems", "human_approval"),
    "traceability": ("traced_identity", "traced_policy_decision", "traced_audit_record"),
    "alters_own_access": ("alters_own_access",),
}
NOT_ANSWERED = "Not answered"
NOT_FULLY_ANSWERED = "Not fully answered"


def signal_word(name: str, value: Any) -> str:
    """A signal's value in words: "Yes"/"No", or the traceability level."""
    if name == "traceability":
        return str(value).capitalize()
    return "Yes" if value is True else "No"


def signal_states(
    result: engine.Result, answers: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """How each signal reads: ``shown`` (words), ``fired``, ``open`` (a missing answer
    could still change it: shown muted, never as the safe value) and ``missing`` (the
    titles of its unanswered questions).

    A signal that has not fired is "No" only when no completion of the missing answers
    could fire it (the rules are monotone, so the worst completion tells); otherwise it
    is "Not answered" (none of its questions answered) or "Not fully answered".
    Traceability counts a missing item as not traced, so with items missing it reads
    "at least" the level the given ones show."""
    missing = set(result.missing)
    worst: engine.Result | None = None
    if answers is not None and missing:
        worst = engine.evaluate(engine.worst_completion(answers, result.missing))
    states: dict[str, dict[str, Any]] = {}
    for name, value in result.signals.items():
        inputs = SIGNAL_INPUTS.get(name, ())
        gone = [k for k in inputs if k in missing]
        titles = [words(k, "question") for k in gone]
        if name == "traceability":
            if len(gone) == len(inputs):
                state = {"shown": NOT_ANSWERED, "fired": False, "open": True}
            elif gone and value != "none":
                state = {"shown": f"At least {value}", "fired": False, "open": True}
            elif gone:
                state = {"shown": NOT_FULLY_ANSWERED, "fired": False, "open": True}
            else:
                state = {"shown": signal_word(name, value), "fired": value != "full", "open": False}
        elif value is True:
            state = {"shown": "Yes", "fired": True, "open": False}
        elif worst is not None and worst.signals.get(name) is not True:
            state = {"shown": "No", "fired": False, "open": False}
        elif gone:
            if answers is not None:
                given = any(answers.get(k) is not None for k in inputs)
            else:
                given = len(gone) < len(inputs)
            shown = NOT_FULLY_ANSWERED if given else NOT_ANSWERED
            state = {"shown": shown, "fired": False, "open": True}
        else:
            state = {"shown": "No", "fired": False, "open": False}
        states[name] = {**state, "missing": titles if state["open"] else []}
    return states


def proposed_answers(answers: Mapping[str, Any], key: str, value: Any) -> dict[str, Any] | None:
    """``answers`` as they would be once a proposal of ``value`` for ``key`` is
    accepted (systems are merged into the inventory, never lowered), or None when
    accepting it would change nothing."""
    if key == "systems":
        rank = {"read": 1, "write": 2, "admin": 3}
        merged = {
            str(s["name"]).lower(): dict(s)
            for s in answers.get("systems") or []
            if isinstance(s, Mapping)
        }
        before = {k: dict(v) for k, v in merged.items()}
        for system in value or []:
            found = merged.get(str(system["name"]).lower())
            if found is None or rank[system["access"]] > rank.get(found["access"], 0):
                merged[str(system["name"]).lower()] = {
                    "name": found["name"] if found else system["name"],
                    "access": system["access"],
                }
        return None if merged == before else {**answers, "systems": list(merged.values())}
    if answers.get(key) == value:
        return None
    return {**answers, key: value}


def proposals_by_signal(
    result: engine.Result,
    q: engine.Questionnaire,
    answers: Mapping[str, Any] | None,
    pending: Sequence[Mapping[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    """Signal -> the pending evidence proposals that would change it once accepted:
    "Evidence proposes Yes, awaiting your decision", with the answer it proposes."""
    found: dict[str, list[dict[str, Any]]] = {}
    if answers is None:
        return found
    for proposal in pending:
        key = proposal["key"]
        after = proposed_answers(answers, key, proposal["value"])
        if after is None:
            continue
        try:
            changed = engine.evaluate(after).signals
        except (KeyError, TypeError, ValueError):
            continue  # a proposal the engine cannot read changes no signal
        try:
            answer = display_value(q.question(key), proposal["value"])
        except KeyError:
            answer = words(proposal["value"])
        for name, value in changed.items():
            if value == result.signals.get(name):
                continue
            found.setdefault(name, []).append(
                {
                    "text": f"Evidence proposes {signal_word(name, value)}, awaiting your decision",
                    "answer": f"{words(key, 'question')}: {answer}",
                    "source": proposal.get("source", ""),
                    "url": proposal.get("url", ""),
                }
            )
    return found


def panel_context(
    result: engine.Result,
    q: engine.Questionnaire,
    catalogue: engine.Catalogue | None = None,
    from_evidence: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    answers: Mapping[str, Any] | None = None,
    pending: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The decision panel: the live one in the wizard, the frozen one on the assessment
    page, and the same facts in the PDF. ``catalogue`` names the frameworks;
    ``from_evidence`` (``provenance.answers_from_evidence``) marks the answers that
    came from evidence files; ``answers`` (what the engine was given) let the headline
    tell whether the tier could rise and a signal whether it is settled; ``pending``
    (``provenance.pending_from_evidence``) are evidence proposals awaiting a decision,
    shown beside the signals they would change."""
    labels = {question.id: question.prompt for question in q.questions}
    from_evidence = from_evidence or {}
    evidence = {
        name: [
            {
                "key": e["key"],
                "title": words(e["key"], "question"),
                "value": display_value(q.question(e["key"]), e["value"])
                if e["key"] in labels
                else words(e["value"]),
                "from_evidence": e["key"] in from_evidence,
            }
            for e in items
        ]
        for name, items in result.evidence.items()
    }
    states = signal_states(result, answers)
    proposed = proposals_by_signal(result, q, answers, pending or ())
    signals = [
        {
            "id": name,
            "title": engine.SIGNAL_TITLES.get(name, name),
            "value": value,
            **states[name],
            "description": engine.SIGNAL_DESCRIPTIONS.get(name, ""),
            "evidence": evidence.get(name, []),
            "proposals": proposed.get(name, []),
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
        "headline": headline(result, answers),
        "why": why(result),
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
