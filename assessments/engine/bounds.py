"""How far missing answers could still move a result: the tier's ceiling.

The rules only ever fire on answers that are given (a missing answer never fires a
rule, and never counts as the safe value), and every rule that raises the tier is
monotone: answering a missing key can make more rules fire, never fewer. So the tier of
a partial answer set is a floor, and the tier of its *worst completion* (every missing
key given the value that raises the tier most) is the ceiling: the highest tier any
completion reaches. ``tests/test_engine_properties.py`` checks both against random
completions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .answers import ALLOWED_VALUES
from .catalogue import Catalogue
from .result import Result
from .rules import evaluate

# Names no real system or agent is given: the worst completion's systems must not
# coincide with a linked agent's, or they would hide a composite escalation.
_UNKNOWN = "(not yet answered)"

# For each contract key, the value that raises the tier most (or is neutral to it).
WORST_VALUES: dict[str, Any] = {
    "decision_mode": "planner_executor",
    "tool_selection": "discovers_dynamically",
    "crosses_environments": True,
    "calls_external_apis": True,
    "credential_model": "static_secret",
    "decides_own_scopes": True,
    "alters_own_access": True,
    "shared_platform_role": True,
    "systems": [
        {"name": f"{_UNKNOWN} system 1", "access": "admin"},
        {"name": f"{_UNKNOWN} system 2", "access": "admin"},
    ],
    "human_approval": "none",
    "delegated_approval": True,
    "network_reach": "internet",
    "traced_identity": "none",
    "traced_policy_decision": "none",
    "traced_audit_record": "none",
    "orchestration": "peer_mesh",
    "linked_agents": [
        {"slug": "not-yet-answered", "systems": [{"name": f"{_UNKNOWN} linked", "access": "admin"}]}
    ],
    "hybrid_pipeline": True,
    "model_steps_self_direct": True,
    "planned_changes": list(ALLOWED_VALUES["planned_changes"]),
}


def worst_completion(answers: Mapping[str, Any], missing: tuple[str, ...]) -> dict[str, Any]:
    """``answers`` with each key of ``missing`` (a result's ``missing``) set to its
    tier-raising value."""
    return {**answers, **{k: WORST_VALUES[k] for k in missing if k in WORST_VALUES}}


def tier_ceiling(
    answers: Mapping[str, Any],
    result: Result | None = None,
    *,
    review_intervals: Mapping[int, int] | None = None,
    catalogue: Catalogue | None = None,
) -> int:
    """The highest tier any completion of ``answers`` could reach (``result`` is
    ``evaluate(answers)`` when the caller has it). Equal to the result's tier when
    nothing is missing, or when no missing answer could raise it."""
    if result is None:
        result = evaluate(answers, review_intervals=review_intervals, catalogue=catalogue)
    if not result.missing or result.tier == 4:
        return result.tier
    worst = worst_completion(answers, result.missing)
    return evaluate(worst, review_intervals=review_intervals, catalogue=catalogue).tier
