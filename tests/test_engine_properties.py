"""Properties of the decision engine over every valid, possibly partial, answer set."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessments.engine import (
    ACCESS_LEVELS,
    ALLOWED_VALUES,
    ANSWER_KEYS,
    ANSWER_TYPES,
    CONTRACT_KEYS,
    DEFAULT_REVIEW_INTERVALS,
    TIER_NAMES,
    evaluate,
    tier_ceiling,
    validate_answers,
    worst_completion,
)
from assessments.engine.bounds import WORST_VALUES

# The answers the classification reads, with every value each can take.
CLASS_DOMAINS: dict[str, tuple[Any, ...]] = {
    key: ALLOWED_VALUES[key]
    for key in (
        "decision_mode",
        "tool_selection",
        "crosses_environments",
        "calls_external_apis",
        "decides_own_scopes",
        "alters_own_access",
        "hybrid_pipeline",
        "model_steps_self_direct",
    )
}

NAMES = st.sampled_from(["erp", "crm", "ERP", "bank-api", "vault", "wiki", "hr"])


def systems_lists() -> st.SearchStrategy[list[dict[str, str]]]:
    return st.lists(
        st.fixed_dictionaries({"name": NAMES, "access": st.sampled_from(ACCESS_LEVELS)}),
        max_size=4,
        unique_by=lambda s: s["name"].casefold(),
    )


def linked_agent_lists() -> st.SearchStrategy[list[Any]]:
    slug = st.sampled_from(["a", "b", "c", "d"])
    item = st.one_of(
        slug,
        st.fixed_dictionaries({"slug": slug}),
        st.fixed_dictionaries({"slug": slug, "systems": systems_lists()}),
    )
    return st.lists(item, max_size=3, unique_by=lambda i: i if isinstance(i, str) else i["slug"])


def value_for(key: str) -> st.SearchStrategy[Any]:
    kind = ANSWER_TYPES[key]
    if kind == "systems":
        return systems_lists()
    if kind == "agents":
        return linked_agent_lists()
    if kind == "multichoice":
        return st.lists(st.sampled_from(ALLOWED_VALUES[key]), unique=True, max_size=3)
    return st.sampled_from(ALLOWED_VALUES[key])


@st.composite
def answer_sets(draw: st.DrawFn) -> dict[str, Any]:
    """A valid answer set in which any key may be missing."""
    keys = draw(st.lists(st.sampled_from(ANSWER_KEYS), unique=True))
    return validate_answers({key: draw(value_for(key)) for key in keys})


def without(answers: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in answers.items() if k != key}


@given(answer_sets())
def test_every_valid_answer_set_gives_a_consistent_result(answers):
    result = evaluate(answers)
    assert result.classification in ("agent_identity", "machine_identity")
    assert result.tier_name == TIER_NAMES[result.tier]
    assert result.review_interval_days == DEFAULT_REVIEW_INTERVALS[result.tier]
    assert result.provisional == bool(result.missing)
    assert set(result.unanswered) <= set(result.missing)
    assert result.rationale == tuple(e["text"] for e in result.explanations)
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


@given(answer_sets(), st.dictionaries(st.sampled_from([1, 2, 3, 4]), st.integers(1, 3650)))
def test_the_review_interval_is_the_configured_one_for_the_tier(answers, intervals):
    result = evaluate(answers, review_intervals=intervals)
    assert result.review_interval_days == {**DEFAULT_REVIEW_INTERVALS, **intervals}[result.tier]


@given(answer_sets())
def test_turning_alters_own_access_on_never_lowers_the_tier(answers):
    before = evaluate(answers)
    after = evaluate({**answers, "alters_own_access": True})
    assert after.tier >= before.tier
    assert after.tier == 4
    assert after.classification == "agent_identity"
    assert after.decisive


@given(answer_sets())
def test_the_class_is_agent_identity_exactly_when_a_deciding_signal_is_set(answers):
    result = evaluate(answers)
    deciding = (
        result.signals["runtime_decisions"]
        or result.signals["per_task_access"]
        or result.signals["alters_own_access"]
    )
    assert (result.classification == "agent_identity") == deciding
    if result.classification == "machine_identity":
        # Reach raises its tier, never its class; only a tier-4 flag takes it past 2.
        assert result.tier != 3
        assert result.tier < 4 or "composite_escalation" in result.flags


@given(answer_sets())
def test_removing_an_answer_never_makes_the_result_less_provisional(answers):
    result = evaluate(answers)
    for key in answers:
        fewer = evaluate(without(answers, key))
        assert set(fewer.missing) >= set(result.missing)
        if result.provisional:
            assert fewer.provisional


@given(answer_sets())
def test_validated_answers_validate_to_themselves(answers):
    assert validate_answers(answers) == answers


def brute_force_unanswered(answers: dict[str, Any]) -> set[str]:
    """Missing class keys that can flip the class, by trying every completion."""
    open_keys = [k for k in CLASS_DOMAINS if answers.get(k) is None]
    classes: dict[tuple[Any, ...], str] = {}
    for values in itertools.product(*(CLASS_DOMAINS[k] for k in open_keys)):
        completion = dict(zip(open_keys, values, strict=True))
        classes[values] = evaluate({**answers, **completion}).classification
    relevant = set()
    for position, key in enumerate(open_keys):
        # Completions that differ only in ``key`` share the other values.
        groups: dict[tuple[Any, ...], set[str]] = {}
        for values, classification in classes.items():
            others = values[:position] + values[position + 1 :]
            groups.setdefault(others, set()).add(classification)
        if any(len(found) > 1 for found in groups.values()):
            relevant.add(key)
    return relevant


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_sets())
def test_unanswered_is_exactly_the_missing_keys_that_can_still_change_the_class(answers):
    result = evaluate(answers)
    assert set(result.unanswered) == brute_force_unanswered(answers)
    assert list(result.unanswered) == [k for k in CLASS_DOMAINS if k in result.unanswered]


# --------------------------------------------------------------------------- tier bounds


@st.composite
def partial_and_completion(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A partial answer set and one completion of it (every missing contract key given)."""
    partial = draw(answer_sets())
    extra = {k: draw(value_for(k)) for k in CONTRACT_KEYS if k not in partial}
    return partial, validate_answers({**partial, **extra})


