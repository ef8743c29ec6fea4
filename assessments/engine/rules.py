"""The decision rules of ../shared/decision-model.md: signals, class, tier, flags, controls.

Missing answers are never read as the safe value. A rule whose inputs are missing
does not fire; ``missing`` lists every needed key that is absent (so the result is
``provisional``) and ``unanswered`` the missing keys that could still change the class.

:func:`evaluate` sits on the hot path of the wizard's live panel and of bulk
re-assessment: it reads each answer once, takes finished sentences from
:mod:`.sentences` and leaves the JSON shape to :meth:`Result.to_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from . import sentences as say
from .answers import ACCESS_RANK, CONTRACT_KEYS, format_value
from .catalogue import Catalogue, load_catalogue
from .result import Result, make_result
from .terms import BLOCKING_FLAGS, DEFAULT_REVIEW_INTERVALS

_RUNTIME_MODES = frozenset({"context_driven", "planner_executor"})
_RUNTIME_TOOLS = frozenset({"chooses_from_allowlist", "discovers_dynamically"})
_BROAD_NETWORK = frozenset({"internal_broad", "internet"})
_AUTONOMY_CHANGES = frozenset({"tool_chaining", "dynamic_tools", "autonomy_increase"})
_ACCESS_NAMES = {rank: name for name, rank in ACCESS_RANK.items()}
_CLASS_KEYS = say.CLASS_KEYS


def evaluate(
    answers: Mapping[str, Any],
    *,
    review_intervals: Mapping[int, int] | None = None,
    catalogue: Catalogue | None = None,
) -> Result:
    """Classify one system from its validated, possibly partial, answers.

    ``review_intervals`` (tier -> days) is merged over DEFAULT_REVIEW_INTERVALS;
    ``catalogue`` defaults to the bundled catalogue-v1.yaml.
    """
    if catalogue is None:
        catalogue = load_catalogue()
    get = answers.get
    # Every contract answer, read once, in CONTRACT_KEYS order (None: missing).
    contract: tuple[Any, ...] = tuple(map(get, CONTRACT_KEYS))
    (
        decision_mode, tool_selection, crosses, external,
        credential, own_scopes, alters_answer, shared_role,
        systems, approval, delegated, network,
        traced_identity, traced_decision, traced_record,
        orchestration, linked, hybrid, self_direct, planned,
    ) = contract  # fmt: skip
    systems_text: str | None = None  # formatted once, when a sentence first names them

    # Rationale order: signals, class, tier, flags, provisional.
    signal_rules: list[Mapping[str, Any]] = []
    evidence: dict[str, tuple[Mapping[str, Any], ...]] = {}

    # ------------------------------------------------------------------ signals
    runtime_keys: tuple[str, ...] = ()
    if decision_mode in _RUNTIME_MODES:
        runtime_keys = ("decision_mode",)
        signal_rules.append(say.decision_mode_rule(decision_mode))
    if tool_selection in _RUNTIME_TOOLS:
        runtime_keys += ("tool_selection",)
        signal_rules.append(say.tool_selection_rule(tool_selection))
    if crosses is True:
        runtime_keys += ("crosses_environments",)
        signal_rules.append(say.CROSSES_RULE)
    if external is True and decision_mode is not None and decision_mode != "fixed_script":
        runtime_keys += ("calls_external_apis",)
        if decision_mode not in _RUNTIME_MODES:
            runtime_keys += ("decision_mode",)
        signal_rules.append(say.external_apis_rule(decision_mode))
    if hybrid is True and self_direct is True:
        runtime_keys += ("hybrid_pipeline", "model_steps_self_direct")
        signal_rules.append(say.HYBRID_RULE)
    runtime = bool(runtime_keys)
    if runtime:
        evidence["runtime_decisions"] = say.runtime_evidence(
            runtime_keys, decision_mode, tool_selection
        )

    per_task = own_scopes is True
    if per_task:
        evidence["per_task_access"] = say.PER_TASK_EVIDENCE
        signal_rules.append(say.PER_TASK_RULE)

    has_write = has_admin = False
    if systems:
        for system in systems:
            access = system["access"]
            if access == "admin":
                has_admin = has_write = True
                break
            if access == "write":
                has_write = True
    unattended = (
        systems is not None
        and len(systems) >= 2
        and approval is not None
        and approval != "every_action"
    )
    if unattended:
        evidence["unattended_reach"] = (
            MappingProxyType({"key": "systems", "value": systems}),
            say.fact("human_approval", approval),
        )
        systems_text = format_value(systems)
        signal_rules.append(say.unattended_rule(len(systems), approval, systems_text))

    traceability, trace_rule, trace_evidence, audit_gap_rule = say.traceability(
        traced_identity, traced_decision, traced_record
    )
    evidence["traceability"] = trace_evidence
    signal_rules.append(trace_rule)

    alters = alters_answer is True
    if alters:
        evidence["alters_own_access"] = say.ALTERS_EVIDENCE
        signal_rules.append(say.ALTERS_RULE)

    # ------------------------------------------------------------------ class
    agent = alters or runtime or per_task
    class_rule: Mapping[str, Any] | None
    if agent:
        classification = "agent_identity"
        class_rule = say.agent_class(alters, per_task, runtime_keys, decision_mode, tool_selection)
    else:
        classification = "machine_identity"
        class_rule = None  # written once the tier, flags and missing answers are known

    # ------------------------------------------------------------------ flags
    flags: list[str] = []
    flag_rules: list[Mapping[str, Any]] = []

    containment = tool_selection == "discovers_dynamically" and (
        shared_role is True or network in _BROAD_NETWORK
    )
    containment_named: tuple[tuple[str, Any], ...] = ()
    if containment:
        containment_named, rule, evidence["containment_breakdown"] = say.containment(
            shared_role is True, network
        )
        flags.append("containment_breakdown")
        flag_rules.append(rule)

    # None: unknown, because no linked agent declares its systems (or ours are missing).
    composite: bool | None = None
    extra_reach: list[str] = []
    if systems is not None and linked:
        own: dict[str, int] | None = None
        for other in linked:
            theirs = other.get("systems") if isinstance(other, dict) else None
            if theirs is None:
                continue
            if own is None:
                own = {s["name"].casefold(): ACCESS_RANK[s["access"]] for s in systems}
            for system in theirs:
                rank = ACCESS_RANK[system["access"]]
                mine = own.get(system["name"].casefold(), 0)
                if rank > mine:
                    extra_reach.append(
                        f"{other['slug']}: {system['name']} ({system['access']}; "
                        f"this agent: {_ACCESS_NAMES[mine]})"
                        if mine
                        else f"{other['slug']}: {system['name']} ({system['access']})"
                    )
        if own is not None:
            composite = bool(extra_reach)
    if composite:
        flags.append("composite_escalation")
        evidence["composite_escalation"] = (
            MappingProxyType({"key": "linked_agents", "value": tuple(extra_reach)}),
            MappingProxyType({"key": "systems", "value": systems}),
        )
        systems_text = systems_text or format_value(systems)
        flag_rules.append(say.composite_rule(tuple(extra_reach), systems_text))

    if orchestration is not None and orchestration != "standalone":
        flags.append("composition_review")
        rule, evidence["composition_review"] = say.composition_rule(orchestration)
        flag_rules.append(rule)

    reclassification = False
    if planned:
        drift_rule, reclass_rule, planned_evidence = say.planned_rules(tuple(planned))
        flags.append("capability_drift")
        evidence["capability_drift"] = planned_evidence
        flag_rules.append(drift_rule)
        if not agent and not _AUTONOMY_CHANGES.isdisjoint(planned):
            reclassification = True
            flags.append("reclassification_expected")
            evidence["reclassification_expected"] = planned_evidence
            flag_rules.append(reclass_rule)

    audit_gap = agent and traceability != "full"
    if audit_gap:
        flags.append("audit_gap")
        evidence["audit_gap"] = trace_evidence
        flag_rules.append(audit_gap_rule)

    static_secret = credential == "static_secret"
    broad_start = agent and (static_secret or shared_role is True)
    if broad_start:
        flags.append("broad_start")
        rule, evidence["broad_start"] = say.broad_start(static_secret, shared_role is True)
        flag_rules.append(rule)

    unattended_delegation = delegated is True and approval == "none"
    if unattended_delegation:
        flags.append("unattended_delegation")
        evidence["unattended_delegation"] = say.UNATTENDED_DELEGATION_EVIDENCE
        flag_rules.append(say.UNATTENDED_DELEGATION_RULE)

    # ------------------------------------------------------------------ tier
    if review_intervals is None:
        intervals: Mapping[int, int] = DEFAULT_REVIEW_INTERVALS
    else:
        intervals = {**DEFAULT_REVIEW_INTERVALS, **review_intervals}
        if not all(type(days) is int and days > 0 for days in intervals.values()):
            raise ValueError(f"Review intervals must be whole days above 0, not {intervals!r}.")
    if alters or containment or composite:
        tier = 4
    elif agent and (has_write or unattended or delegated is True or network == "internet"):
        tier = 3
    elif agent or unattended or has_admin:
        tier = 2
    else:
        tier = 1
    review_days = intervals[tier]
    if tier == 4:
        tier_rule = say.tier4_rule(review_days, alters, containment_named, tuple(extra_reach))
    else:
        systems_text = systems_text or format_value(systems)
        if tier == 3:
            tier_rule = say.tier3_rule(
                review_days,
                systems_text,
                has_write,
                approval if unattended else None,
                delegated is True,
                network == "internet",
            )
        elif agent:
            tier_rule = say.tier2_agent_rule(
                review_days, systems_text, approval, delegated, network
            )
        elif tier == 2:
            tier_rule = say.tier2_machine_rule(
                review_days, systems_text, approval if unattended else None, has_admin
            )
        else:
            tier_rule = say.tier1_rule(review_days, systems_text, approval)

    # ------------------------------------------------------------------ completeness
    missing: list[str] = []
    unanswered: tuple[str, ...] = ()
    if None in contract:
        missing = [k for k, v in zip(CONTRACT_KEYS, contract, strict=True) if v is None]
        if hybrid is False and self_direct is None:
            missing.remove("model_steps_self_direct")
        if orchestration == "standalone" and linked is None:
            missing.remove("linked_agents")
    if missing and not agent:
        unanswered = _could_change_class(
            decision_mode, tool_selection, crosses, external, own_scopes, alters_answer,
            hybrid, self_direct,
        )  # fmt: skip

    if class_rule is None:
        # "Ordinary controls fit" only where the result asks for nothing more.
        more: tuple[str, ...] = ()
        if tier == 4:
            more = ("composite_escalation",) if composite else ("critical",)
        more += tuple(f for f in flags if f in BLOCKING_FLAGS)
        class_rule = say.machine_class(
            (decision_mode, tool_selection, crosses, external, own_scopes, alters_answer)
            + (hybrid, self_direct),
            unanswered,
            more,
        )

    explanations = signal_rules
    explanations.append(class_rule)
    explanations.append(tier_rule)
    explanations += flag_rules
    if missing:
        explanations.append(say.provisional_rule(missing, unanswered))

    # ------------------------------------------------------------------ controls
    orchestrated: bool | None = None
    if (orchestration is not None and orchestration != "standalone") or linked:
        orchestrated = True
    elif orchestration == "standalone":
        orchestrated = False
    # In terms.DERIVED_FACT_NAMES order (a test holds the two together): classification,
    # traceability, has_write_system, has_admin_system, orchestrated, then each flag in
    # FLAG_IDS order (composite_escalation may be unknown).
    derived = (
        classification,
        traceability,
        None if systems is None else has_write,
        None if systems is None else has_admin,
        orchestrated,
        containment,
        composite,
        orchestration is not None and orchestration != "standalone",
        bool(planned),
        reclassification,
        audit_gap,
        broad_start,
        unattended_delegation,
    )
    controls, framework_mappings = catalogue.assess_controls(answers, derived)

    return make_result(  # Result's fields, in order
        classification,
        tier,
        review_days,
        say.signals(runtime, per_task, unattended, traceability, alters),
        tuple(flags),
        controls,
        framework_mappings,
        unanswered,
        tuple(missing),
        evidence,
        tuple(explanations),
        catalogue.version,
    )


def _could_change_class(
    decision_mode: Any,
    tool_selection: Any,
    crosses: Any,
    external: Any,
    own_scopes: Any,
    alters: Any,
    hybrid: Any,
    self_direct: Any,
) -> tuple[str, ...]:
    """Missing keys that could still make a (so far) machine identity an agent identity.

    Called only when no class rule fires on the known answers. A key counts when it
    appears in a class sub-rule that the known answers have not already falsified;
    each sub-rule names different keys (decision_mode aside, which any missing
    decision_mode already puts in), so such a key can always tip the class on its own.
    """
    could = set()
    if decision_mode is None:
        could.add("decision_mode")
    if tool_selection is None:
        could.add("tool_selection")
    if crosses is None:
        could.add("crosses_environments")
    if external is None and decision_mode != "fixed_script":
        could.add("calls_external_apis")
    if hybrid is not False and self_direct is not False:
        if hybrid is None:
            could.add("hybrid_pipeline")
        if self_direct is None:
            could.add("model_steps_self_direct")
    if own_scopes is None:
        could.add("decides_own_scopes")
    if alters is None:
        could.add("alters_own_access")
    return tuple(k for k in _CLASS_KEYS if k in could)
