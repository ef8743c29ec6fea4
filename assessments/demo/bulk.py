"""Approved assessments in bulk, for benchmarks and load tests (``seed_bulk --assessed``).

Each agent gets one to three approved versions whose answers are random but plausible
(weighted towards what real portfolios hold) and whose results are the engine's own, so
reports, board packs and CSV exports have real decisions to show: classes, tiers, flags,
gaps, exceptions for blocking flags, reviews due and overdue, and reclassifications.

Bulk inserts bypass the named actions and the audit log on purpose: this is test data,
not history. Approved rows are immutable (a database trigger refuses UPDATE), so each
version is inserted as submitted, back-dated, then approved in one bulk UPDATE; the
versions of all agents go in round by round, so at most one is open per agent.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from assessments import engine
from assessments.models import (
    Agent,
    AgentLink,
    Assessment,
    GapException,
    Review,
    System,
    review_intervals,
)
from assessments.workflow import decisions

_WEIGHTS: dict[str, dict[Any, float]] = {
    "decision_mode": {
        "fixed_script": 4,
        "model_assisted": 3,
        "context_driven": 2,
        "planner_executor": 1,
    },
    "tool_selection": {
        "none": 2,
        "fixed": 4,
        "chooses_from_allowlist": 2.5,
        "discovers_dynamically": 0.4,
    },
    "crosses_environments": {False: 9, True: 1},
    "calls_external_apis": {False: 4, True: 1},
    "decides_own_scopes": {False: 9, True: 1},
    "alters_own_access": {False: 40, True: 1},
    "shared_platform_role": {False: 6, True: 1},
    "human_approval": {"every_action": 3, "high_impact_only": 5, "none": 2},
    "delegated_approval": {False: 9, True: 1},
    "network_reach": {"isolated": 2, "allowlisted": 5, "internal_broad": 2, "internet": 1},
    "traced_identity": {"all": 18, "some": 2, "none": 0.3},
    "traced_policy_decision": {"all": 16, "some": 3, "none": 0.5},
    "traced_audit_record": {"all": 18, "some": 2, "none": 0.3},
    "hybrid_pipeline": {False: 4, True: 1},
    "model_steps_self_direct": {False: 2, True: 1},
    "policy_enforcement": {"none": 1, "static_roles": 3, "policy_as_code": 3, "intent_aware": 1},
    "kill_switch": {True: 2, False: 1},
    "access_review": {"none": 1, "annual": 2, "quarterly": 3},
    "admin_sessions_brokered": {True: 2, False: 1},
}
_PLANNED = ("write_access", "tool_chaining", "delegated_approval", "new_systems", "dynamic_tools")


def _pick(rng: random.Random, key: str) -> Any:
    choices = _WEIGHTS[key]
    return rng.choices(list(choices), weights=list(choices.values()))[0]


def random_answers(
    rng: random.Random,
    *,
    credential_model: str,
    orchestration: str,
    inventory: dict[str, Any],
) -> dict[str, Any]:
    """A complete, valid answer set for one agent, around its inventory facts."""
    answers = {key: _pick(rng, key) for key in _WEIGHTS}
    if not answers["hybrid_pipeline"]:
        del answers["model_steps_self_direct"]
    answers["credential_model"] = credential_model or rng.choice(
        engine.ALLOWED_VALUES["credential_model"]
    )
    answers["orchestration"] = orchestration
    answers["planned_changes"] = rng.sample(_PLANNED, rng.choice((0, 0, 0, 0, 0, 1, 1, 2)))
    answers.update(inventory)
    return engine.validate_answers(answers)


def _nudge(rng: random.Random, answers: dict[str, Any]) -> dict[str, Any]:
    """An earlier version's answers: the same agent, one or two answers different."""
    earlier = dict(answers)
    for key in rng.sample(sorted(k for k in _WEIGHTS if k in earlier), rng.choice((1, 1, 2))):
        earlier[key] = _pick(rng, key)
    return engine.validate_answers(earlier)


@dataclass
class _Version:
    agent: Agent
    number: int
    answers: dict[str, Any]
    result: dict[str, Any]
    decided_at: dt.datetime
    next_review_on: dt.date


