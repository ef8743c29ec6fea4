"""Every state change is a named function here (Zulip's zerver/actions).

Views, management commands, tasks and tests call these, never ``save()`` directly,
so each path writes the same audit event in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.http import HttpRequest
from django.utils import timezone

from assessments import audit, decisions, engine, reviews
from assessments.models import (
    Access,
    Agent,
    AgentLink,
    Assessment,
    CalendarFeed,
    GapException,
    ReminderLog,
    Review,
    System,
    Team,
    review_intervals,
)

ACCESS_RANK = {Access.READ: 1, Access.WRITE: 2, Access.ADMIN: 3}
AGENT_FIELDS = (
    "name",
    "slug",
    "purpose",
    "owner",
    "team",
    "environments",
    "platform",
    "credential_model",
)
# Inventory fields whose change alters what the agent can reach or how it authenticates.
TRIGGER_FIELDS = {"credential_model": "credential_change", "platform": "platform_change"}


class ActionError(Exception):
    """A state change that is not allowed; the message is for the user."""


@dataclass
class ConflictError(ActionError):
    """Someone else saved first. ``fields`` maps field -> (their value, your value)."""

    message: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- inventory


def _field_values(agent: Agent) -> dict[str, Any]:
    values = {}
    for name in AGENT_FIELDS:
        value = getattr(agent, name)
        values[name] = value.pk if hasattr(value, "pk") else value
    return values


def _readable(agent: Agent, values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "owner" in out:
        out["owner"] = agent.owner.get_username()
    if "team" in out:
        out["team"] = agent.team.name
    return out


def _link_rows(agent: Agent) -> set[tuple[str, str]]:
    """The agent's links as (kind, other slug), kind seen from this agent."""
    rows = set()
    for target_slug, kind in AgentLink.objects.filter(source=agent).values_list(
        "target__slug", "kind"
    ):
        rows.add(("peer" if kind == "peer" else "orchestrates", target_slug))
    for source_slug, kind in AgentLink.objects.filter(target=agent).values_list(
        "source__slug", "kind"
    ):
        rows.add(("peer" if kind == "peer" else "orchestrated_by", source_slug))
    return rows


def _apply_systems(agent: Agent, wanted: list[dict[str, str]]) -> dict[str, Any]:
    current = {s.name.lower(): s for s in agent.systems.all()}
    wanted_by_key = {w["name"].lower(): w for w in wanted}
    added: list[dict[str, str]] = []
    removed: list[dict[str, str]] = []
    changed: list[dict[str, str]] = []
    for key, system in current.items():
        if key not in wanted_by_key:
            removed.append({"name": system.name, "access": system.access})
            system.delete()
    for key, row in wanted_by_key.items():
        existing = current.get(key)
        if existing is None:
            System.objects.create(agent=agent, name=row["name"], access=row["access"])
            added.append(dict(row))
            continue
        system = existing
        if system.access != row["access"] or system.name != row["name"]:
            changed.append({"name": row["name"], "old": system.access, "new": row["access"]})
            system.name, system.access = row["name"], row["access"]
            system.save(update_fields=["name", "access"])
    return {"added": added, "removed": removed, "changed": changed}


def _apply_links(agent: Agent, wanted: list[dict[str, str]]) -> dict[str, Any]:
    before = _link_rows(agent)
    after = {(row["kind"], row["other"]) for row in wanted}
    if before == after:
        return {"added": [], "removed": []}
    others = {a.slug: a for a in Agent.objects.filter(slug__in={o for _, o in before | after})}
    AgentLink.objects.filter(source=agent).delete()
    AgentLink.objects.filter(target=agent).delete()
    for kind, slug in sorted(after):
        other = others[slug]
        if kind == "orchestrated_by":
            source, target, stored = other, agent, AgentLink.Kind.ORCHESTRATES
        else:
            source, target = agent, other
            stored = AgentLink.Kind.PEER if kind == "peer" else AgentLink.Kind.ORCHESTRATES
        AgentLink.objects.create(source=source, target=target, kind=stored)
    return {
        "added": [{"kind": k, "agent": s} for k, s in sorted(after - before)],
        "removed": [{"kind": k, "agent": s} for k, s in sorted(before - after)],
    }


def _inventory_trigger_reasons(
    agent: Agent, field_changes: dict[str, Any], systems: dict[str, Any], links: dict[str, Any]
) -> list[dict[str, str]]:
    """Inventory changes that touch autonomy, reach or decision authority."""
    reasons = []
    for row in systems["added"]:
        if row["access"] in (Access.WRITE, Access.ADMIN):
            reasons.append(
                {
                    "code": "system_access",
                    "detail": f"System {row['name']} added with {row['access']} access.",
                }
            )
    for row in systems["changed"]:
        if ACCESS_RANK[row["new"]] > ACCESS_RANK[row["old"]] and row["new"] != Access.READ:
            reasons.append(
                {
                    "code": "system_access",
                    "detail": f"Access to {row['name']} raised from {row['old']} to {row['new']}.",
                }
            )
    for row in links["added"]:
        reasons.append(
            {
                "code": "new_link",
                "detail": f"New link: {row['kind'].replace('_', ' ')} {row['agent']}.",
            }
        )
    for name, code in TRIGGER_FIELDS.items():
        if name in field_changes:
            change = field_changes[name]
            label = name.replace("_", " ")
            reasons.append(
                {
                    "code": code,
                    "detail": f"The {label} changed from “{change['old'] or 'not recorded'}” "
                    f"to “{change['new'] or 'not recorded'}”.",
                }
            )
    return reasons


