"""The engine's vocabulary: signals, flags, tiers and the facts a control condition may test."""

from __future__ import annotations

from typing import Any

from .answers import ALLOWED_VALUES, ANSWER_TYPES, BOOL_VALUES, BOOLEAN, CHOICE

CLASSIFICATIONS: tuple[str, ...] = ("agent_identity", "machine_identity")
TRACEABILITY_LEVELS: tuple[str, ...] = ("full", "partial", "none")

TIER_NAMES: dict[int, str] = {1: "baseline", 2: "elevated", 3: "high", 4: "critical"}
DEFAULT_REVIEW_INTERVALS: dict[int, int] = {4: 30, 3: 90, 2: 180, 1: 365}

SIGNAL_DESCRIPTIONS: dict[str, str] = {
    "runtime_decisions": (
        "It makes decisions at runtime: prompts or model output choose its branches, actions, "
        "tools, call targets or environment, instead of a fixed, coded workflow."
    ),
    "per_task_access": (
        "It decides for itself, task by task, which secrets, tokens or scopes to request."
    ),
    "unattended_reach": (
        "It can touch two or more systems without a person approving every action."
    ),
    "traceability": (
        "How much of what it does is traced to its own workload identity, a recorded policy "
        "decision and an audit record: full, partial or none. An unanswered item counts as "
        "not traced."
    ),
    "alters_own_access": (
        "It can widen its own access path during a run (grant itself roles, edit policies, "
        "mint credentials, enrol in systems). This is the decisive indicator: on its own it "
        "makes the system an agent identity at the critical tier."
    ),
}
SIGNAL_IDS: tuple[str, ...] = tuple(SIGNAL_DESCRIPTIONS)
SIGNAL_TITLES: dict[str, str] = {
    "runtime_decisions": "Runtime decisions",
    "per_task_access": "Per-task access",
    "unattended_reach": "Unattended reach",
    "traceability": "Traceability",
    "alters_own_access": "Alters its own access",
}

FLAG_DESCRIPTIONS: dict[str, str] = {
    "containment_breakdown": (
        "It discovers tools at runtime and inherits broad reach from a shared platform role or "
        "a broad network: the situation in which agent containment tends to break down."
    ),
    "composite_escalation": (
        "Together with the agents it works with, it reaches more systems, or a higher access "
        "level, than it does alone: the combined workflow is a privilege-escalation path."
    ),
    "composition_review": (
        "It is part of a multi-agent arrangement; review the workflow as a whole, not each "
        "member in isolation."
    ),
    "capability_drift": ("Changes are planned before the next review; reassess when they land."),
    "reclassification_expected": (
        "It is a machine identity today, but planned changes (tool chaining, dynamic tools or "
        "more autonomy) would make it an agent identity."
    ),
    "audit_gap": (
        "It is an agent identity without full audit coverage. Blocking: the assessment cannot "
        "be approved without an accepted exception."
    ),
    "broad_start": (
        "It is an agent identity starting from a static secret or a shared platform role; "
        "give it its own identity now and narrow scopes as usage settles."
    ),
    "unattended_delegation": (
        "It approves steps on behalf of people and no human approves any of its actions."
    ),
}
FLAG_IDS: tuple[str, ...] = tuple(FLAG_DESCRIPTIONS)
FLAG_TITLES: dict[str, str] = {
    "containment_breakdown": "Containment breakdown",
    "composite_escalation": "Composite escalation",
    "composition_review": "Composition review",
    "capability_drift": "Capability drift",
    "reclassification_expected": "Reclassification expected",
    "audit_gap": "Audit gap",
    "broad_start": "Broad start",
    "unattended_delegation": "Unattended delegation",
}
BLOCKING_FLAGS: frozenset[str] = frozenset({"audit_gap"})

# Facts a control condition may name, with the values each can take. Answers that are
# lists (systems, linked_agents, planned_changes) are reached through derived facts.
DERIVED_FACTS: dict[str, tuple[Any, ...]] = {
    "classification": CLASSIFICATIONS,
    "traceability": TRACEABILITY_LEVELS,
    "has_write_system": BOOL_VALUES,
    "has_admin_system": BOOL_VALUES,
    "orchestrated": BOOL_VALUES,
    **dict.fromkeys(FLAG_IDS, BOOL_VALUES),
}
DERIVED_FACT_NAMES: tuple[str, ...] = tuple(DERIVED_FACTS)
FACT_VALUES: dict[str, tuple[Any, ...]] = {
    **{k: v for k, v in ALLOWED_VALUES.items() if ANSWER_TYPES[k] in (CHOICE, BOOLEAN)},
    **DERIVED_FACTS,
}

# Short names of the answers, for sentences and tables that cannot hold a whole question.
ANSWER_TITLES: dict[str, str] = {
    "decision_mode": "How it decides",
    "tool_selection": "Tool selection",
    "crosses_environments": "Crosses environments",
    "calls_external_apis": "Model-shaped external calls",
    "credential_model": "Credential model",
    "decides_own_scopes": "Decides its own scopes",
    "alters_own_access": "Widens its own access",
    "shared_platform_role": "Shared platform role",
    "systems": "Systems it reaches",
    "human_approval": "Human approval",
    "delegated_approval": "Approves for people",
    "network_reach": "Network reach",
    "traced_identity": "Traced to its identity",
    "traced_policy_decision": "Traced to a policy decision",
    "traced_audit_record": "Traced to an audit record",
    "orchestration": "Orchestration",
    "linked_agents": "Linked agents",
    "hybrid_pipeline": "Hybrid pipeline",
    "model_steps_self_direct": "Model steps steer the pipeline",
    "planned_changes": "Planned changes",
    "policy_enforcement": "Policy enforcement",
    "kill_switch": "Kill switch",
    "access_review": "Access review",
    "admin_sessions_brokered": "Brokered admin sessions",
}
# An agent no approved assessment has classified yet: one name on every page, PDF,
# export, e-mail and feed (``portfolio.UNASSESSED_LABEL``). Not "Not assessed": its
# assessment may be drafted, returned or awaiting a decision.
NO_CLASSIFICATION_TITLE = "No class yet"
CLASSIFICATION_TITLES: dict[str, str] = {
    "agent_identity": "Agent identity",
    "machine_identity": "Machine identity",
}
CONTROL_STATUS_TITLES: dict[str, str] = {
    "in_place": "In place",
    "gap": "Gap",
    "unknown": "Not shown by the answers",
}
