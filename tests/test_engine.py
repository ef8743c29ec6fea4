"""The decision engine against the contract in ../shared/decision-model.md.

Plain pytest, no database: every case starts from an answer set on which no rule
fires, changes a few answers, and checks what fired and what did not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import FrozenInstanceError, fields
from pathlib import Path
from typing import Any

import pytest

from assessments.engine import (
    ALLOWED_VALUES,
    ANSWER_KEYS,
    BLOCKING_FLAGS,
    CONTRACT_KEYS,
    CONTROL_KEYS,
    DEFAULT_REVIEW_INTERVALS,
    FLAG_DESCRIPTIONS,
    FLAG_IDS,
    SIGNAL_DESCRIPTIONS,
    SIGNAL_IDS,
    TIER_NAMES,
    AnswerError,
    Catalogue,
    Result,
    evaluate,
    load_catalogue,
    validate_answers,
)
from assessments.engine.result import make_result
from assessments.engine.terms import DERIVED_FACT_NAMES

ROOT = Path(__file__).resolve().parent.parent

# A complete answer set on which no signal, flag or raised tier fires.
QUIET: dict[str, Any] = {
    "decision_mode": "fixed_script",
    "tool_selection": "fixed",
    "crosses_environments": False,
    "calls_external_apis": False,
    "credential_model": "workload_identity",
    "decides_own_scopes": False,
    "alters_own_access": False,
    "shared_platform_role": False,
    "systems": [{"name": "erp", "access": "read"}],
    "human_approval": "every_action",
    "delegated_approval": False,
    "network_reach": "allowlisted",
    "traced_identity": "all",
    "traced_policy_decision": "all",
    "traced_audit_record": "all",
    "orchestration": "standalone",
    "linked_agents": [],
    "hybrid_pipeline": False,
    "planned_changes": [],
}
# The same, but it decides its branches at runtime: an agent identity, tier 2.
AGENT = {**QUIET, "decision_mode": "context_driven"}

TWO_SYSTEMS = [{"name": "erp", "access": "read"}, {"name": "crm", "access": "read"}]


def run(base: dict[str, Any] | None = None, **changes: Any) -> Result:
    """Evaluate ``base`` with ``changes``; a change to None removes the answer."""
    answers = validate_answers({**(QUIET if base is None else base), **changes})
    return evaluate(answers)


def agent(**changes: Any) -> Result:
    return run(AGENT, **changes)


def rules(result: Result) -> list[str]:
    return [e["rule"] for e in result.explanations]


def status(result: Result, control_id: str) -> str | None:
    return next((c["status"] for c in result.controls if c["id"] == control_id), None)


# --------------------------------------------------------------------------- baseline


def test_quiet_answers_are_a_baseline_machine_identity_with_nothing_flagged():
    result = run()
    assert result.classification == "machine_identity"
    assert (result.tier, result.tier_name, result.review_interval_days) == (1, "baseline", 365)
    assert result.signals == {
        "runtime_decisions": False,
        "per_task_access": False,
        "unattended_reach": False,
        "traceability": "full",
        "alters_own_access": False,
    }
    assert result.flags == ()
    assert not result.provisional
    assert result.missing == result.unanswered == ()
    assert not result.decisive


def test_the_decision_model_manifest_example_is_a_critical_agent_identity():
    manifest_answers = {
        **AGENT,
        "tool_selection": "chooses_from_allowlist",
        "systems": [
            {"name": "erp", "access": "write"},
            {"name": "document-store", "access": "read"},
        ],
        "human_approval": "high_impact_only",
        "traced_policy_decision": "some",
        "orchestration": "orchestrated_by_agent",
        "linked_agents": [
            {"slug": "payments-agent", "systems": [{"name": "bank-api", "access": "admin"}]}
        ],
        "planned_changes": ["tool_chaining"],
    }
    result = run(manifest_answers)
    assert result.classification == "agent_identity"
    assert result.tier == 4
    assert result.flags == (
        "composite_escalation",
        "composition_review",
        "capability_drift",
        "audit_gap",
    )
    assert result.signals["unattended_reach"] is True
    assert result.signals["traceability"] == "partial"
    assert not result.provisional
    assert status(result, "AIC-09") == "gap"
    assert status(result, "AIC-05") == "gap"


# --------------------------------------------------------------------------- signals

RUNTIME_CASES = [
    ({"decision_mode": "context_driven"}, ["signal.runtime_decisions.decision_mode"]),
    ({"decision_mode": "planner_executor"}, ["signal.runtime_decisions.decision_mode"]),
    ({"tool_selection": "chooses_from_allowlist"}, ["signal.runtime_decisions.tool_selection"]),
    ({"tool_selection": "discovers_dynamically"}, ["signal.runtime_decisions.tool_selection"]),
    ({"crosses_environments": True}, ["signal.runtime_decisions.crosses_environments"]),
    (
        {"calls_external_apis": True, "decision_mode": "model_assisted"},
        ["signal.runtime_decisions.calls_external_apis"],
    ),
    (
        {"hybrid_pipeline": True, "model_steps_self_direct": True},
        ["signal.runtime_decisions.hybrid_self_direct"],
    ),
    (
        {
            "decision_mode": "planner_executor",
            "tool_selection": "discovers_dynamically",
            "crosses_environments": True,
            "calls_external_apis": True,
            "hybrid_pipeline": True,
            "model_steps_self_direct": True,
        },
        [
            "signal.runtime_decisions.decision_mode",
            "signal.runtime_decisions.tool_selection",
            "signal.runtime_decisions.crosses_environments",
            "signal.runtime_decisions.calls_external_apis",
            "signal.runtime_decisions.hybrid_self_direct",
        ],
    ),
]


@pytest.mark.parametrize(("changes", "fired"), RUNTIME_CASES)
def test_each_runtime_decision_sub_rule_fires_with_its_own_sentence(changes, fired):
    result = run(**changes)
    assert result.signals["runtime_decisions"] is True
    assert result.classification == "agent_identity"
    assert [r for r in rules(result) if r.startswith("signal.runtime_decisions.")] == fired
    assert {e["key"] for e in result.evidence["runtime_decisions"]} == set(changes)


RUNTIME_NEAR_MISSES = [
    {"decision_mode": "fixed_script"},
    {"decision_mode": "model_assisted"},
    {"tool_selection": "none"},
    {"tool_selection": "fixed"},
    {"crosses_environments": False},
    {"calls_external_apis": True, "decision_mode": "fixed_script"},
    {"calls_external_apis": False, "decision_mode": "model_assisted"},
    {"hybrid_pipeline": True, "model_steps_self_direct": False},
    {"hybrid_pipeline": False, "model_steps_self_direct": True},
]


@pytest.mark.parametrize("changes", RUNTIME_NEAR_MISSES)
def test_runtime_decisions_does_not_fire_on_near_misses(changes):
    result = run(**changes)
    assert result.signals["runtime_decisions"] is False
    assert result.classification == "machine_identity"
    assert "runtime_decisions" not in result.evidence


def test_external_apis_with_unknown_decision_mode_does_not_fire_but_is_provisional():
    result = run(calls_external_apis=True, decision_mode=None)
    assert result.signals["runtime_decisions"] is False
    assert result.provisional
    assert result.unanswered == ("decision_mode",)


def test_a_hybrid_pipeline_with_unanswered_self_direction_stays_open():
    result = run(hybrid_pipeline=True)
    assert result.classification == "machine_identity"
    assert result.missing == ("model_steps_self_direct",)
    assert result.unanswered == ("model_steps_self_direct",)


def test_per_task_access_fires_on_deciding_own_scopes():
    result = run(decides_own_scopes=True)
    assert result.signals["per_task_access"] is True
    assert result.classification == "agent_identity"
    assert result.evidence["per_task_access"] == ({"key": "decides_own_scopes", "value": True},)
    assert "signal.per_task_access" in rules(result)


@pytest.mark.parametrize(
    ("systems", "approval", "unattended"),
    [
        (TWO_SYSTEMS, "every_action", False),
        (TWO_SYSTEMS, "high_impact_only", True),
        (TWO_SYSTEMS, "none", True),
        (TWO_SYSTEMS[:1], "none", False),
        (TWO_SYSTEMS[:1], "high_impact_only", False),
        ([], "none", False),
        (TWO_SYSTEMS, None, False),
    ],
)
def test_unattended_reach_needs_two_systems_and_less_than_every_action_approved(
    systems, approval, unattended
):
    result = run(systems=systems, human_approval=approval)
    assert result.signals["unattended_reach"] is unattended
    assert ("unattended_reach" in result.evidence) is unattended
    # Unattended reach alone raises the tier of a machine identity, never its class.
    assert result.classification == "machine_identity"
    assert result.tier == (2 if unattended else 1)


@pytest.mark.parametrize(
    ("traced", "level"),
    [
        (("all", "all", "all"), "full"),
        (("all", "some", "all"), "partial"),
        (("none", "none", "none"), "none"),
        (("some", "none", "none"), "partial"),
        (("all", "all", None), "partial"),
        (("none", "none", None), "none"),
        ((None, None, None), "none"),
    ],
)
def test_traceability_counts_an_unanswered_item_as_not_traced(traced, level):
    identity, decision, record = traced
    result = run(
        traced_identity=identity, traced_policy_decision=decision, traced_audit_record=record
    )
    assert result.signals["traceability"] == level
    assert [e["value"] for e in result.evidence["traceability"]] == list(traced)


def test_altering_its_own_access_is_decisive_and_critical():
    result = run(alters_own_access=True)
    assert result.decisive
    assert result.signals["alters_own_access"] is True
    assert result.classification == "agent_identity"
    assert result.tier == 4
    assert (
        "It can widen its own access path during a run (alters_own_access = yes); that alone "
        "places it in the agent identity class." in result.rationale
    )


# --------------------------------------------------------------------------- class


def test_a_model_assisted_workflow_is_a_machine_identity_however_many_llm_calls_it_makes():
    result = run(
        decision_mode="model_assisted", hybrid_pipeline=True, model_steps_self_direct=False
    )
    assert result.classification == "machine_identity"
    [sentence] = [e["text"] for e in result.explanations if e["rule"] == "class.machine_identity"]
    assert "however many LLM calls it makes" in sentence
    assert "(decision_mode = model_assisted;" in sentence
    assert "model_steps_self_direct = no" in sentence


@pytest.mark.parametrize(
    "changes",
    [
        {"alters_own_access": True},
        {"decides_own_scopes": True},
        {"decision_mode": "planner_executor"},
    ],
)
def test_any_deciding_signal_makes_it_an_agent_identity(changes):
    result = run(**changes)
    assert result.classification == "agent_identity"
    assert "class.agent_identity" in rules(result)


# --------------------------------------------------------------------------- tiers

TIER_CASES = [
    # (base, changes, tier, rule)
    (QUIET, {"alters_own_access": True}, 4, "tier.4"),
    (QUIET, {"tool_selection": "discovers_dynamically", "shared_platform_role": True}, 4, "tier.4"),
    (
        AGENT,
        {
            "orchestration": "peer_mesh",
            "linked_agents": [{"slug": "b", "systems": [{"name": "vault", "access": "read"}]}],
        },
        4,
        "tier.4",
    ),
    (AGENT, {"systems": [{"name": "erp", "access": "write"}]}, 3, "tier.3"),
    (AGENT, {"systems": [{"name": "erp", "access": "admin"}]}, 3, "tier.3"),
    (AGENT, {"systems": TWO_SYSTEMS, "human_approval": "high_impact_only"}, 3, "tier.3"),
    (AGENT, {"delegated_approval": True}, 3, "tier.3"),
    (AGENT, {"network_reach": "internet"}, 3, "tier.3"),
    (AGENT, {}, 2, "tier.2"),
    (AGENT, {"network_reach": "internal_broad"}, 2, "tier.2"),
    (AGENT, {"systems": TWO_SYSTEMS}, 2, "tier.2"),
    (QUIET, {"systems": TWO_SYSTEMS, "human_approval": "none"}, 2, "tier.2"),
    (QUIET, {"systems": [{"name": "erp", "access": "admin"}]}, 2, "tier.2"),
    (QUIET, {"systems": [{"name": "erp", "access": "write"}]}, 1, "tier.1"),
    (QUIET, {"network_reach": "internet"}, 1, "tier.1"),
    (QUIET, {"delegated_approval": True}, 1, "tier.1"),
    # A machine identity never reaches tier 3, whatever its reach.
    (
        QUIET,
        {
            "systems": [{"name": "erp", "access": "admin"}, {"name": "crm", "access": "write"}],
            "human_approval": "none",
            "delegated_approval": True,
            "network_reach": "internet",
        },
        2,
        "tier.2",
    ),
]


@pytest.mark.parametrize(("base", "changes", "tier", "rule"), TIER_CASES)
def test_tier_is_the_first_rule_that_matches_from_the_top(base, changes, tier, rule):
    result = run(base, **changes)
    assert result.tier == tier
    assert result.tier_name == TIER_NAMES[tier]
    assert result.review_interval_days == DEFAULT_REVIEW_INTERVALS[tier]
    assert [r for r in rules(result) if r.startswith("tier.")] == [rule]


def test_review_interval_comes_from_a_custom_mapping_merged_over_the_defaults():
    answers = validate_answers({**QUIET, "alters_own_access": True})
    custom = evaluate(answers, review_intervals={4: 14})
    assert custom.review_interval_days == 14
    assert "review it every 14 days." in custom.rationale[[*rules(custom)].index("tier.4")]
    baseline = evaluate(validate_answers(QUIET), review_intervals={4: 14})
    assert baseline.review_interval_days == 365


@pytest.mark.parametrize("days", [0, -30, "30", 30.0, True])
def test_a_review_interval_that_is_not_a_positive_number_of_days_is_refused(days):
    with pytest.raises(ValueError, match="whole days"):
        evaluate(validate_answers(QUIET), review_intervals={1: days})


# --------------------------------------------------------------------------- flags


@pytest.mark.parametrize(
    ("changes", "fires"),
    [
        ({"tool_selection": "discovers_dynamically", "shared_platform_role": True}, True),
        ({"tool_selection": "discovers_dynamically", "network_reach": "internal_broad"}, True),
        ({"tool_selection": "discovers_dynamically", "network_reach": "internet"}, True),
        ({"tool_selection": "discovers_dynamically", "network_reach": "allowlisted"}, False),
        ({"tool_selection": "discovers_dynamically", "network_reach": "isolated"}, False),
        ({"tool_selection": "discovers_dynamically", "shared_platform_role": None}, False),
        (
            {
                "tool_selection": "chooses_from_allowlist",
                "shared_platform_role": True,
                "network_reach": "internet",
            },
            False,
        ),
    ],
)
def test_containment_breakdown_needs_dynamic_tools_and_inherited_broad_reach(changes, fires):
    result = run(**changes)
    assert ("containment_breakdown" in result.flags) is fires
    assert (result.tier == 4) is fires
    if fires:
        keys = [e["key"] for e in result.evidence["containment_breakdown"]]
        assert keys[0] == "tool_selection"
        assert set(keys) <= {"tool_selection", "shared_platform_role", "network_reach"}


def linked(*agents: Any) -> dict[str, Any]:
    return {"orchestration": "orchestrates_agents", "linked_agents": list(agents)}


def test_composite_escalation_fires_when_a_linked_agent_reaches_a_new_system():
    result = agent(
        **linked({"slug": "payments-agent", "systems": [{"name": "bank-api", "access": "admin"}]})
    )
    assert "composite_escalation" in result.flags
    assert result.tier == 4
    assert result.evidence["composite_escalation"][0] == {
        "key": "linked_agents",
        "value": ("payments-agent: bank-api (admin)",),
    }
    assert status(result, "AIC-09") == "gap"


def test_composite_escalation_fires_when_a_linked_agent_holds_a_higher_access_level():
    result = agent(
        **linked({"slug": "writer", "systems": [{"name": "ERP", "access": "write"}]}),
    )
    assert "composite_escalation" in result.flags
    [extra] = result.evidence["composite_escalation"][0]["value"]
    assert extra == "writer: ERP (write; this agent: read)"


@pytest.mark.parametrize(
    "their_systems",
    [
        [{"name": "erp", "access": "read"}],
        [{"name": "Erp", "access": "read"}],
        [],
    ],
)
def test_composite_escalation_does_not_fire_on_equal_or_no_extra_reach(their_systems):
    result = agent(**linked({"slug": "peer", "systems": their_systems}))
    assert "composite_escalation" not in result.flags
    assert result.tier == 2
    assert status(result, "AIC-09") == "in_place"


def test_composite_escalation_does_not_fire_on_lower_reach_than_its_own():
    result = agent(
        systems=[{"name": "erp", "access": "admin"}],
        **linked({"slug": "peer", "systems": [{"name": "erp", "access": "write"}]}),
    )
    assert "composite_escalation" not in result.flags


def test_a_linked_agent_without_systems_contributes_nothing_and_leaves_it_unknown():
    result = agent(**linked("payments-agent", {"slug": "other"}))
    assert "composite_escalation" not in result.flags
    assert result.tier == 2
    assert status(result, "AIC-09") == "unknown"


def test_composite_escalation_is_not_computed_without_its_own_systems():
    result = agent(
        systems=None,
        **linked({"slug": "payments-agent", "systems": [{"name": "bank-api", "access": "admin"}]}),
    )
    assert "composite_escalation" not in result.flags
    assert "systems" in result.missing


@pytest.mark.parametrize(
    ("orchestration", "fires"),
    [
        ("standalone", False),
        ("orchestrates_agents", True),
        ("orchestrated_by_agent", True),
        ("peer_mesh", True),
        (None, False),
    ],
)
def test_composition_review_fires_for_any_orchestration_but_standalone(orchestration, fires):
    result = run(orchestration=orchestration)
    assert ("composition_review" in result.flags) is fires


def test_capability_drift_fires_whenever_changes_are_planned():
    assert "capability_drift" in run(planned_changes=["new_systems"]).flags
    assert "capability_drift" not in run(planned_changes=[]).flags


@pytest.mark.parametrize(
    ("base", "planned", "expected"),
    [
        (QUIET, ["tool_chaining"], True),
        (QUIET, ["dynamic_tools"], True),
        (QUIET, ["autonomy_increase", "new_systems"], True),
        (QUIET, ["write_access", "new_systems", "delegated_approval"], False),
        (AGENT, ["tool_chaining", "dynamic_tools", "autonomy_increase"], False),
    ],
)
def test_reclassification_is_expected_only_for_a_machine_identity_gaining_autonomy(
    base, planned, expected
):
    result = run(base, planned_changes=planned)
    assert ("reclassification_expected" in result.flags) is expected
    assert "capability_drift" in result.flags


@pytest.mark.parametrize(
    ("base", "traced", "fires"),
    [
        (AGENT, ("all", "some", "all"), True),
        (AGENT, ("none", "none", "none"), True),
        (AGENT, (None, None, None), True),
        (AGENT, ("all", "all", None), True),
        (AGENT, ("all", "all", "all"), False),
        (QUIET, ("none", "none", "none"), False),
    ],
)
def test_audit_gap_fires_for_an_agent_identity_without_full_traceability(base, traced, fires):
    identity, decision, record = traced
    result = run(
        base,
        traced_identity=identity,
        traced_policy_decision=decision,
        traced_audit_record=record,
    )
    assert ("audit_gap" in result.flags) is fires
    assert (result.blocking_flags == ("audit_gap",)) is fires


def test_audit_gap_is_the_blocking_flag():
    assert frozenset({"audit_gap"}) == BLOCKING_FLAGS


@pytest.mark.parametrize(
    ("base", "changes", "fires"),
    [
        (AGENT, {"credential_model": "static_secret"}, True),
        (AGENT, {"shared_platform_role": True}, True),
        (AGENT, {"credential_model": "vaulted_rotated"}, False),
        (QUIET, {"credential_model": "static_secret", "shared_platform_role": True}, False),
    ],
)
def test_broad_start_fires_for_an_agent_identity_on_a_static_secret_or_shared_role(
    base, changes, fires
):
    assert ("broad_start" in run(base, **changes).flags) is fires


@pytest.mark.parametrize(
    ("delegated", "approval", "fires"),
    [
        (True, "none", True),
        (True, "high_impact_only", False),
        (True, "every_action", False),
        (True, None, False),
        (False, "none", False),
    ],
)
def test_unattended_delegation_needs_delegated_approval_with_no_human_approval(
    delegated, approval, fires
):
    result = run(delegated_approval=delegated, human_approval=approval)
    assert ("unattended_delegation" in result.flags) is fires


def test_flags_follow_the_decision_model_table_order():
    result = run(
        tool_selection="discovers_dynamically",
        shared_platform_role=True,
        credential_model="static_secret",
        traced_identity="some",
        delegated_approval=True,
        human_approval="none",
        planned_changes=["write_access"],
        **linked({"slug": "b", "systems": [{"name": "vault", "access": "admin"}]}),
    )
    assert result.flags == tuple(f for f in FLAG_IDS if f != "reclassification_expected")
    assert list(FLAG_IDS) == list(FLAG_DESCRIPTIONS)


# --------------------------------------------------------------------------- missing answers


def test_an_empty_answer_set_is_provisional_and_every_class_key_could_change_it():
    result = evaluate({})
    assert result.classification == "machine_identity"
    assert result.provisional
    assert result.missing == CONTRACT_KEYS
    assert result.unanswered == (
        "decision_mode",
        "tool_selection",
        "crosses_environments",
        "calls_external_apis",
        "decides_own_scopes",
        "alters_own_access",
        "hybrid_pipeline",
        "model_steps_self_direct",
    )
    assert result.rationale[-1].startswith("This result is provisional: 20 answers are missing")


def test_a_missing_answer_is_never_read_as_the_safe_value():
    result = run(alters_own_access=None)
    assert result.provisional
    assert result.unanswered == ("alters_own_access",)
    assert "alters_own_access" in result.rationale[-1]


def test_unanswered_is_empty_once_a_class_rule_fires_on_known_answers():
    result = run(decision_mode="planner_executor", alters_own_access=None, tool_selection=None)
    assert result.provisional
    assert result.missing == ("tool_selection", "alters_own_access")
    assert result.unanswered == ()
    assert "none of them can change the class" in result.rationale[-1]


def test_calls_external_apis_is_not_unanswered_when_the_script_is_fixed():
    result = run(calls_external_apis=None)
    assert result.missing == ("calls_external_apis",)
    assert result.unanswered == ()
    assert run(calls_external_apis=None, decision_mode="model_assisted").unanswered == (
        "calls_external_apis",
    )


def test_self_direction_is_not_needed_when_it_is_not_a_hybrid_pipeline():
    assert run(hybrid_pipeline=False).missing == ()
    assert run(hybrid_pipeline=None).missing == ("hybrid_pipeline", "model_steps_self_direct")


def test_linked_agents_are_not_needed_for_a_standalone_system():
    assert run(linked_agents=None).missing == ()
    assert run(linked_agents=None, orchestration="peer_mesh").missing == ("linked_agents",)
    assert run(linked_agents=None, orchestration=None).missing == (
        "orchestration",
        "linked_agents",
    )


def test_extra_control_answers_are_never_needed():
    assert run().missing == ()
    assert set(CONTROL_KEYS).isdisjoint(evaluate({}).missing)


def test_none_values_count_as_missing_even_unvalidated():
    assert evaluate({**QUIET, "alters_own_access": None}).unanswered == ("alters_own_access",)


# --------------------------------------------------------------------------- controls

AIC = [f"AIC-0{n}" for n in range(1, 10)]
MIC = [f"MIC-0{n}" for n in range(1, 6)]


def test_agent_identity_requires_the_agent_controls_and_composite_review_only_if_orchestrated():
    assert [c["id"] for c in agent().controls] == AIC[:8]
    assert [c["id"] for c in agent(orchestration="orchestrates_agents").controls] == AIC
    assert [c["id"] for c in agent(linked_agents=["other"]).controls] == AIC


def test_machine_identity_requires_the_machine_controls_and_pam_only_with_an_admin_system():
    assert [c["id"] for c in run().controls] == MIC[:4]
    admin = run(systems=[{"name": "erp", "access": "admin"}])
    assert [c["id"] for c in admin.controls] == MIC


@pytest.mark.parametrize(
    ("base", "changes", "control", "expected"),
    [
        (AGENT, {}, "AIC-01", "in_place"),
        (AGENT, {"shared_platform_role": True}, "AIC-01", "gap"),
        (AGENT, {"credential_model": "vaulted_rotated"}, "AIC-01", "gap"),
        (AGENT, {"credential_model": None}, "AIC-01", "unknown"),
        (AGENT, {"credential_model": "per_task_tokens"}, "AIC-02", "in_place"),
        (AGENT, {"credential_model": "static_secret"}, "AIC-02", "gap"),
        (AGENT, {"credential_model": "workload_identity"}, "AIC-02", "unknown"),
        (AGENT, {}, "AIC-03", "unknown"),
        (AGENT, {"policy_enforcement": "intent_aware"}, "AIC-03", "in_place"),
        (AGENT, {"policy_enforcement": "policy_as_code"}, "AIC-03", "gap"),
        (AGENT, {"policy_enforcement": "policy_as_code"}, "AIC-04", "in_place"),
        (AGENT, {"policy_enforcement": "static_roles"}, "AIC-04", "gap"),
        (AGENT, {}, "AIC-05", "in_place"),
        (AGENT, {"traced_audit_record": "some"}, "AIC-05", "gap"),
        (
            AGENT,
            {"traced_identity": None, "traced_policy_decision": None, "traced_audit_record": None},
            "AIC-05",
            "unknown",
        ),
        (AGENT, {}, "AIC-06", "in_place"),
        (AGENT, {"network_reach": "internet"}, "AIC-06", "gap"),
        (AGENT, {"crosses_environments": True}, "AIC-06", "gap"),
        (AGENT, {"tool_selection": "discovers_dynamically"}, "AIC-06", "gap"),
        (AGENT, {"crosses_environments": None}, "AIC-06", "unknown"),
        (AGENT, {"human_approval": "high_impact_only"}, "AIC-07", "in_place"),
        (AGENT, {"human_approval": "none"}, "AIC-07", "gap"),
        (AGENT, {"kill_switch": True, "access_review": "quarterly"}, "AIC-08", "in_place"),
        (AGENT, {"kill_switch": True}, "AIC-08", "unknown"),
        (AGENT, {"kill_switch": True, "access_review": "none"}, "AIC-08", "gap"),
        (AGENT, {"kill_switch": False}, "AIC-08", "gap"),
        (QUIET, {}, "MIC-01", "in_place"),
        (QUIET, {"shared_platform_role": True}, "MIC-01", "gap"),
        (QUIET, {"credential_model": "vaulted_rotated"}, "MIC-02", "in_place"),
        (QUIET, {"credential_model": "static_secret"}, "MIC-02", "gap"),
        (QUIET, {"credential_model": "user_delegated"}, "MIC-02", "unknown"),
        (QUIET, {}, "MIC-03", "unknown"),
        (QUIET, {"access_review": "annual"}, "MIC-03", "in_place"),
        (QUIET, {"access_review": "none"}, "MIC-03", "gap"),
        (QUIET, {}, "MIC-04", "in_place"),
        (QUIET, {"traced_identity": "some"}, "MIC-04", "gap"),
        (QUIET, {"systems": [{"name": "erp", "access": "admin"}]}, "MIC-05", "unknown"),
        (
            QUIET,
            {"systems": [{"name": "erp", "access": "admin"}], "admin_sessions_brokered": True},
            "MIC-05",
            "in_place",
        ),
        (
            QUIET,
            {"systems": [{"name": "erp", "access": "admin"}], "admin_sessions_brokered": False},
            "MIC-05",
            "gap",
        ),
    ],
)
def test_control_status_shows_what_the_answers_show(base, changes, control, expected):
    assert status(run(base, **changes), control) == expected


def test_gaps_lists_only_controls_with_a_gap():
    result = agent(shared_platform_role=True, human_approval="none")
    assert result.gaps == ("AIC-01", "AIC-07")


def test_framework_mappings_cover_the_four_frameworks_in_their_own_order():
    catalogue = load_catalogue()
    result = agent()
    for key in ("owasp_asi_top10_2026", "owasp_nhi_top10_2025", "csa_maestro", "nist_ai_rmf_1_0"):
        ids = result.framework_mappings[key]
        order = [i.id for i in catalogue.framework(key).items]
        assert list(ids) == sorted(set(ids), key=order.index)
    assert {"ASI02", "ASI03"} <= set(result.framework_mappings["owasp_asi_top10_2026"])
    assert "L6" in result.framework_mappings["csa_maestro"]
    assert any(i.startswith("GOVERN 2.") for i in result.framework_mappings["nist_ai_rmf_1_0"])


def test_framework_mappings_follow_the_required_controls():
    machine = run().framework_mappings
    orchestrated = agent(orchestration="peer_mesh").framework_mappings
    assert "ASI07" not in machine["owasp_asi_top10_2026"]  # only AIC-09 maps to ASI07
    assert "ASI07" in orchestrated["owasp_asi_top10_2026"]


def test_evaluate_uses_a_catalogue_built_from_plain_data():
    data = load_catalogue().to_dict()
    data["version"] = "test"
    data["controls"] = [
        {
            "id": "X-1",
            "title": "Watch the audit gap",
            "description": "",
            "applies_when": [{"audit_gap": [True]}],
            "in_place_when": [],
            "gap_when": [{"traceability": ["none"]}],
            "mappings": [
                {"framework": "csa_maestro", "item": "L5", "justification": "Observability."}
            ],
        },
        {
            "id": "X-2",
            "title": "Always asked, never shown",
            "description": "",
            "applies_when": [{"classification": ["agent_identity"]}],
            "in_place_when": [],
            "gap_when": [],
            "mappings": [],
        },
    ]
    catalogue = Catalogue.from_dict(data)
    answers = validate_answers({**AGENT, "traced_identity": "none", "traced_audit_record": "none"})
    answers["traced_policy_decision"] = "none"
    result = evaluate(answers, catalogue=catalogue)
    assert result.catalogue_version == "test"
    assert [dict(c) for c in result.controls] == [
        {"id": "X-1", "title": "Watch the audit gap", "status": "gap"},
        {"id": "X-2", "title": "Always asked, never shown", "status": "unknown"},
    ]
    assert result.framework_mappings == {"csa_maestro": ("L5",)}
    full = evaluate(validate_answers(AGENT), catalogue=catalogue)
    assert [c["id"] for c in full.controls] == ["X-2"]
    assert full.framework_mappings == {}


# --------------------------------------------------------------------------- rationale


def test_rationale_is_one_sentence_per_fired_rule_in_order_signals_class_tier_flags():
    result = run(
        decision_mode="planner_executor",
        decides_own_scopes=True,
        planned_changes=["new_systems"],
        traced_identity="some",
        orchestration=None,
    )
    assert result.rationale == tuple(e["text"] for e in result.explanations)
    kinds = [r.split(".")[0] for r in rules(result)]
    assert kinds == ["signal"] * 3 + ["class", "tier", "flag", "flag", "provisional"]
    assert all(text.endswith(".") for text in result.rationale)


def test_every_sentence_names_the_answers_behind_it():
    result = run(
        decision_mode="model_assisted",
        calls_external_apis=True,
        systems=[{"name": "erp", "access": "write"}, {"name": "crm", "access": "read"}],
        human_approval="none",
        delegated_approval=True,
        credential_model="static_secret",
        traced_identity="some",
        planned_changes=["tool_chaining"],
        **linked({"slug": "b", "systems": [{"name": "vault", "access": "admin"}]}),
    )
    for explanation in result.explanations:
        if explanation["rule"] == "provisional":
            continue
        assert explanation["keys"], explanation
        for key in explanation["keys"]:
            assert f"{key} = " in explanation["text"], (key, explanation["text"])
    joined = " ".join(result.rationale)
    assert "(delegated_approval = yes; human_approval = none)" in joined
    assert "erp (write), crm (read)" in joined


def sentence(result: Result, rule: str) -> str:
    [text] = [e["text"] for e in result.explanations if e["rule"] == rule]
    return text


def test_the_machine_identity_sentence_says_what_was_not_found():
    text = sentence(run(), "class.machine_identity")
    assert "no runtime decision, no per-task access and no way to widen its own access" in text
    assert "given so far" not in text
    # Undecided (issue 21): what the answers so far lean to, and which missing answer decides.
    undecided = sentence(run(crosses_environments=None), "class.machine_identity")
    assert "the answers so far lean to the machine identity class" in undecided
    assert "the missing answer to crosses_environments decides" in undecided


def test_unattended_admin_reach_of_a_machine_identity_names_its_systems_once():
    result = run(
        systems=[{"name": "erp", "access": "admin"}, *TWO_SYSTEMS[1:]], human_approval="none"
    )
    text = sentence(result, "tier.2")
    assert "unattended reach and admin access (systems = erp (admin), crm (read);" in text
    assert text.count("systems = ") == 1


def test_signal_and_flag_descriptions_cover_every_signal_and_flag():
    assert tuple(SIGNAL_DESCRIPTIONS) == SIGNAL_IDS
    assert tuple(FLAG_DESCRIPTIONS) == FLAG_IDS
    assert all(text.endswith(".") for text in (*SIGNAL_DESCRIPTIONS.values(),))


def test_evidence_names_the_answers_behind_each_fired_signal_and_flag():
    result = run(
        decision_mode="context_driven",
        alters_own_access=True,
        delegated_approval=True,
        human_approval="none",
    )
    fired = {k for k, v in result.signals.items() if v is True} | set(result.flags)
    assert set(result.evidence) == fired | {"traceability"}
    assert list(result.evidence) == [k for k in (*SIGNAL_IDS, *FLAG_IDS) if k in result.evidence]
    assert result.evidence["alters_own_access"] == ({"key": "alters_own_access", "value": True},)
    assert result.evidence["unattended_delegation"] == (
        {"key": "delegated_approval", "value": True},
        {"key": "human_approval", "value": "none"},
    )


# --------------------------------------------------------------------------- output


def test_to_dict_is_json_ready_and_starts_with_the_contract_fields():
    result = run(
        alters_own_access=True,
        traced_identity=None,
        **linked({"slug": "b", "systems": [{"name": "vault", "access": "admin"}]}),
    )
    data = result.to_dict()
    assert list(data) == [
        "classification",
        "tier",
        "tier_name",
        "review_interval_days",
        "signals",
        "flags",
        "controls",
        "framework_mappings",
        "rationale",
        "provisional",
        "unanswered",
        "missing",
        "decisive",
        "evidence",
        "explanations",
        "catalogue_version",
    ]
    assert json.loads(json.dumps(data)) == data
    assert data["catalogue_version"] == "2026.1"


def test_a_stored_result_rebuilds_to_the_same_data():
    result = agent(planned_changes=["tool_chaining"], systems=TWO_SYSTEMS, human_approval="none")
    data = json.loads(json.dumps(result.to_dict()))
    assert Result.from_dict(data).to_dict() == data


def test_a_result_is_frozen():
    result = agent()
    with pytest.raises(FrozenInstanceError):
        result.tier = 1  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_the_fast_constructor_builds_the_same_result_as_the_dataclass():
    result = agent()
    values = {f.name: getattr(result, f.name) for f in fields(Result)}
    assert make_result(*values.values()) == Result(**values)


def test_derived_facts_are_built_in_the_order_the_catalogue_reads_them():
    assert (
        "classification",
        "traceability",
        "has_write_system",
        "has_admin_system",
        "orchestrated",
        *FLAG_IDS,
    ) == DERIVED_FACT_NAMES


def test_the_engine_imports_no_django():
    code = (
        "import sys, assessments.engine as e; "
        "e.evaluate(e.validate_answers({'alters_own_access': True})); "
        "e.load_questionnaire(); "
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')], "
        "sorted(m for m in sys.modules if m.startswith('django'))"
    )
    completed = subprocess.run(  # noqa: S603 (fixed command, our own interpreter)
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr


# --------------------------------------------------------------------------- validation


def test_validate_answers_returns_a_normalised_copy():
    raw = {
        "systems": [{"name": "  erp ", "access": "write"}],
        "linked_agents": [
            "payments-agent",
            {"slug": "b", "systems": [{"name": "x", "access": "read"}]},
        ],
        "planned_changes": ["tool_chaining"],
        "alters_own_access": None,
    }
    answers = validate_answers(raw)
    assert answers == {
        "systems": [{"name": "erp", "access": "write"}],
        "linked_agents": [
            {"slug": "payments-agent", "systems": None},
            {"slug": "b", "systems": [{"name": "x", "access": "read"}]},
        ],
        "planned_changes": ["tool_chaining"],
    }
    answers["systems"].append({"name": "y", "access": "read"})
    assert len(raw["systems"]) == 1


def test_every_allowed_value_validates():
    for key in ANSWER_KEYS:
        for value in ALLOWED_VALUES[key]:
            if key == "systems":
                value = [{"name": "s", "access": value}]
            elif key == "planned_changes":
                value = [value]
            assert validate_answers({key: value}) == {key: value}


def error(raw: dict[str, Any]) -> AnswerError:
    with pytest.raises(AnswerError) as caught:
        validate_answers(raw)
    return caught.value


def test_an_unknown_key_is_an_error_naming_the_key_and_the_known_keys():
    exc = error({"decision_mod": "fixed_script"})
    assert exc.key == "decision_mod"
    assert exc.allowed == ANSWER_KEYS
    assert "'decision_mod'" in str(exc)
    assert "decision_mode" in str(exc)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"crosses_environments": "yes"}, "crosses_environments"),
        ({"crosses_environments": 1}, "crosses_environments"),
        ({"decision_mode": True}, "decision_mode"),
        ({"systems": "erp"}, "systems"),
        ({"planned_changes": "tool_chaining"}, "planned_changes"),
        ({"linked_agents": "payments-agent"}, "linked_agents"),
        ({"linked_agents": [7]}, "linked_agents"),
    ],
)
def test_a_value_of_the_wrong_type_is_an_error(raw, key):
    assert error(raw).key == key


@pytest.mark.parametrize("key", ["decision_mode", "network_reach", "traced_identity"])
def test_a_value_outside_its_set_is_an_error_naming_the_key_and_allowed_values(key):
    exc = error({key: "sometimes"})
    assert exc.key == key
    assert exc.allowed == ALLOWED_VALUES[key]
    message = str(exc)
    assert key in message and "'sometimes'" in message
    assert all(value in message for value in ALLOWED_VALUES[key])
    assert message.endswith(".")


def test_a_boolean_error_names_true_and_false():
    exc = error({"alters_own_access": "yes"})
    assert exc.allowed == ("true", "false")
    assert "alters_own_access" in str(exc) and "true, false" in str(exc)


@pytest.mark.parametrize(
    "systems",
    [
        [{"name": "erp"}],
        [{"name": "erp", "access": "owner"}],
        [{"name": "  ", "access": "read"}],
        [{"access": "read"}],
        [{"name": "erp", "access": "read", "owner": "x"}],
        ["erp"],
    ],
)
def test_a_bad_system_is_an_error(systems):
    exc = error({"systems": systems})
    assert exc.key == "systems"
    assert "item 1" in str(exc)


def test_a_bad_access_level_names_the_allowed_levels():
    message = str(error({"systems": [{"name": "erp", "access": "owner"}]}))
    assert "read, write, admin" in message


def test_a_duplicate_system_name_is_an_error_whatever_its_case():
    exc = error(
        {"systems": [{"name": "ERP", "access": "read"}, {"name": "erp", "access": "write"}]}
    )
    assert exc.key == "systems"
    assert "twice" in str(exc)


@pytest.mark.parametrize(
    "linked_agents",
    [
        [{"systems": []}],
        [{"slug": "a", "tools": []}],
        ["a", "a"],
        [{"slug": "a", "systems": [{"name": "x", "access": "root"}]}],
    ],
)
def test_a_bad_linked_agent_is_an_error(linked_agents):
    assert error({"linked_agents": linked_agents}).key == "linked_agents"


@pytest.mark.parametrize(
    "planned", [["tool_chaining", "tool_chaining"], ["more_power"], [["tool_chaining"]]]
)
def test_a_bad_planned_change_is_an_error(planned):
    exc = error({"planned_changes": planned})
    assert exc.key == "planned_changes"
    assert "autonomy_increase" in str(exc)


def test_answers_that_are_not_a_mapping_are_an_error():
    exc = error(["decision_mode"])  # type: ignore[arg-type]
    assert exc.key is None