@transaction.atomic
def create_agent(
    actor: Any,
    *,
    fields: dict[str, Any],
    systems: list[dict[str, str]] | None = None,
    links: list[dict[str, str]] | None = None,
    request: HttpRequest | None = None,
) -> Agent:
    try:
        with transaction.atomic():
            agent = Agent.objects.create(**{k: fields[k] for k in AGENT_FIELDS if k in fields})
    except IntegrityError as exc:
        raise ActionError(f"An agent with the slug “{fields.get('slug')}” already exists.") from exc
    # -- reviews: the agents it links to may now reach more through it
    composite_before = _composite_before(_wanted_link_ids(links)) if links else None
    system_changes = _apply_systems(agent, systems or [])
    link_changes = _apply_links(agent, links or [])
    audit.record(
        "agent.create",
        actor=actor,
        obj=agent,
        request=request,
        changes={
            "fields": _readable(agent, _field_values(agent)),
            "systems": system_changes["added"],
            "links": link_changes["added"],
        },
    )
    if composite_before:
        _trigger_composite_escalation(actor, agent, composite_before, request=request)
    return agent


@transaction.atomic
def update_agent(
    actor: Any,
    agent: Agent,
    *,
    fields: dict[str, Any],
    systems: list[dict[str, str]] | None = None,
    links: list[dict[str, str]] | None = None,
    expected_version: int | None = None,
    request: HttpRequest | None = None,
) -> Agent:
    """Save an edit. A stale ``expected_version`` (someone saved in between) is refused."""
    current = (
        Agent.objects.select_for_update(of=("self",))
        .select_related("owner", "team")
        .get(pk=agent.pk)
    )
    if current.is_retired:
        raise ActionError("This agent is retired. Retired agents cannot be edited.")
    if expected_version is not None and current.lock_version != expected_version:
        theirs = _field_values(current)
        conflicts = {
            name: (
                theirs[name],
                fields[name] if not hasattr(fields[name], "pk") else fields[name].pk,
            )
            for name in AGENT_FIELDS
            if name in fields
            and theirs[name] != (fields[name].pk if hasattr(fields[name], "pk") else fields[name])
        }
        raise ConflictError(
            "Someone else saved this agent after you opened it. Nothing was saved. Review their "
            "values below, then save again to keep yours.",
            conflicts,
        )
    before = _field_values(current)
    before_readable = _readable(current, before)
    for name in AGENT_FIELDS:
        if name in fields:
            setattr(current, name, fields[name])
    after = _field_values(current)
    field_changes = audit.diff(before_readable, _readable(current, after))
    raw_changes = audit.diff(before, after)
    # -- reviews: reach of this agent and of every agent linked to it, before the change
    composite_before = (
        _composite_before({current.pk} | _linked_ids(current) | _wanted_link_ids(links))
        if systems is not None or links is not None
        else None
    )
    system_changes = _apply_systems(current, systems) if systems is not None else _NO_SYSTEMS
    link_changes = _apply_links(current, links) if links is not None else _NO_LINKS
    changed = bool(raw_changes) or any(system_changes.values()) or any(link_changes.values())
    if not changed:
        return current
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db(fields=["lock_version", "updated_at"])
    audit.record(
        "agent.update",
        actor=actor,
        obj=current,
        request=request,
        changes={
            "fields": field_changes,
            **{f"systems_{k}": v for k, v in system_changes.items() if v},
            **{f"links_{k}": v for k, v in link_changes.items() if v},
        },
    )
    reasons = _inventory_trigger_reasons(current, raw_changes, system_changes, link_changes)
    if reasons:
        trigger_review(current, reasons, actor=actor, request=request)
    if composite_before is not None and (
        any(system_changes.values()) or any(link_changes.values())
    ):
        _trigger_composite_escalation(actor, current, composite_before, request=request)
    return current


_NO_SYSTEMS: dict[str, Any] = {"added": [], "removed": [], "changed": []}
_NO_LINKS: dict[str, Any] = {"added": [], "removed": []}


@transaction.atomic
def retire_agent(actor: Any, agent: Agent, *, request: HttpRequest | None = None) -> Agent:
    current = Agent.objects.select_for_update(of=("self",)).get(pk=agent.pk)
    if current.is_retired:
        raise ActionError("This agent is already retired.")
    current.status = Agent.Status.RETIRED
    current.retired_at = timezone.now()
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db()
    closed = (
        Review.objects.open()
        .filter(agent=current)
        .update(state=Review.State.CLOSED, closed_at=timezone.now())
    )
    audit.record(
        "agent.retire",
        actor=actor,
        obj=current,
        request=request,
        changes={"status": {"old": "active", "new": "retired"}, "open_reviews_closed": closed},
    )
    return current


@transaction.atomic
def reactivate_agent(actor: Any, agent: Agent, *, request: HttpRequest | None = None) -> Agent:
    current = Agent.objects.select_for_update(of=("self",)).get(pk=agent.pk)
    if not current.is_retired:
        raise ActionError("This agent is already active.")
    current.status = Agent.Status.ACTIVE
    current.retired_at = None
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db()
    audit.record(
        "agent.reactivate",
        actor=actor,
        obj=current,
        request=request,
        changes={"status": {"old": "retired", "new": "active"}},
    )
    trigger_review(
        current,
        [{"code": "reactivated", "detail": "The agent was brought back into service."}],
        actor=actor,
        request=request,
    )
    return current


# --------------------------------------------------------------------------- reviews


