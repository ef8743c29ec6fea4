"""How engine results and answers read to people: shared by pages and PDF reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assessments import engine

CLASS_NAMES = {"agent_identity": "Agent identity", "machine_identity": "Machine identity"}
TIER_LABELS = {4: "4 · Critical", 3: "3 · High", 2: "2 · Elevated", 1: "1 · Baseline"}
CLASS_MEANING = {
    "agent_identity": "Govern it as a distinct AI-agent identity: its own workload identity, "
    "short-lived credentials, policy evaluated at request time, per-action audit and "
    "containment.",
    "machine_identity": "Ordinary machine-identity controls are enough: a least-privilege "
    "service account with a named owner, vaulted secrets, access review and activity logging.",
}
# A machine identity at the critical tier: what must be reviewed, never "enough".
TIER4_MACHINE_MEANING = {
    "composite_escalation": "Ordinary machine-identity controls are not enough here: "
    "together with the agents it is linked to, it reaches more systems or higher access "
    "than it does alone. Review the combined privileges of the orchestration (what each "
    "linked agent can reach through it), and contain them, before relying on this class.",
    "containment_breakdown": "Ordinary machine-identity controls are not enough here: it "
    "finds tools at runtime with a broad role or network reach. Review and contain its "
    "tools, role and network reach.",
}
UNDECIDED_MEANING = (
    "Nothing is decided yet: answer the questions that could change the class. A missing "
    "answer is never read as the safe value."
)


@dataclass(frozen=True)
class Headline:
    """What a result says first, on every surface (panel, assessment page, agent list,
    CSV, PDF, ``assess --format text``): one wording, made only here."""

    decided: bool  # False while a missing answer could still change the class
    title: str  # "Undecided — 3 answers could change the class" or the class name
    leaning: str  # secondary: the class the answers given so far lean to ("" if decided)
    tier: str  # "2 · Elevated", or "at least 2 · Elevated" when it could still rise
    tier_at_least: bool
    meaning: str  # what it asks for

    @property
    def text(self) -> str:
        """One line for plain-text surfaces (CSV, the command line)."""
        parts = [self.title]
        if self.leaning:
            parts.append(self.leaning)
        parts.append(f"tier {self.tier}")
        return "; ".join(parts)


def undecided_title(n: int) -> str:
    return f"Undecided — {n} answer{'s' if n != 1 else ''} could change the class"


def headline(result: engine.Result, answers: Mapping[str, Any] | None = None) -> Headline:
    """The headline of ``result``. ``answers`` (what the engine was given) tell whether
    the missing ones could raise the tier; without them a provisional tier below
    critical reads "at least", since a missing answer is never read as the safe value."""
    cls = CLASS_NAMES[result.classification]
    tier_label = TIER_LABELS[result.tier]
    at_least = bool(result.missing) and result.tier < 4
    if at_least and answers is not None:
        at_least = engine.tier_ceiling(answers, result) > result.tier
    tier = f"at least {tier_label}" if at_least else tier_label
    if result.unanswered:
        return Headline(
            decided=False,
            title=undecided_title(len(result.unanswered)),
            leaning=f"The answers so far lean to {cls.lower()}",
            tier=tier,
            tier_at_least=at_least,
            meaning=UNDECIDED_MEANING,
        )
    meaning = CLASS_MEANING[result.classification]
    if result.classification == "machine_identity" and result.tier == 4:
        meaning = next(
            (TIER4_MACHINE_MEANING[f] for f in result.flags if f in TIER4_MACHINE_MEANING),
            "Ordinary machine-identity controls are not enough at the critical tier: "
            "review what raised it before relying on this class.",
        )
    return Headline(
        decided=True,
        title=cls,
        leaning="",
        tier=tier,
        tier_at_least=at_least,
        meaning=meaning,
    )


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
    *,
    answers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The decision panel: the live one in the wizard, the frozen one on the assessment
    page, and the same facts in the PDF. ``catalogue`` names the frameworks;
    ``from_evidence`` (``provenance.answers_from_evidence``) marks the answers that
    came from evidence files; ``answers`` (what the engine was given) let the headline
    tell whether the tier could rise."""
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
        "headline": headline(result, answers),
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


def stored_headline(answers: Mapping[str, Any] | None, questionnaire_version: str) -> Headline:
    """The headline of an assessment in progress from its stored answers alone (for
    lists and exports, which do not read each agent's inventory). The class and the
    answers that could change it never come from the inventory, so the title and the
    leaning are the live panel's; the tier may still move with the inventory, so it
    reads "at least" whenever answers are missing."""
    from assessments import decisions  # decisions reads the database; imported late

    q = decisions.questionnaire(questionnaire_version)
    return headline(engine.evaluate(decisions.visible_answers(q, answers or {})))