def assess_agents(agents: list[Agent], rng: random.Random) -> int:
    """Give each agent 1-3 approved versions, exceptions, an open review and its current
    class, tier and next review. Returns the number of assessments created."""
    if not agents:
        return 0
    User = get_user_model()
    people = list(User.objects.filter(is_active=True).order_by("pk")[:20])
    assessor = people[0]
    reviewer = people[1] if len(people) > 1 else people[0]
    catalogue = decisions.current_catalogue()
    compiled = decisions.engine_catalogue(catalogue)
    intervals = review_intervals()
    questionnaire = decisions.CURRENT_QUESTIONNAIRE
    now = timezone.now()

    ids = [a.pk for a in agents]
    systems: dict[int, list[dict[str, str]]] = {pk: [] for pk in ids}
    for agent_id, name, access in (
        System.objects.filter(agent_id__in=ids)
        .order_by("name")
        .values_list("agent_id", "name", "access")
    ):
        systems[agent_id].append({"name": name, "access": access})
    links = list(
        AgentLink.objects.filter(source_id__in=ids).values_list("source_id", "target_id", "kind")
    )
    slugs = {a.pk: a.slug for a in agents}
    role: dict[int, str] = {}
    linked: dict[int, set[int]] = {pk: set() for pk in ids}
    for source, target, kind in links:
        if target not in linked:
            continue
        linked[source].add(target)
        linked[target].add(source)
        role[source] = "orchestrates_agents" if kind == "orchestrates" else "peer_mesh"
        role[target] = "orchestrated_by_agent" if kind == "orchestrates" else "peer_mesh"

    def evaluate(answers: dict[str, Any]) -> dict[str, Any]:
        return engine.evaluate(answers, review_intervals=intervals, catalogue=compiled).to_dict()

    histories: list[list[_Version]] = []
    for agent in agents:
        inventory = {
            "systems": systems[agent.pk],
            "linked_agents": [
                {"slug": slugs[other], "systems": systems[other]}
                for other in sorted(linked[agent.pk])
            ],
        }
        latest = random_answers(
            rng,
            credential_model=agent.credential_model,
            orchestration=role.get(agent.pk, "standalone"),
            inventory=inventory,
        )
        count = rng.choices((1, 2, 3), weights=(13, 6, 1))[0]
        answer_sets = [latest]
        for _ in range(count - 1):
            answer_sets.insert(0, _nudge(rng, answer_sets[0]))
        results = [evaluate(a) for a in answer_sets]
        # Latest decision: within its review interval, so about one agent in twelve is
        # overdue; earlier ones about one interval apart.
        interval = results[-1]["review_interval_days"]
        decided = now - dt.timedelta(days=rng.uniform(0, interval * 1.08), hours=rng.uniform(0, 8))
        dates = [decided]
        for earlier in reversed(results[:-1]):
            dates.insert(
                0,
                dates[0]
                - dt.timedelta(days=rng.uniform(0.6, 1.1) * earlier["review_interval_days"]),
            )
        history = [
            _Version(
                agent=agent,
                number=index + 1,
                answers=answers,
                result=result,
                decided_at=when,
                next_review_on=timezone.localdate(when)
                + dt.timedelta(days=result["review_interval_days"]),
            )
            for index, (answers, result, when) in enumerate(
                zip(answer_sets, results, dates, strict=True)
            )
        ]
        histories.append(history)

    created = 0
    rows_by_version: list[tuple[_Version, Assessment]] = []
    for round_number in (1, 2, 3):
        batch = [h[round_number - 1] for h in histories if len(h) >= round_number]
        if not batch:
            break
        objs = [
            Assessment(
                agent=v.agent,
                number=v.number,
                status=Assessment.Status.SUBMITTED,
                questionnaire_version=questionnaire,
                catalogue=catalogue,
                answers=v.answers,
                result=v.result,
                classification=v.result["classification"],
                tier=v.result["tier"],
                assessor=assessor,
                submitted_by=assessor,
                reviewer=reviewer,
                submitted_at=v.decided_at - dt.timedelta(days=2),
                decided_at=v.decided_at,
                next_review_on=v.next_review_on,
            )
            for v in batch
        ]
        Assessment.objects.bulk_create(objs, batch_size=1000)
        rows_by_version += list(zip(batch, objs, strict=True))
        # One UPDATE per thousand agents: back-date and approve what was just inserted.
        for start in range(0, len(batch), 1000):
            Assessment.objects.filter(
                agent_id__in=[v.agent.pk for v in batch[start : start + 1000]],
                status=Assessment.Status.SUBMITTED,
            ).update(
                status=Assessment.Status.APPROVED,
                created_at=F("decided_at") - dt.timedelta(days=5),
                updated_at=F("decided_at"),
            )
        created += len(objs)

    exceptions = []
    for v, obj in rows_by_version:
        subjects = [f for f in v.result["flags"] if f in engine.BLOCKING_FLAGS]
        gaps = [c["id"] for c in v.result["controls"] if c["status"] == "gap"]
        subjects += [g for g in gaps if rng.random() < 0.04]
        for subject in subjects:
            exceptions.append(
                GapException(
                    agent=v.agent,
                    assessment=obj,
                    subject=subject,
                    reason="Accepted while the platform team closes the gap (synthetic data).",
                    expires_on=timezone.localdate(v.decided_at)
                    + dt.timedelta(days=rng.randint(30, GapException.MAX_DAYS)),
                    accepted_by=reviewer,
                )
            )
    GapException.objects.bulk_create(exceptions, batch_size=2000)

    reviews = []
    for agent, history in zip(agents, histories, strict=True):
        last = history[-1]
        reviews.append(
            Review(
                agent=agent,
                due_on=last.next_review_on,
                reasons=[
                    {
                        "code": "interval",
                        "detail": f"Scheduled: tier {last.result['tier']} is reviewed every "
                        f"{last.result['review_interval_days']} days.",
                        "at": last.decided_at.isoformat(),
                    }
                ],
            )
        )
    newest = Assessment.objects.filter(agent_id=OuterRef("pk")).order_by("-number")
    for start in range(0, len(ids), 1000):
        Agent.objects.filter(pk__in=ids[start : start + 1000]).update(
            current_classification=Subquery(newest.values("classification")[:1]),
            current_tier=Subquery(newest.values("tier")[:1]),
            next_review_on=Subquery(newest.values("next_review_on")[:1]),
        )
    Review.objects.bulk_create(reviews, batch_size=2000)
    return created