@transaction.atomic
def trigger_review(
    agent: Agent,
    reasons: list[dict[str, str]],
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Review:
    """Open (or add reasons to) the agent's one open review, due at once."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    stamped = [{**reason, "at": now.isoformat()} for reason in reasons]
    review = Review.objects.select_for_update(of=("self",)).open().filter(agent=agent).first()
    if review is None:
        review = Review.objects.create(agent=agent, due_on=today, reasons=stamped, triggered_at=now)
    else:
        review.reasons = [*review.reasons, *stamped]
        review.due_on = min(review.due_on, today)
        review.triggered_at = review.triggered_at or now
        review.save(update_fields=["reasons", "due_on", "triggered_at"])
    audit.record(
        "review.trigger",
        actor=actor,
        obj=review,
        agent=agent,
        request=request,
        changes={"reasons": [r["detail"] for r in reasons], "due_on": review.due_on.isoformat()},
    )
    return review


# --------------------------------------------------------------------------- assessments


def _answer_conflicts(
    stored: dict[str, Any], changes: dict[str, Any]
) -> dict[str, tuple[Any, Any]]:
    return {key: (stored.get(key), value) for key, value in changes.items()}


@transaction.atomic
def start_assessment(
    actor: Any, agent: Agent, *, request: HttpRequest | None = None, now: dt.datetime | None = None
) -> Assessment:
    """A new numbered version. A re-assessment starts from the last approved answers;
    systems and linked agents always come from the inventory."""
    agent = Agent.objects.select_for_update(of=("self",)).get(pk=agent.pk)
    if agent.is_retired:
        raise ActionError("This agent is retired. Reactivate it before assessing it.")
    if Assessment.objects.open().filter(agent=agent).exists():
        raise ActionError("This agent already has an assessment in progress. Continue that one.")
    previous = Assessment.objects.approved().filter(agent=agent).order_by("-number").first()
    answers = {
        k: v
        for k, v in (previous.answers if previous else {}).items()
        if k not in decisions.INVENTORY_KEYS
    }
    number = (Assessment.objects.filter(agent=agent).aggregate(n=Max("number"))["n"] or 0) + 1
    assessment = Assessment.objects.create(
        agent=agent,
        number=number,
        questionnaire_version=decisions.CURRENT_QUESTIONNAIRE,
        catalogue=decisions.current_catalogue(),
        answers=answers,
        assessor=actor,
        based_on=previous,
    )
    if now is not None:  # back-dating, for demo data and imports of past decisions
        Assessment.objects.filter(pk=assessment.pk).update(created_at=now, updated_at=now)
        assessment.refresh_from_db()
    audit.record(
        "assessment.start",
        actor=actor,
        obj=assessment,
        agent=agent,
        request=request,
        changes={"number": number, "based_on": previous.number if previous else None},
    )
    return assessment


@transaction.atomic
def save_answers(
    actor: Any,
    assessment: Assessment,
    changes: dict[str, Any],
    *,
    expected_version: int,
    step: str | None = None,
    request: HttpRequest | None = None,
) -> Assessment:
    """Save answers as they are given. A write based on an older version of the draft
    (another tab, another person) is refused with both values, never applied."""
    for key in changes:
        if key in decisions.INVENTORY_KEYS:
            raise ActionError(f"{key} comes from the inventory: edit the agent to change it.")
    try:
        engine.validate_answers({k: v for k, v in changes.items() if v is not None})
    except engine.AnswerError as error:
        raise ActionError(str(error)) from error
    current = (
        Assessment.objects.filter(pk=assessment.pk)
        .values("answers", "lock_version", "status")
        .get()
    )
    if current["status"] not in Assessment.EDITABLE_STATUSES:
        raise ActionError("This assessment has been submitted and can no longer be edited.")
    stored = dict(current["answers"] or {})
    if current["lock_version"] != expected_version:
        raise ConflictError(
            "These answers changed in another window or by someone else since this page "
            "loaded. Your answer was not saved. Compare the two values, then choose again.",
            _answer_conflicts(stored, changes),
        )
    new = dict(stored)
    for key, value in changes.items():
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    diff = audit.diff({k: stored.get(k) for k in changes}, {k: new.get(k) for k in changes})
    fields: dict[str, Any] = {"updated_at": timezone.now()}
    if step:
        fields["current_step"] = step
    if diff:
        fields["answers"] = new
        fields["lock_version"] = F("lock_version") + 1
    updated = Assessment.objects.filter(
        pk=assessment.pk, lock_version=expected_version, status__in=Assessment.EDITABLE_STATUSES
    ).update(**fields)
    if not updated:
        raise ConflictError(
            "Someone saved these answers at the same moment. Your answer was not saved.",
            _answer_conflicts(stored, changes),
        )
    # Only the fields written above: the agent and catalogue already loaded stay cached.
    assessment.refresh_from_db(
        fields=["answers", "lock_version", "current_step", "updated_at", "status"]
    )
    if diff:
        audit.record(
            "assessment.answer",
            actor=actor,
            obj=assessment,
            agent=assessment.agent,
            request=request,
            changes=diff,
        )
    return assessment


@transaction.atomic
def submit_assessment(
    actor: Any,
    assessment: Assessment,
    *,
    expected_version: int | None = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    """Freeze the answers (with systems and links from the inventory) and the engine's
    result, and hand the assessment to a reviewer."""
    current = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("agent", "catalogue")
        .get(pk=assessment.pk)
    )
    if current.status not in Assessment.EDITABLE_STATUSES:
        raise ActionError("Only a draft or a returned assessment can be submitted.")
    if expected_version is not None and current.lock_version != expected_version:
        raise ConflictError(
            "These answers changed since this page loaded. Check them, then submit again."
        )
    answers = decisions.effective_answers(current)
    result = decisions.evaluate_answers(answers, current.catalogue)
    if result.missing:
        q = decisions.questionnaire(current.questionnaire_version)
        names = ", ".join(q.question(key).prompt for key in result.missing[:3])
        more = f" and {len(result.missing) - 3} more" if len(result.missing) > 3 else ""
        raise ActionError(
            f"{len(result.missing)} required answer{'s are' if len(result.missing) > 1 else ' is'} "
            f"missing: {names}{more}."
        )
    previous_status = current.status
    current.answers = answers
    current.result = result.to_dict()
    current.classification = result.classification
    current.tier = result.tier
    current.status = Assessment.Status.SUBMITTED
    current.submitted_by = actor
    current.submitted_at = now or timezone.now()
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db()
    audit.record(
        "assessment.submit",
        actor=actor,
        obj=current,
        agent=current.agent,
        request=request,
        changes={
            "status": {"old": previous_status, "new": "submitted"},
            "classification": result.classification,
            "tier": result.tier,
            "flags": list(result.flags),
        },
    )
    return current


def can_review(actor: Any, assessment: Assessment) -> tuple[bool, str]:
    """Whether ``actor`` may approve or return ``assessment``, and why not."""
    if not actor.has_perm("assessments.review_assessment"):
        return False, "Only reviewers can approve or return assessments."
    if actor.pk in (assessment.assessor_id, assessment.submitted_by_id):
        return (
            False,
            "You filled in or submitted this assessment, so another reviewer must decide it.",
        )
    if assessment.status != Assessment.Status.SUBMITTED:
        return False, "Only a submitted assessment can be approved or returned."
    return True, ""


@transaction.atomic
def approve_assessment(
    actor: Any,
    assessment: Assessment,
    *,
    exception_subjects: list[str] | tuple[str, ...] = (),
    exception_reason: str = "",
    exception_expires_on: dt.date | None = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    """Approve: the agent takes the assessment's class and tier, and its next review is
    scheduled. A blocking flag needs an accepted, time-boxed exception."""
    current = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("agent")
        .get(pk=assessment.pk)
    )
    allowed, why = can_review(actor, current)
    if not allowed:
        raise ActionError(why)
    now = now or timezone.now()
    today = timezone.localdate(now)
    result = current.result or {}
    blocking = [flag for flag in result.get("flags", []) if flag in engine.BLOCKING_FLAGS]
    gaps = [c["id"] for c in result.get("controls", []) if c["status"] == "gap"]
    subjects = list(dict.fromkeys(exception_subjects))
    for subject in subjects:
        if subject not in blocking and subject not in gaps:
            raise ActionError(f"{subject} is not a gap or blocking flag of this assessment.")
    already = set(
        GapException.objects.active(today)
        .filter(agent=current.agent, subject__in=blocking)
        .values_list("subject", flat=True)
    )
    uncovered = [flag for flag in blocking if flag not in subjects and flag not in already]
    if uncovered:
        raise ActionError(
            "The audit gap blocks approval: record an exception with a reason and an expiry "
            "date (at most 365 days away), or return the assessment."
        )
    if subjects:
        if not exception_reason.strip():
            raise ActionError("An exception needs a reason.")
        if exception_expires_on is None or exception_expires_on <= today:
            raise ActionError("An exception needs an expiry date after today.")
        if exception_expires_on > today + dt.timedelta(days=GapException.MAX_DAYS):
            raise ActionError("An exception can last at most 365 days.")
    # The interval in force at approval: administrators may have changed it since submission.
    interval = review_intervals().get(current.tier or 0) or int(result["review_interval_days"])
    next_review = today + dt.timedelta(days=interval)
    current.status = Assessment.Status.APPROVED
    current.reviewer = actor
    current.decided_at = now
    current.next_review_on = next_review
    current.save()
    for subject in subjects:
        assert exception_expires_on is not None  # checked above  # noqa: S101
        exception = GapException.objects.create(
            agent=current.agent,
            assessment=current,
            subject=subject,
            reason=exception_reason.strip(),
            expires_on=exception_expires_on,
            accepted_by=actor,
        )
        audit.record(
            "exception.accept",
            actor=actor,
            obj=exception,
            agent=current.agent,
            request=request,
            changes={
                "subject": subject,
                "reason": exception.reason,
                "expires_on": exception_expires_on.isoformat(),
            },
        )
    agent = current.agent
    before = {
        "classification": agent.current_classification,
        "tier": agent.current_tier,
        "next_review_on": agent.next_review_on,
    }
    Agent.objects.filter(pk=agent.pk).update(
        current_classification=current.classification,
        current_tier=current.tier,
        next_review_on=next_review,
    )
    audit.record(
        "assessment.approve",
        actor=actor,
        obj=current,
        agent=agent,
        request=request,
        changes={
            "status": {"old": "submitted", "new": "approved"},
            **audit.diff(
                before,
                {
                    "classification": current.classification,
                    "tier": current.tier,
                    "next_review_on": next_review,
                },
            ),
        },
    )
    _reschedule_review(actor, current, next_review, request=request, now=now)
    return current


def _reschedule_review(
    actor: Any,
    assessment: Assessment,
    due_on: dt.date,
    *,
    request: HttpRequest | None,
    now: dt.datetime,
) -> None:
    """Close the open review this assessment answers, and schedule the next one.

    A change that triggered the review after the assessment was submitted is not
    covered by it, so that review stays open."""
    review = (
        Review.objects.select_for_update(of=("self",)).open().filter(agent=assessment.agent).first()
    )
    if review is not None:
        submitted = assessment.submitted_at
        if review.triggered_at and submitted and review.triggered_at > submitted:
            return
        review.state = Review.State.CLOSED
        review.closed_at = now
        review.closed_by_assessment = assessment
        review.save(update_fields=["state", "closed_at", "closed_by_assessment"])
        audit.record(
            "review.close",
            actor=actor,
            obj=review,
            agent=assessment.agent,
            request=request,
            changes={"closed_by": f"v{assessment.number}"},
        )
    scheduled = Review.objects.create(
        agent=assessment.agent,
        due_on=due_on,
        reasons=[
            {
                "code": "interval",
                "detail": f"Scheduled: tier {assessment.tier} is reviewed every "
                f"{(due_on - timezone.localdate(now)).days} days.",
                "at": now.isoformat(),
            }
        ],
    )
    audit.record(
        "review.schedule",
        actor=actor,
        obj=scheduled,
        agent=assessment.agent,
        request=request,
        changes={"due_on": due_on.isoformat()},
    )


@transaction.atomic
def return_assessment(
    actor: Any,
    assessment: Assessment,
    *,
    comment: str,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    current = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("agent")
        .get(pk=assessment.pk)
    )
    allowed, why = can_review(actor, current)
    if not allowed:
        raise ActionError(why)
    if not comment.strip():
        raise ActionError("Say what needs to change: a comment is required to return it.")
    current.status = Assessment.Status.RETURNED
    current.reviewer = actor
    current.review_comment = comment.strip()
    current.decided_at = now or timezone.now()
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db()
    audit.record(
        "assessment.return",
        actor=actor,
        obj=current,
        agent=current.agent,
        request=request,
        changes={
            "status": {"old": "submitted", "new": "returned"},
            "comment": current.review_comment,
        },
    )
    return current


# --------------------------------------------------------------------------- review queue


def _composite_before(agent_ids: set[int]) -> dict[int, Any]:
    """Each agent's reach (own and through its links) before an inventory change.

    Only active agents with a classification: an agent not assessed yet has no decision
    to revisit, and its first assessment reads the inventory as it is then."""
    agents = Agent.objects.filter(pk__in=agent_ids, status=Agent.Status.ACTIVE).exclude(
        current_classification=""
    )
    return {agent.pk: reviews.reach_of(agent) for agent in agents}


def _linked_ids(agent: Agent) -> set[int]:
    return set(AgentLink.objects.filter(source=agent).values_list("target_id", flat=True)) | set(
        AgentLink.objects.filter(target=agent).values_list("source_id", flat=True)
    )


def _trigger_composite_escalation(
    actor: Any,
    changed: Agent,
    before: dict[int, Any],
    *,
    request: HttpRequest | None,
) -> list[Review]:
    """After ``changed``'s systems or links changed: trigger the review of every agent
    (``changed`` included) whose reach through its linked agents went up."""
    triggered = []
    affected = set(before) | _linked_ids(changed)
    for agent in Agent.objects.filter(pk__in=affected, status=Agent.Status.ACTIVE).order_by("pk"):
        was = before.get(agent.pk)
        if was is None:  # linked only now: its reach before did not include ``changed``
            continue
        raised = reviews.reach_raises(was, reviews.reach_of(agent))
        if not raised:
            continue
        whose = "this agent" if agent.pk == changed.pk else f"{changed.name} ({changed.slug})"
        detail = (
            f"Composite reach raised by a change to {whose}: through its linked agents it "
            f"now reaches {'; '.join(raised)}."
        )
        triggered.append(
            trigger_review(
                agent,
                [{"code": "composite_escalation", "detail": detail, "subject": changed.slug}],
                actor=actor,
                request=request,
            )
        )
    return triggered


def _wanted_link_ids(links: list[dict[str, str]] | None) -> set[int]:
    slugs = {row["other"] for row in links or []}
    if not slugs:
        return set()
    return set(Agent.objects.filter(slug__in=slugs).values_list("pk", flat=True))


@transaction.atomic
def mark_planned_change_landed(
    actor: Any,
    agent: Agent,
    change: str,
    *,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Review:
    """A change the latest approved assessment planned (``planned_changes``) has landed:
    the agent is due for reassessment at once."""
    agent = Agent.objects.select_for_update(of=("self",)).get(pk=agent.pk)
    if agent.is_retired:
        raise ActionError("This agent is retired: reactivate it first.")
    latest = Assessment.objects.approved().filter(agent=agent).order_by("-number").first()
    planned = list((latest.answers or {}).get("planned_changes") or []) if latest else []
    if latest is None or change not in planned:
        raise ActionError("That change is not planned in the latest approved assessment.")
    open_review = Review.objects.open().filter(agent=agent).first()
    if change in reviews.landed_changes(open_review):
        raise ActionError(
            "This change is already marked as landed; the reassessment it triggered is open."
        )
    label = reviews.planned_change_label(change)
    return trigger_review(
        agent,
        [
            {
                "code": "planned_change",
                "detail": f"Planned change landed: {label.lower()} "
                f"(planned in assessment v{latest.number}).",
                "subject": change,
            }
        ],
        actor=actor,
        request=request,
        now=now,
    )


def _exception_reopens_gap(exception: GapException, today: dt.date) -> bool:
    """An expired exception re-opens its gap only if the agent's latest approved
    assessment still has that gap or flag and no other exception still covers it."""
    agent = exception.agent
    if agent.is_retired:
        return False
    latest = Assessment.objects.approved().filter(agent=agent).order_by("-number").first()
    result = (latest.result or {}) if latest else {}
    open_subjects = set(result.get("flags", [])) | {
        c["id"] for c in result.get("controls", []) if c.get("status") == "gap"
    }
    if exception.subject not in open_subjects:
        return False
    covered = (
        GapException.objects.active(today)
        .filter(agent=agent, subject=exception.subject)
        .exclude(pk=exception.pk)
        .exists()
    )
    return not covered


@dataclass
class ExpiredException:
    exception: GapException
    reopened: bool


def process_expired_exceptions(
    *, now: dt.datetime | None = None, dry_run: bool = False, actor: Any = None
) -> list[ExpiredException]:
    """Every exception that expired and was not processed yet: record it, and trigger
    the agent's review when the gap is open again. Safe to run any number of times."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    processed = []
    pending = (
        GapException.objects.expired_unprocessed(today)
        .select_related("agent", "accepted_by")
        .order_by("expires_on", "pk")
    )
    for candidate in pending:
        if dry_run:
            processed.append(ExpiredException(candidate, _exception_reopens_gap(candidate, today)))
            continue
        with transaction.atomic():
            exception = (
                GapException.objects.select_for_update(of=("self",))
                .select_related("agent", "accepted_by")
                .filter(pk=candidate.pk, expiry_processed_at=None)
                .first()
            )
            if exception is None:  # another run got there first
                continue
            reopened = _exception_reopens_gap(exception, today)
            exception.expiry_processed_at = now
            exception.save(update_fields=["expiry_processed_at"])
            audit.record(
                "exception.expire",
                actor=actor,
                obj=exception,
                agent=exception.agent,
                changes={
                    "subject": exception.subject,
                    "expired_on": exception.expires_on.isoformat(),
                    "gap_reopened": reopened,
                },
            )
            if reopened:
                trigger_review(
                    exception.agent,
                    [
                        {
                            "code": "exception_expired",
                            "detail": f"The exception for {exception.subject.replace('_', ' ')} "
                            f"accepted by {reviews.person(exception.accepted_by)} expired on "
                            f"{exception.expires_on:%d %b %Y}: the gap is open again.",
                            "subject": exception.subject,
                        }
                    ],
                    actor=actor,
                    now=now,
                )
            processed.append(ExpiredException(exception, reopened))
    return processed


def _check_assignee(actor: Any, assignee: Any) -> None:
    if not actor.has_perm("assessments.change_review"):
        raise ActionError("Only reviewers can assign reviews.")
    if assignee is not None and not (
        assignee.is_active and assignee.has_perm("assessments.change_review")
    ):
        raise ActionError(f"{reviews.person(assignee)} is not a reviewer and cannot be assigned.")


@transaction.atomic
def assign_reviews(
    actor: Any,
    review_ids: list[int],
    assignee: Any,
    *,
    request: HttpRequest | None = None,
) -> list[Review]:
    """Assign open reviews to a reviewer (``assignee=None`` unassigns). Reviews that
    were closed meanwhile are skipped; each change is an audit event."""
    _check_assignee(actor, assignee)
    changed = []
    locked = (
        Review.objects.select_for_update(of=("self",))
        .open()
        .filter(pk__in=review_ids)
        .select_related("agent", "assignee")
        .order_by("pk")
    )
    for review in locked:
        if review.assignee_id == (assignee.pk if assignee else None):
            continue
        before = review.assignee.get_username() if review.assignee else None
        review.assignee = assignee
        review.save(update_fields=["assignee"])
        audit.record(
            "review.assign",
            actor=actor,
            obj=review,
            agent=review.agent,
            request=request,
            changes={
                "assignee": {
                    "old": before,
                    "new": assignee.get_username() if assignee else None,
                }
            },
        )
        changed.append(review)
    return changed


def assign_review(
    actor: Any, review: Review, assignee: Any, *, request: HttpRequest | None = None
) -> Review:
    if review.state != Review.State.OPEN:
        raise ActionError("This review is closed; there is nothing to assign.")
    assign_reviews(actor, [review.pk], assignee, request=request)
    review.refresh_from_db(fields=["assignee", "state"])
    return review


@transaction.atomic
def record_reminders(
    recipient: Any, items: list[tuple[Review, str]], *, now: dt.datetime | None = None
) -> None:
    """Log that ``recipient`` was reminded of each (review, threshold): never twice.

    Raises ``IntegrityError`` when another run logged one of them first."""
    ReminderLog.objects.bulk_create(
        ReminderLog(review=review, recipient=recipient, threshold=threshold)
        for review, threshold in items
    )
    audit.record(
        "review.remind",
        obj=recipient,
        object_repr=f"Reminder to {recipient.get_username()}"[:255],
        changes={
            "reviews": [
                {"agent": review.agent.slug, "due_on": review.due_on.isoformat(), "threshold": t}
                for review, t in items
            ]
        },
    )


MAX_CALENDAR_FEEDS = 10


@transaction.atomic
def create_calendar_feed(
    actor: Any,
    *,
    scope: str,
    team: Team | None = None,
    request: HttpRequest | None = None,
) -> tuple[CalendarFeed, str]:
    """A new secret feed URL. Returns the feed and its token, which is shown once: only
    its hash is stored."""
    if scope not in CalendarFeed.Scope.values:
        raise ActionError("Choose whose reviews the feed shows.")
    if scope == CalendarFeed.Scope.TEAM and team is None:
        raise ActionError("Choose the team whose reviews the feed shows.")
    if scope == CalendarFeed.Scope.MINE:
        team = None
    active = CalendarFeed.objects.filter(owner=actor, revoked_at=None).count()
    if active >= MAX_CALENDAR_FEEDS:
        raise ActionError(
            f"You already have {MAX_CALENDAR_FEEDS} active feeds. Revoke one you no longer use."
        )
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        owner=actor, scope=scope, team=team, token_hash=CalendarFeed.hash_token(token)
    )
    audit.record(
        "calendar_feed.create",
        actor=actor,
        obj=feed,
        request=request,
        changes={"scope": scope, "team": team.slug if team else None},
    )
    return feed, token