def test_every_contract_key_has_a_worst_value():
    assert set(WORST_VALUES) == set(CONTRACT_KEYS)
    for key, value in WORST_VALUES.items():
        assert validate_answers({key: value}) == {key: value}


@settings(max_examples=300, deadline=None)
@given(partial_and_completion())
def test_a_completion_never_lowers_the_tier_nor_passes_the_ceiling(pair):
    partial, complete = pair
    floor = evaluate(partial).tier
    reached = evaluate(complete).tier
    assert floor <= reached <= tier_ceiling(partial)


@settings(max_examples=300, deadline=None)
@given(answer_sets())
def test_the_ceiling_is_reached_by_a_valid_completion(answers):
    result = evaluate(answers)
    worst = validate_answers(worst_completion(answers, result.missing))
    assert not evaluate(worst).missing
    assert evaluate(worst).tier == tier_ceiling(answers, result)
    if not result.missing:
        assert tier_ceiling(answers) == result.tier


def test_an_empty_answer_set_could_still_reach_the_critical_tier():
    assert evaluate({}).tier == 1
    assert tier_ceiling({}) == 4


# --------------------------------------------------------------------------- sentences


def any_answer_set() -> st.SearchStrategy[dict[str, Any]]:
    """Partial answer sets, and complete ones (so composite escalation and the decided
    classes come up as often as the undecided ones)."""
    return st.one_of(answer_sets(), partial_and_completion().map(lambda pair: pair[1]))


# "fit" / "enough" said of ordinary machine-identity controls, and its negation.
CONTROLS_FIT = "ordinary machine-identity controls (IAM, PAM, service-account hygiene) fit"
NOT_ENOUGH = "ordinary machine-identity controls are not enough"
FLAG_OPENINGS = {
    "containment_breakdown": "Containment breaks down:",
    "composite_escalation": "Composite escalation:",
    "composition_review": "It is part of a multi-agent arrangement",
    "capability_drift": "Changes are planned before the next review",
    "reclassification_expected": "Planned changes would give it autonomy",
    "audit_gap": "Audit gap:",
    "broad_start": "Broad start:",
    "unattended_delegation": "Unattended delegation:",
}


@settings(max_examples=600, deadline=None)
@given(any_answer_set())
def test_every_sentence_holds_to_its_result(answers):
    result = evaluate(answers)
    text = " ".join(result.rationale)
    machine = result.classification == "machine_identity"
    undecided = bool(result.unanswered)
    asks_more = result.tier == 4 or bool(result.blocking_flags)

    # The class sentence: decided, leaning, or asking for more; never "fit" where the
    # result asks for more, nor a class while a missing answer could change it.
    [class_text] = [e["text"] for e in result.explanations if e["rule"].startswith("class.")]
    assert (CONTROLS_FIT in text) == (machine and not undecided and not asks_more), text
    assert (NOT_ENOUGH in class_text) == (machine and not undecided and asks_more), class_text
    assert ("belongs in the machine identity class" in text) == (machine and not undecided)
    assert ("belongs in the agent identity class" in text) == (not machine)
    assert class_text.startswith("Not decided yet") == undecided
    assert " fit" not in text.replace(CONTROLS_FIT, "")
    for key in result.unanswered:
        assert key in class_text
    if undecided and len(result.unanswered) < len(CLASS_DOMAINS) - 1:
        assert "lean to the machine identity class" in class_text

    # The tier sentence names the result's tier and its review interval, and no other.
    tiers = [e["text"] for e in result.explanations if e["rule"].startswith("tier.")]
    assert len(tiers) == 1
    assert tiers[0].startswith(f"Tier {result.tier} ({TIER_NAMES[result.tier]})")
    days = result.review_interval_days
    assert tiers[0].endswith(f"review it every {days} day{'s' if days != 1 else ''}.")
    for other in set(TIER_NAMES) - {result.tier}:
        assert f"Tier {other} (" not in text

    # A flag's sentence is there exactly when the flag fired.
    for flag, opening in FLAG_OPENINGS.items():
        assert (opening in text) == (flag in result.flags), (flag, text)
    assert ("This result is provisional" in text) == result.provisional
    assert ("that alone places it in the agent identity class" in text) == result.decisive
