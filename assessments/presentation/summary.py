"""The headline of a result: its class, tier and what they mean, or why it is undecided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assessments import engine
from assessments.engine.sentences import CLASS_KEYS

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
        # With no class-deciding answer given, nothing leans either way yet.
        nothing_given = len(result.unanswered) == len(CLASS_KEYS)
        return Headline(
            decided=False,
            title=undecided_title(len(result.unanswered)),
            leaning="No answer so far leans to either class"
            if nothing_given
            else f"The answers so far lean to {cls.lower()}",
            tier=tier,
            tier_at_least=at_least,
            meaning=UNDECIDED_MEANING,
        )
    meaning = CLASS_MEANING[result.classification]
    if result.classification == "machine_identity" and result.blocking_flags and result.tier < 4:
        meaning = (
            "Ordinary machine-identity controls are not enough while a blocking flag stands: "
            "resolve it, or accept an exception, before relying on this class."
        )
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


def stored_headline(answers: Mapping[str, Any] | None, questionnaire_version: str) -> Headline:
    """The headline of an assessment in progress from its stored answers alone (for
    lists and exports, which do not read each agent's inventory). The class and the
    answers that could change it never come from the inventory, so the title and the
    leaning are the live panel's; the tier may still move with the inventory, so it
    reads "at least" whenever answers are missing."""
    from assessments.workflow import decisions

    q = decisions.questionnaire(questionnaire_version)
    return headline(engine.evaluate(decisions.visible_answers(q, answers or {})))
