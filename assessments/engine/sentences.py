"""The rationale: one plain sentence per rule that fired, naming the answers behind it.

Each builder returns a read-only explanation entry ``{"rule", "text", "keys"}`` (and,
where a signal or flag needs one, its evidence). A sentence depends only on the
answers it names, so each distinct input is built once and kept: scalar answers have
a few values each, and free text (system names, linked agents) repeats across the
evaluations of one inventory. Every cache is bounded, so unexpected input cannot grow
memory; a sentence that falls out is simply built again.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from .answers import format_value

_kept = lru_cache(maxsize=4096)

Entry = Mapping[str, Any]
Evidence = tuple[Mapping[str, Any], ...]

TRACE_KEYS = ("traced_identity", "traced_policy_decision", "traced_audit_record")
CLASS_KEYS: tuple[str, ...] = (
    "decision_mode",
    "tool_selection",
    "crosses_environments",
    "calls_external_apis",
    "decides_own_scopes",
    "alters_own_access",
    "hybrid_pipeline",
    "model_steps_self_direct",
)


def entry(rule: str, text: str, keys: tuple[str, ...]) -> Entry:
    return MappingProxyType({"rule": rule, "text": text, "keys": keys})


@_kept
def fact(key: str, value: Any) -> Mapping[str, Any]:
    """One evidence item for a scalar (hashable) answer."""
    return MappingProxyType({"key": key, "value": value})


def pairs(items: tuple[tuple[str, Any], ...]) -> str:
    """``(key = value; key = value)``: how a sentence names the answers behind it."""
    return "(" + "; ".join(f"{k} = {format_value(v)}" for k, v in items) + ")"


def joined(parts: list[str]) -> str:
    if len(parts) < 3:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


# ---------------------------------------------------------------------- signals


@_kept
def signals(
    runtime: bool, per_task: bool, unattended: bool, traceability: str, alters: bool
) -> Mapping[str, bool | str]:
    """The five signals, read-only and shared (48 combinations)."""
    return MappingProxyType(
        {
            "runtime_decisions": runtime,
            "per_task_access": per_task,
            "unattended_reach": unattended,
            "traceability": traceability,
            "alters_own_access": alters,
        }
    )


@_kept
def decision_mode_rule(decision_mode: str) -> Entry:
    if decision_mode == "planner_executor":
        text = (
            "It plans multi-step tasks and picks its own next step "
            "(decision_mode = planner_executor); that is a runtime decision, not a fixed "
            "workflow."
        )
    else:
        text = (
            "Prompts or model output choose its branches, actions or call parameters "
            "(decision_mode = context_driven); that is a runtime decision, not a fixed workflow."
        )
    return entry("signal.runtime_decisions.decision_mode", text, ("decision_mode",))


@_kept
def tool_selection_rule(tool_selection: str) -> Entry:
    if tool_selection == "discovers_dynamically":
        text = (
            "It finds and adds tools at runtime (tool_selection = discovers_dynamically); "
            "choosing tools is a runtime decision, and discovering them widens what it can "
            "reach."
        )
    else:
        text = (
            "It chooses which tools to call from an allow-list at runtime "
            "(tool_selection = chooses_from_allowlist); choosing tools is a runtime decision."
        )
    return entry("signal.runtime_decisions.tool_selection", text, ("tool_selection",))


CROSSES_RULE = entry(
    "signal.runtime_decisions.crosses_environments",
    "It moves between environments, accounts, tenants or networks during a run "
    "(crosses_environments = yes); where it acts is decided at runtime.",
    ("crosses_environments",),
)


@_kept
def external_apis_rule(decision_mode: str) -> Entry:
    return entry(
        "signal.runtime_decisions.calls_external_apis",
        "It calls APIs outside the organisation with targets or payloads shaped by model "
        "output, and it does not run a fixed script (calls_external_apis = yes; "
        f"decision_mode = {decision_mode}); model output deciding what leaves the "
        "organisation is a runtime decision.",
        ("calls_external_apis", "decision_mode"),
    )


HYBRID_RULE = entry(
    "signal.runtime_decisions.hybrid_self_direct",
    "It is a hybrid pipeline whose model-driven steps can choose next steps or expand access "
    "(hybrid_pipeline = yes; model_steps_self_direct = yes); those steps make runtime "
    "decisions, so its deterministic parts do not make it a scripted workflow.",
    ("hybrid_pipeline", "model_steps_self_direct"),
)

PER_TASK_RULE = entry(
    "signal.per_task_access",
    "It decides, task by task, which secrets, tokens or scopes to request "
    "(decides_own_scopes = yes); that is per-task access.",
    ("decides_own_scopes",),
)
PER_TASK_EVIDENCE: Evidence = (fact("decides_own_scopes", True),)

ALTERS_RULE = entry(
    "signal.alters_own_access",
    "It can widen its own access path during a run (alters_own_access = yes); that alone "
    "places it in the agent identity class.",
    ("alters_own_access",),
)
ALTERS_EVIDENCE: Evidence = (fact("alters_own_access", True),)


@_kept
def unattended_rule(count: int, approval: str, systems_text: str) -> Entry:
    if approval == "none":
        how = "with no person approving any of its actions"
    else:
        how = "with a person approving only high-impact actions"
    return entry(
        "signal.unattended_reach",
        f"It can reach {count} systems {how} (systems = {systems_text}; "
        f"human_approval = {approval}); that is unattended reach.",
        ("systems", "human_approval"),
    )


@_kept
def traceability(
    identity: str | None, decision: str | None, record: str | None
) -> tuple[str, Entry, Evidence, Entry]:
    """Level, its sentence, its evidence, and the audit_gap sentence for that level.

    A missing answer counts as not traced: coverage must be shown, not assumed.
    """
    values = (identity, decision, record)
    named = pairs(tuple(zip(TRACE_KEYS, values, strict=True)))
    known = [v for v in values if v is not None]
    if values == ("all", "all", "all"):
        level = "full"
        text = (
            "Every action is traced to its own workload identity, a recorded policy decision "
            f"and an audit record {named}; audit coverage is full."
        )
    else:
        level = "partial" if any(v != "none" for v in known) else "none"
        if not known:
            text = (
                f"No answer shows how its actions are traced {named}; audit coverage counts as "
                "none until it is shown."
            )
        else:
            text = (
                f"Audit coverage is {level}: not every action is traced to its own workload "
                f"identity, a recorded policy decision and an audit record {named}"
            )
            text += "; an unanswered item counts as not traced." if len(known) < 3 else "."
    gap = entry(
        "flag.audit_gap",
        "Audit gap: an agent identity needs every action traced to its identity, a policy "
        f"decision and an audit record, but coverage is {level} {named}; the assessment "
        "cannot be approved without an accepted exception.",
        TRACE_KEYS,
    )
    evidence = tuple(fact(k, v) for k, v in zip(TRACE_KEYS, values, strict=True))
    return level, entry(f"signal.traceability.{level}", text, TRACE_KEYS), evidence, gap


# ---------------------------------------------------------------------- class


def _runtime_answers(
    runtime_keys: tuple[str, ...], decision_mode: str | None, tool_selection: str | None
) -> tuple[tuple[str, Any], ...]:
    """The answers behind the runtime sub-rules that fired.

    Each boolean a sub-rule names is ``yes`` when it fired; only decision_mode and
    tool_selection can hold one of several values.
    """
    values = {"decision_mode": decision_mode, "tool_selection": tool_selection}
    return tuple((k, values.get(k, True)) for k in runtime_keys)


@_kept
def runtime_evidence(
    runtime_keys: tuple[str, ...], decision_mode: str | None, tool_selection: str | None
) -> Evidence:
    return tuple(
        fact(k, v) for k, v in _runtime_answers(runtime_keys, decision_mode, tool_selection)
    )


@_kept
def agent_class(
    alters: bool,
    per_task: bool,
    runtime_keys: tuple[str, ...],
    decision_mode: str | None,
    tool_selection: str | None,
) -> Entry:
    reasons = []
    named: list[tuple[str, Any]] = []
    if alters:
        reasons.append("can widen its own access path")
        named.append(("alters_own_access", True))
    if runtime_keys:
        reasons.append("makes decisions at runtime")
        named += _runtime_answers(runtime_keys, decision_mode, tool_selection)
    if per_task:
        reasons.append("decides its own access per task")
        named.append(("decides_own_scopes", True))
    text = (
        f"It belongs in the agent identity class because it {joined(reasons)} "
        f"{pairs(tuple(named))}: govern it with its own policy, audit coverage and "
        "containment, not with ordinary machine-identity controls alone."
    )
    return entry("class.agent_identity", text, tuple(k for k, _ in named))


@_kept
def machine_class(
    values: tuple[Any, ...], unanswered: tuple[str, ...] = (), more: tuple[str, ...] = ()
) -> Entry:
    """``values`` are the class-deciding answers, in CLASS_KEYS order (None: missing);
    ``unanswered`` the missing ones that could still make it an agent identity;
    ``more`` what the result asks for beyond ordinary controls (``composite_escalation``,
    ``critical`` for the critical tier otherwise, or a blocking flag's id).

    Only a decided machine identity that asks for nothing more reads "ordinary
    machine-identity controls fit": while a missing answer could change the class the
    sentence says what the answers lean to and which missing answers decide, and a
    result that asks for more says that the class alone is not enough.
    """
    known = tuple((k, v) for k, v in zip(CLASS_KEYS, values, strict=True) if v is not None)
    named = pairs(known) if known else "(no deciding answer given yet)"
    if unanswered:
        one = len(unanswered) == 1
        decide = (
            f"{'the missing answer' if one else 'the missing answers'} to "
            f"{joined(list(unanswered))} decide{'s' if one else ''} whether it is an agent "
            "identity"
        )
        if known:
            text = (
                "Not decided yet; the answers so far lean to the machine identity class: they "
                "show no runtime decision, no per-task access and no way to widen its own "
                f"access {named}, but {decide}."
            )
        else:
            text = (
                "Not decided yet: no answer that decides the class is given, so the answers "
                f"lean neither way; {decide} or a machine identity."
            )
        return entry("class.machine_identity", text, tuple(k for k, _ in known))
    # Self-direction is not asked of a system that is not a hybrid pipeline.
    needed = len(CLASS_KEYS) - (values[CLASS_KEYS.index("hybrid_pipeline")] is False)
    so_far = " given so far" if len(known) < needed else ""
    found = (
        f"It belongs in the machine identity class: the answers{so_far} show no runtime "
        f"decision, no per-task access and no way to widen its own access {named}"
    )
    if more:
        text = (
            f"{found}; but ordinary machine-identity controls are not enough here: "
            f"{joined([_MORE.get(m, f'the {m} flag must be resolved') for m in more])}."
        )
    else:
        text = (
            f"{found}, so ordinary machine-identity controls (IAM, PAM, service-account "
            "hygiene) fit, however many LLM calls it makes."
        )
    return entry("class.machine_identity", text, tuple(k for k, _ in known))


# What a machine identity's result asks for beyond ordinary controls, by reason.
_MORE = {
    "composite_escalation": (
        "together with its linked agents it reaches more than it does alone, so review "
        "and contain the privileges of the workflow as a whole"
    ),
    "critical": "its result is at the critical tier, so review what raised it",
    "audit_gap": (
        "the audit gap blocks approval until every action is traced or an exception is accepted"
    ),
}


# ---------------------------------------------------------------------- tiers


def _tier(tier: int, text: str, review_days: int, keys: tuple[str, ...]) -> Entry:
    return entry(f"tier.{tier}", f"{text}; review it every {days(review_days)}.", keys)


@_kept
def tier4_rule(
    review_days: int,
    alters: bool,
    containment_named: tuple[tuple[str, Any], ...],
    extra_reach: tuple[str, ...],
) -> Entry:
    reasons = []
    keys: tuple[str, ...] = ()
    if alters:
        reasons.append("it can widen its own access path (alters_own_access = yes)")
        keys += ("alters_own_access",)
    if containment_named:
        reasons.append(f"it discovers tools at runtime with broad reach {pairs(containment_named)}")
        keys += tuple(k for k, _ in containment_named)
    if extra_reach:
        reasons.append(
            "its linked agents give the workflow more reach than it has alone "
            f"(linked_agents = {', '.join(extra_reach)})"
        )
        keys += ("linked_agents",)
    return _tier(4, f"Tier 4 (critical): {joined(reasons)}", review_days, keys)


@_kept
def tier3_rule(
    review_days: int,
    systems: str,
    has_write: bool,
    unattended_approval: str | None,
    delegated: bool,
    internet: bool,
) -> Entry:
    """``unattended_approval``: the human_approval answer when reach is unattended."""
    reasons = []
    keys: tuple[str, ...] = ()
    if has_write:
        reasons.append(f"write or admin access (systems = {systems})")
        keys += ("systems",)
    if unattended_approval is not None:
        if has_write:
            reasons.append(f"unattended reach (human_approval = {unattended_approval})")
            keys += ("human_approval",)
        else:
            reasons.append(
                f"unattended reach (systems = {systems}; human_approval = {unattended_approval})"
            )
            keys += ("systems", "human_approval")
    if delegated:
        reasons.append("authority to approve steps for people (delegated_approval = yes)")
        keys += ("delegated_approval",)
    if internet:
        reasons.append("internet reach (network_reach = internet)")
        keys += ("network_reach",)
    return _tier(
        3, f"Tier 3 (high): it is an agent identity with {joined(reasons)}", review_days, keys
    )


@_kept
def tier2_agent_rule(
    review_days: int, systems: str, approval: Any, delegated: Any, network: Any
) -> Entry:
    keys = ("systems", "human_approval", "delegated_approval", "network_reach")
    return _tier(
        2,
        "Tier 2 (elevated): it is an agent identity, but the answers show no write or admin "
        "system, no unattended reach, no delegated approval and no internet reach "
        f"{pairs(tuple(zip(keys, (systems, approval, delegated, network), strict=True)))}",
        review_days,
        keys,
    )


@_kept
def tier2_machine_rule(
    review_days: int, systems: str, unattended_approval: str | None, admin: bool
) -> Entry:
    """``unattended_approval``: the human_approval answer when reach is unattended."""
    keys: tuple[str, ...] = ("systems",)
    if unattended_approval is None:
        reach = f"admin access (systems = {systems})"
    else:
        reach = "unattended reach and admin access" if admin else "unattended reach"
        reach += f" (systems = {systems}; human_approval = {unattended_approval})"
        keys += ("human_approval",)
    return _tier(
        2,
        f"Tier 2 (elevated): it is a machine identity with {reach}; reach raises its tier, "
        "not its class",
        review_days,
        keys,
    )


@_kept
def tier1_rule(review_days: int, systems: str, approval: Any) -> Entry:
    return _tier(
        1,
        "Tier 1 (baseline): it is a machine identity and the answers show no admin system "
        f"and no unattended reach (systems = {systems}; human_approval = "
        f"{format_value(approval)})",
        review_days,
        ("systems", "human_approval"),
    )


# ---------------------------------------------------------------------- flags


@_kept
def containment(
    shared_role: bool, network: str | None
) -> tuple[tuple[tuple[str, Any], ...], Entry, Evidence]:
    """The answers behind containment_breakdown, its sentence and its evidence."""
    named: list[tuple[str, Any]] = [("tool_selection", "discovers_dynamically")]
    if shared_role:
        named.append(("shared_platform_role", True))
    if network in ("internal_broad", "internet"):
        named.append(("network_reach", network))
    keys = tuple(k for k, _ in named)
    text = (
        "Containment breaks down: it discovers tools at runtime and inherits broad reach "
        f"{pairs(tuple(named))}, the situation in which agent controls tend to fail."
    )
    return (
        tuple(named),
        entry("flag.containment_breakdown", text, keys),
        tuple(fact(k, v) for k, v in named),
    )


@_kept
def composite_rule(extra_reach: tuple[str, ...], systems_text: str) -> Entry:
    return entry(
        "flag.composite_escalation",
        "Composite escalation: together with the agents it is linked to, it reaches more than "
        f"it does alone (linked_agents = {', '.join(extra_reach)}; systems = {systems_text}); "
        "review the privileges the workflow holds as a whole.",
        ("linked_agents", "systems"),
    )


@_kept
def composition_rule(orchestration: str) -> tuple[Entry, Evidence]:
    return entry(
        "flag.composition_review",
        f"It is part of a multi-agent arrangement (orchestration = {orchestration}); each "
        "member can look harmless in isolation, so review the workflow as a whole.",
        ("orchestration",),
    ), (fact("orchestration", orchestration),)


@_kept
def planned_rules(planned: tuple[str, ...]) -> tuple[Entry, Entry, Evidence]:
    """capability_drift and reclassification_expected sentences, and their evidence."""
    shown = format_value(planned)
    drift = entry(
        "flag.capability_drift",
        f"Changes are planned before the next review (planned_changes = {shown}); reassess "
        "it when they land.",
        ("planned_changes",),
    )
    reclass = entry(
        "flag.reclassification_expected",
        f"Planned changes would give it autonomy it lacks today (planned_changes = {shown}); "
        "expect it to move to the agent identity class when they land.",
        ("planned_changes",),
    )
    return drift, reclass, (fact("planned_changes", planned),)


@_kept
def broad_start(static_secret: bool, shared_role: bool) -> tuple[Entry, Evidence]:
    named: list[tuple[str, Any]] = []
    if static_secret:
        named.append(("credential_model", "static_secret"))
    if shared_role:
        named.append(("shared_platform_role", True))
    keys = tuple(k for k, _ in named)
    return entry(
        "flag.broad_start",
        "Broad start: it is an agent identity running on broad credentials "
        f"{pairs(tuple(named))}; give it its own identity now and narrow scopes and approvals "
        "as usage settles.",
        keys,
    ), tuple(fact(k, v) for k, v in named)


UNATTENDED_DELEGATION_RULE = entry(
    "flag.unattended_delegation",
    "Unattended delegation: it approves steps on behalf of people while no person approves "
    "any of its own actions (delegated_approval = yes; human_approval = none).",
    ("delegated_approval", "human_approval"),
)
UNATTENDED_DELEGATION_EVIDENCE: Evidence = (
    fact("delegated_approval", True),
    fact("human_approval", "none"),
)


# ---------------------------------------------------------------------- completeness


def provisional_rule(missing: list[str], unanswered: tuple[str, ...]) -> Entry:
    if unanswered:
        tail = f"of these, {', '.join(unanswered)} could still change the class"
    else:
        tail = "none of them can change the class, but they can change the tier, flags or controls"
    count = "1 answer is" if len(missing) == 1 else f"{len(missing)} answers are"
    return entry(
        "provisional",
        f"This result is provisional: {count} missing ({', '.join(missing)}); {tail}.",
        tuple(missing),
    )