@transaction.atomic
def revoke_calendar_feed(
    actor: Any, feed: CalendarFeed, *, request: HttpRequest | None = None
) -> CalendarFeed:
    current = CalendarFeed.objects.select_for_update(of=("self",)).get(pk=feed.pk)
    if current.owner_id != actor.pk:
        raise ActionError("Only the person who created a feed can revoke it.")
    if current.revoked_at is not None:
        raise ActionError("This feed is already revoked.")
    current.revoked_at = timezone.now()
    current.save(update_fields=["revoked_at"])
    audit.record(
        "calendar_feed.revoke",
        actor=actor,
        obj=current,
        request=request,
        changes={"scope": current.scope, "team": current.team_id},
    )
    return current


# --------------------------------------------------------------------------- reports
# (Imports inside each function: the report modules import the wizard's views, which
# import this module.)


@dataclass(frozen=True)
class IssuedReport:
    """A recorded report and its PDF (kept in the record only for approved assessments)."""

    record: Any
    pdf: bytes


def _report_author(actor: Any, actor_label: str | None) -> str:
    if actor is not None:
        return actor.get_full_name() or actor.get_username()
    return actor_label or "the command line"


def issue_assessment_report(
    actor: Any,
    assessment: Assessment,
    *,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
) -> IssuedReport:
    """The PDF report of ``assessment``, recorded so a copy can be verified later.

    An approved assessment's report is rendered once and kept: every later call returns
    that record and the very same bytes. Any other status is rendered afresh each time
    (with a DRAFT watermark); each copy gets its own record, without the PDF itself.
    """
    from assessments.models import ReportRecord
    from assessments.reports.assessment import render_assessment_report
    from assessments.reports.pdf import new_document_id, sha256_hex

    approved = assessment.status == Assessment.Status.APPROVED
    kept = ReportRecord.objects.filter(
        assessment=assessment, kind=ReportRecord.Kind.ASSESSMENT, pdf__isnull=False
    ).order_by("created_at", "pk")
    if approved and (record := kept.first()) is not None:
        return IssuedReport(record, bytes(record.pdf or b""))
    now = timezone.now()
    document_id = new_document_id("assessment", now)
    author = _report_author(actor, actor_label)
    report = render_assessment_report(
        assessment, document_id=document_id, generated_at=now, generated_by=author
    )
    with transaction.atomic():
        if approved:
            # Two first downloads at once: the second waits here and serves the first's.
            Assessment.objects.select_for_update(of=("self",)).filter(pk=assessment.pk).exists()
            if (record := kept.first()) is not None:
                return IssuedReport(record, bytes(record.pdf or b""))
        record = ReportRecord.objects.create(
            document_id=document_id,
            kind=ReportRecord.Kind.ASSESSMENT,
            assessment=assessment,
            content_sha256=report.content_sha256,
            file_sha256=sha256_hex(report.rendered.data),
            pdf=report.rendered.data if approved else None,
            params={
                "agent": assessment.agent.slug,
                "version": assessment.number,
                "status": assessment.status,
                "generated_by": author,
            },
            pages=report.rendered.pages,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ReportRecord.objects.filter(pk=record.pk).update(created_at=now)
        record.created_at = now
        audit.record(
            "report.issue",
            actor=actor,
            obj=record,
            agent=assessment.agent,
            request=request,
            actor_label=None if actor is not None else author,
            changes={
                "kind": "assessment",
                "assessment": f"v{assessment.number}",
                "status": assessment.status,
                "kept": approved,
                "file_sha256": record.file_sha256,
                "content_sha256": record.content_sha256,
            },
        )
    return IssuedReport(record, report.rendered.data)


def issue_board_pack(
    actor: Any,
    params: dict[str, Any],
    *,
    progress: Any = None,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
) -> IssuedReport:
    """Render and record a board pack for ``params`` (see reports.board.BoardFilters)."""
    from assessments.models import ReportRecord
    from assessments.reports.board import BoardFilters, render_board_pack
    from assessments.reports.pdf import new_document_id, sha256_hex

    filters = BoardFilters.from_params(params)
    now = timezone.now()
    document_id = new_document_id("board", now)
    author = _report_author(actor, actor_label)
    pack = render_board_pack(
        filters, document_id=document_id, generated_at=now, generated_by=author, progress=progress
    )
    with transaction.atomic():
        record = ReportRecord.objects.create(
            document_id=document_id,
            kind=ReportRecord.Kind.BOARD,
            content_sha256=pack.content_sha256,
            file_sha256=sha256_hex(pack.rendered.data),
            params={**filters.to_params(), "generated_by": author},
            pages=pack.rendered.pages,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ReportRecord.objects.filter(pk=record.pk).update(created_at=now)
        record.created_at = now
        audit.record(
            "report.issue",
            actor=actor,
            obj=record,
            request=request,
            actor_label=None if actor is not None else author,
            changes={
                "kind": "board",
                "filters": filters.to_params(),
                "pages": record.pages,
                "file_sha256": record.file_sha256,
                "content_sha256": record.content_sha256,
            },
        )
    return IssuedReport(record, pack.rendered.data)


@transaction.atomic
def request_board_pack(
    actor: Any, params: dict[str, Any], *, request: HttpRequest | None = None
) -> Any:
    """Queue a board pack; the background task renders it (``run_board_pack_job``)."""
    from assessments.models import BoardPackJob
    from assessments.reports.board import BoardFilters

    filters = BoardFilters.from_params(params)  # refuses bad filters before queueing
    job = BoardPackJob.objects.create(
        requested_by=actor, params=filters.to_params(), message="Waiting for a worker"
    )
    audit.record(
        "report.board_request",
        actor=actor,
        obj=job,
        request=request,
        changes={"filters": filters.to_params()},
    )
    job_id = job.pk

    def enqueue() -> None:
        from assessments.tasks import render_board_pack

        render_board_pack.enqueue(job_id)

    transaction.on_commit(enqueue)
    return job


def run_board_pack_job(job_id: int) -> None:
    """Render a queued board pack, reporting progress on the job as it goes."""
    import logging
    import time

    from assessments.models import BoardPackJob

    started = BoardPackJob.objects.filter(pk=job_id, state=BoardPackJob.State.QUEUED).update(
        state=BoardPackJob.State.RUNNING, progress=1, message="Starting"
    )
    if not started:  # already run, or running elsewhere: a retried task does nothing
        return
    job = BoardPackJob.objects.select_related("requested_by").get(pk=job_id)
    last = [0.0]

    def progress(percent: int, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < 0.4 and percent < 95:
            return  # the browser polls once a second; fewer writes is kinder to SQLite
        last[0] = now
        BoardPackJob.objects.filter(pk=job_id).update(progress=percent, message=message[:255])

    try:
        issued = issue_board_pack(job.requested_by, job.params, progress=progress)
    except Exception as error:
        logging.getLogger(__name__).exception("Board pack %s failed", job_id)
        BoardPackJob.objects.filter(pk=job_id).update(
            state=BoardPackJob.State.FAILED,
            message=f"The board pack could not be made ({type(error).__name__}). "
            "Try again; if it fails again, tell an administrator.",
            finished_at=timezone.now(),
        )
        return
    BoardPackJob.objects.filter(pk=job_id).update(
        state=BoardPackJob.State.DONE,
        progress=100,
        message=f"Ready: {issued.record.pages} pages",
        pdf=issued.pdf,
        report=issued.record,
        finished_at=timezone.now(),
    )


# --------------------------------------------------------------------------- catalogue
# (The catalogue section imports what it needs in each function, so that it stays an
# append-only block of this shared module.)


@transaction.atomic
def load_catalogue_version(
    actor: Any,
    data: Any,
    *,
    make_current: bool = False,
    source: str = "",
    request: HttpRequest | None = None,
) -> Any:
    """Store catalogue data (the YAML's shape) as a new version, never over an old one.

    The first version installed becomes current even without ``make_current``: without
    a current version no assessment can start.
    """
    from assessments import catalogue as versions
    from assessments.models import CatalogueVersion

    if not isinstance(data, dict):
        raise ActionError("The catalogue file must hold a mapping with version, frameworks, …")
    try:
        normalised = engine.Catalogue.from_dict(data).to_dict()
        versions.check_rows(normalised)
        versions.check_version_string(normalised["version"])
    except (engine.CatalogueError, ValueError) as exc:
        raise ActionError(str(exc)) from exc
    had_current = CatalogueVersion.objects.filter(is_current=True).exists()
    try:
        with transaction.atomic():
            version = decisions.import_catalogue(normalised, make_current=False)
    except IntegrityError as exc:  # someone loaded the same version string just now
        raise ActionError(f"Catalogue version {normalised['version']!r} already exists.") from exc
    audit.record(
        "catalogue.load",
        actor=actor,
        obj=version,
        request=request,
        changes={"version": version.version, "source": source, **versions.summary(normalised)},
    )
    if make_current or not had_current:
        make_catalogue_current(actor, version, request=request)
        version.refresh_from_db()
    return version


@transaction.atomic
def copy_catalogue_version(
    actor: Any,
    source: Any,
    *,
    new_version: str = "",
    request: HttpRequest | None = None,
) -> Any:
    """Deep-copy a version (frameworks, items, controls, mappings, notes) under a new
    version string, not current, so it can be edited and then made current."""
    from assessments import catalogue as versions
    from assessments.models import CatalogueVersion

    source = CatalogueVersion.objects.get(pk=source.pk)
    try:
        wanted = versions.check_version_string(
            new_version or versions.next_copy_version(source.version)
        )
        data = {**decisions.catalogue_data(source), "version": wanted}
        engine.Catalogue.from_dict(data)
        versions.check_rows(data)
    except (engine.CatalogueError, ValueError) as exc:
        raise ActionError(f"Catalogue {source.version} cannot be copied: {exc}") from exc
    try:
        with transaction.atomic():
            copy = decisions.import_catalogue(data, make_current=False)
    except IntegrityError as exc:
        raise ActionError(f"Catalogue version {wanted!r} already exists.") from exc
    copy.notes = f"Copied from catalogue {source.version}." + (
        f"\n\n{source.notes}" if source.notes else ""
    )
    copy.save(update_fields=["notes", "updated_at"])
    audit.record(
        "catalogue.copy",
        actor=actor,
        obj=copy,
        request=request,
        changes={"from": source.version, "version": copy.version, **versions.summary(data)},
    )
    return copy


@transaction.atomic
def make_catalogue_current(actor: Any, version: Any, *, request: HttpRequest | None = None) -> Any:
    """Make ``version`` the one current catalogue: new assessments are decided under it.

    Assessments already started keep the version they started with.
    """
    from assessments.models import CatalogueVersion

    # Lock every version row, so two administrators cannot both make one current.
    rows = {
        v.pk: v for v in CatalogueVersion.objects.select_for_update(of=("self",)).order_by("pk")
    }
    target = rows.get(version.pk)
    if target is None:
        raise ActionError("That catalogue version no longer exists.")
    if target.is_current:
        raise ActionError(f"Catalogue {target.version} is already the current version.")
    try:
        built = engine.Catalogue.from_dict(decisions.catalogue_data(target))
    except engine.CatalogueError as exc:
        raise ActionError(f"Catalogue {target.version} cannot be made current: {exc}") from exc
    if not built.controls:
        raise ActionError(
            f"Catalogue {target.version} has no controls, so it cannot be made current."
        )
    previous = next((v for v in rows.values() if v.is_current), None)
    CatalogueVersion.objects.filter(is_current=True).update(is_current=False)
    CatalogueVersion.objects.filter(pk=target.pk).update(is_current=True)
    target.is_current = True
    audit.record(
        "catalogue.make_current",
        actor=actor,
        obj=target,
        request=request,
        changes={"current": {"old": previous.version if previous else None, "new": target.version}},
    )
    return target
