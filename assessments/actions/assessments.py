"""Assessment actions: start, answer, submit, approve and return (four-eyes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.http import HttpRequest
from django.utils import timezone

from assessments import engine
from assessments.access import scope
from assessments.actions import notifications
from assessments.actions.errors import ActionError, ConflictError
from assessments.models import (
    Agent,
    Assessment,
    GapException,
    Notification,
    Review,
    review_intervals,
)
from assessments.records import audit, authorship
from assessments.reports.assessment import agent_facts
from assessments.workflow import decisions

# --------------------------------------------------------------------------- assessments


@transaction.atomic
def start_assessment(
    actor: Any, agent: Agent, *, request: HttpRequest | None = None, now: dt.datetime | None = None
) -> Assessment:
    """A new numbered version. A re-assessment starts from the last approved answers;
    systems and linked agents always come from the inventory."""
    agent = Agent.objects.select_for_update(of=("self",)).select_related("team").get(pk=agent.pk)
    scope.check_actor_edit(actor, agent)
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
    if agent.credential_model:
        # Asked on the agent form already (and kept current there): the wizard starts from it.
        answers["credential_model"] = agent.credential_model
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


def save_answers(
    actor: Any,
    assessment: Assessment,
    changes: dict[str, Any],
    *,
    expected_version: int,
    step: str | None = None,
    request: HttpRequest | None = None,
) -> Assessment:
    """Save answers as they are given. Conflicts are per question: a write based on an
    older version of the draft (another tab, another person) is refused, with both values,
    only for the questions saved since that version; the other answers save. When some
    were refused, ``ConflictError`` carries them and the draft as saved (``saved``)."""
    scope.check_actor_edit(actor, assessment.agent)
    for key in changes:
        if key in decisions.INVENTORY_KEYS:
            raise ActionError(f"{key} comes from the inventory: edit the agent to change it.")
    try:
        engine.validate_answers({k: v for k, v in changes.items() if v is not None})
    except engine.AnswerError as error:
        raise ActionError(str(error)) from error
    assessment, conflicts = _save_answers(
        actor, assessment, changes, expected_version=expected_version, step=step, request=request
    )
    if conflicts:
        raise ConflictError(
            "These answers changed in another window or by someone else since this page "
            "loaded. Your answer was not saved. Compare the two values, then choose again.",
            conflicts,
            saved=assessment,
        )
    return assessment


@transaction.atomic
def _save_answers(
    actor: Any,
    assessment: Assessment,
    changes: dict[str, Any],
    *,
    expected_version: int,
    step: str | None,
    request: HttpRequest | None,
) -> tuple[Assessment, dict[str, tuple[Any, Any]]]:
    current = (
        Assessment.objects.select_for_update()
        .filter(pk=assessment.pk)
        .values("answers", "answer_versions", "lock_version", "status")
        .get()
    )
    if current["status"] not in Assessment.EDITABLE_STATUSES:
        raise ActionError("This assessment has been submitted and can no longer be edited.")
    stored = dict(current["answers"] or {})
    versions = dict(current["answer_versions"] or {})
    conflicts = {
        key: (stored.get(key), value)
        for key, value in changes.items()
        if versions.get(key, 0) > expected_version and stored.get(key) != value
    }
    applied = {k: v for k, v in changes.items() if k not in conflicts}
    new = dict(stored)
    for key, value in applied.items():
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    diff = audit.diff({k: stored.get(k) for k in applied}, {k: new.get(k) for k in applied})
    fields: dict[str, Any] = {"updated_at": timezone.now()}
    if step:
        fields["current_step"] = step
    if diff:
        version = current["lock_version"] + 1
        fields["answers"] = new
        fields["answer_versions"] = {**versions, **dict.fromkeys(diff, version)}
        fields["lock_version"] = version
    Assessment.objects.filter(pk=assessment.pk).update(**fields)
    # Only the fields written above: the agent and catalogue already loaded stay cached.
    assessment.refresh_from_db(
        fields=[
            "answers",
            "answer_versions",
            "lock_version",
            "current_step",
            "updated_at",
            "status",
        ]
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
    return assessment, conflicts


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
    scope.check_actor_edit(actor, current.agent)
    if current.status not in Assessment.EDITABLE_STATUSES:
        raise ActionError("Only a draft or a returned assessment can be submitted.")
    if expected_version is not None and current.lock_version != expected_version:
        raise ConflictError(
            "These answers changed since this page loaded. Nothing was submitted. Check them "
            "below, then submit again.",
            {"Version of the answers": (str(current.lock_version), str(expected_version))},
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
    notifications.notify_submitted(actor, current)
    return current


def can_review(actor: Any, assessment: Assessment) -> tuple[bool, str]:
    """Whether ``actor`` may approve or return ``assessment``, and why not.

    Four eyes: nobody who shaped this version decides it (``authorship.authors``), and a
    service account may not decide what the people it acts for may not."""
    if not actor.has_perm("assessments.review_assessment"):
        return False, "Only reviewers can approve or return assessments."
    if why := scope.decide_refusal(actor, assessment.agent):
        return False, why
    if assessment.status != Assessment.Status.SUBMITTED:
        return False, "Only a submitted assessment can be approved or returned."
    authors = authorship.authors(assessment)
    if actor.pk in authors:
        return False, f"You {authors[actor.pk]}, so another reviewer must decide it."
    people = authorship.principals([actor.pk])
    if people:
        from django.contrib.auth import get_user_model

        for person in get_user_model().objects.filter(pk__in=people).order_by("pk"):
            name = person.get_username()
            why = ""
            if person.pk in authors:
                why = f"{name}, who {authors[person.pk]}"
            elif not person.is_active or not person.has_perm("assessments.review_assessment"):
                why = f"{name}, who may not approve or return assessments"
            elif scope.decide_refusal(person, assessment.agent):
                why = f"{name}, who may not decide for this agent's team"
            if why:
                return (
                    False,
                    f"This service account acts for {why}, so another reviewer must decide it.",
                )
    return True, ""


def can_approve(actor: Any, assessment: Assessment) -> tuple[bool, str]:
    """``can_review``, and the agent must still be in service."""
    allowed, why = can_review(actor, assessment)
    if allowed and assessment.agent.is_retired:
        return (
            False,
            f"{assessment.agent.name} is retired, so this assessment cannot be approved. "
            "Return it, or reactivate the agent first.",
        )
    return allowed, why


def _check_reviewed_version(current: Assessment, expected_version: int | None) -> None:
    """A decision is about the answers the reviewer read: refuse it if they changed since
    (returned, edited and submitted again in between)."""
    if expected_version is not None and current.lock_version != expected_version:
        raise ConflictError(
            "This assessment changed after you opened it. Nothing was decided. Read it again "
            "below, then decide.",
            {"Version of the answers": (str(current.lock_version), str(expected_version))},
        )


@transaction.atomic
def approve_assessment(
    actor: Any,
    assessment: Assessment,
    *,
    exception_subjects: list[str] | tuple[str, ...] = (),
    exception_reason: str = "",
    exception_expires_on: dt.date | None = None,
    expected_version: int | None = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    """Approve: the agent takes the assessment's class and tier, and its next review is
    scheduled. A blocking flag needs an accepted, time-boxed exception."""
    current = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("agent__team")
        .get(pk=assessment.pk)
    )
    scope.check_actor_decide(actor, current.agent)
    allowed, why = can_approve(actor, current)
    if not allowed:
        raise ActionError(why)
    _check_reviewed_version(current, expected_version)
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
    current.lock_version = F("lock_version") + 1
    current.inventory_at_approval = agent_facts(current.agent)
    current.save()
    current.refresh_from_db(fields=["lock_version"])
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
            # The approved row as stored: verify_audit_log recomputes it (records).
            "content_hash": audit.approved_content_hash(current.pk),
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
    notifications.notify_decided(actor, current)
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
    expected_version: int | None = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    current = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("agent__team")
        .get(pk=assessment.pk)
    )
    scope.check_actor_decide(actor, current.agent)
    allowed, why = can_review(actor, current)
    if not allowed:
        raise ActionError(why)
    _check_reviewed_version(current, expected_version)
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
    notifications.notify_decided(actor, current)
    return current


@transaction.atomic
def withdraw_assessment(
    actor: Any,
    assessment: Assessment,
    *,
    reason: str = "",
    expected_version: int | None = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
) -> Assessment:
    """Take a submitted assessment back before anyone decides it: it is a draft again,
    and every "… awaits your decision" about it is resolved as withdrawn."""
    current = (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("agent__team")
        .get(pk=assessment.pk)
    )
    scope.check_actor_edit(actor, current.agent)
    if current.status != Assessment.Status.SUBMITTED:
        raise ActionError("Only a submitted assessment that nobody has decided can be withdrawn.")
    if expected_version is not None and current.lock_version != expected_version:
        raise ConflictError(
            "This assessment changed since this page loaded. Nothing was withdrawn.",
            {"Version of the assessment": (str(current.lock_version), str(expected_version))},
        )
    current.status = Assessment.Status.DRAFT
    current.submitted_by = None  # a draft again: its next submission says who and when
    current.submitted_at = None
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db()
    changes: dict[str, Any] = {"status": {"old": "submitted", "new": "draft"}}
    if reason.strip():
        changes["reason"] = reason.strip()[:2000]
    audit.record(
        "assessment.withdraw",
        actor=actor,
        obj=current,
        agent=current.agent,
        request=request,
        changes=changes,
    )
    notifications.resolve_awaiting(
        current, Notification.Resolution.WITHDRAWN, actor=actor, now=now or timezone.now()
    )
    return current
