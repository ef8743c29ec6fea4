"""Every state change is a named function here (Zulip's zerver/actions).

Views, management commands, tasks and tests call these, never ``save()`` directly,
so each path writes the same audit event in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.http import HttpRequest
from django.utils import timezone

from assessments import audit, decisions, engine
from assessments.models import (
    Access,
    Agent,
    AgentLink,
    Assessment,
    GapException,
    Review,
    System,
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
    added, removed, changed = [], [], []
    for key, system in current.items():
        if key not in wanted_by_key:
            removed.append({"name": system.name, "access": system.access})
            system.delete()
    for key, row in wanted_by_key.items():
        system = current.get(key)
        if system is None:
            System.objects.create(agent=agent, name=row["name"], access=row["access"])
            added.append(dict(row))
        elif system.access != row["access"] or system.name != row["name"]:
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
    current = Agent.objects.select_for_update().select_related("owner", "team").get(pk=agent.pk)
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
    return current


_NO_SYSTEMS: dict[str, Any] = {"added": [], "removed": [], "changed": []}
_NO_LINKS: dict[str, Any] = {"added": [], "removed": []}


@transaction.atomic
def retire_agent(actor: Any, agent: Agent, *, request: HttpRequest | None = None) -> Agent:
    current = Agent.objects.select_for_update().get(pk=agent.pk)
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
    current = Agent.objects.select_for_update().get(pk=agent.pk)
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
    review = Review.objects.select_for_update().open().filter(agent=agent).first()
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
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
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
        Assessment.objects.select_for_update()
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
    current = Assessment.objects.select_for_update().select_related("agent").get(pk=assessment.pk)
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
    interval = int(result["review_interval_days"])
    next_review = today + dt.timedelta(days=interval)
    current.status = Assessment.Status.APPROVED
    current.reviewer = actor
    current.decided_at = now
    current.next_review_on = next_review
    current.save()
    for subject in subjects:
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
    review = Review.objects.select_for_update().open().filter(agent=assessment.agent).first()
    if review is not None:
        late = review.triggered_at and review.triggered_at > assessment.submitted_at
        if late:
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
                f"{(assessment.result or {}).get('review_interval_days')} days.",
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
    current = Assessment.objects.select_for_update().select_related("agent").get(pk=assessment.pk)
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


# --------------------------------------------------------------------------- reports


# --------------------------------------------------------------------------- catalogue
