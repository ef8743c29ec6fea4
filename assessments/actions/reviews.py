"""Review actions: triggered and scheduled reviews, composite escalation, planned
changes, expired exceptions, assignment and reminders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments.access import scope
from assessments.actions.errors import ActionError, ConflictError
from assessments.models import (
    Agent,
    AgentLink,
    Assessment,
    GapException,
    Review,
)
from assessments.records import audit
from assessments.workflow import reviews

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
    agent = Agent.objects.select_for_update(of=("self",)).select_related("team").get(pk=agent.pk)
    scope.check_actor_edit(actor, agent)
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
    versions: Mapping[int, int | None] | None = None,
    request: HttpRequest | None = None,
) -> list[Review]:
    """Assign open reviews to a reviewer (``assignee=None`` unassigns). Reviews that
    were closed meanwhile are skipped; each change is an audit event.

    ``versions`` (review id -> the ``lock_version`` the person's page showed) ties the
    assignment to what they read: when one of the reviews was assigned since, nothing
    is changed and ``ConflictError`` says which (people's pages and the API send it;
    the system, reassigning a leaver's reviews, does not)."""
    _check_assignee(actor, assignee)
    changed = []
    locked = list(
        Review.objects.select_for_update(of=("self",))
        .open()
        .filter(pk__in=review_ids)
        .select_related("agent__team", "assignee")
        .order_by("pk")
    )
    for review in locked:
        scope.check_actor_decide(actor, review.agent)
        if (
            assignee is not None
            and scope.editing_scoped()
            and not scope.may_decide(assignee, review.agent)
        ):
            raise ActionError(
                f"{reviews.person(assignee)} is not in the team {review.agent.team}, so "
                f"could not decide for {review.agent.name}: choose one of its reviewers."
            )
    if versions is not None:
        stale = [r for r in locked if versions.get(r.pk) != r.lock_version]
        if stale:
            now = "; ".join(
                f"{r.agent.name} is now assigned to "
                f"{reviews.person(r.assignee) if r.assignee else 'nobody'}"
                for r in stale
            )
            raise ConflictError(
                f"The queue changed after you opened it ({now}). Nothing was assigned: read "
                "the queue again, then assign.",
                {
                    f"Version of the review of {r.agent.name}": (
                        str(r.lock_version),
                        str(versions.get(r.pk)),
                    )
                    for r in stale
                },
            )
    for review in locked:
        if review.assignee_id == (assignee.pk if assignee else None):
            continue
        before = review.assignee.get_username() if review.assignee else None
        review.assignee = assignee
        review.lock_version += 1
        review.save(update_fields=["assignee", "lock_version"])
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
    actor: Any,
    review: Review,
    assignee: Any,
    *,
    expected_version: int | None = None,
    request: HttpRequest | None = None,
) -> Review:
    if review.state != Review.State.OPEN:
        raise ActionError("This review is closed; there is nothing to assign.")
    versions = None if expected_version is None else {review.pk: expected_version}
    assign_reviews(actor, [review.pk], assignee, versions=versions, request=request)
    review.refresh_from_db(fields=["assignee", "state"])
    return review
