"""Notification actions: who is told about a submission, a decision, an expiring
exception or a review due, in the app and by e-mail as each person chose.

The assessment actions call ``notify_submitted`` and ``notify_decided`` inside their own
transaction, so every path that submits, approves or returns (a page, a command, the
API) tells the same people. Immediate e-mails go out through the background task
``send_notification_emails`` once the transaction commits; everything else waits for
the daily digest (``assessments.workflow.notifications.send_daily_digests``).

Every text stored here is one line (``presentation.one_line``): it is placed in e-mail
subjects and bodies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from assessments import presentation
from assessments.access import foreign
from assessments.access import scope as team_scope
from assessments.actions.errors import ActionError
from assessments.models import (
    Assessment,
    EmailChoice,
    GapException,
    Notification,
    NotificationPreference,
    ReminderLog,
    Review,
    Role,
)
from assessments.presentation import one_line
from assessments.records import audit
from assessments.workflow import background, reviews

User = get_user_model()

_REVIEW_PERMISSION = Q(
    groups__permissions__codename="review_assessment",
    groups__permissions__content_type__app_label="assessments",
) | Q(
    user_permissions__codename="review_assessment",
    user_permissions__content_type__app_label="assessments",
)


def reviewers() -> QuerySet[Any]:
    """Active people who may approve or return assessments."""
    return User.objects.filter(Q(is_active=True) & (_REVIEW_PERMISSION | Q(is_superuser=True)))


def email_choices(user_ids: Iterable[int]) -> dict[int, str]:
    """Each person's e-mail choice; people without a preference get the default."""
    ids = list(user_ids)
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=ids).values_list("user_id", "email")
    )
    return {pk: chosen.get(pk, EmailChoice.IMMEDIATE) for pk in ids}


def email_choice(user: Any) -> str:
    return email_choices([user.pk])[user.pk]


def _create(
    recipients: Iterable[Any],
    kind: str,
    *,
    title: str,
    body: str,
    url: str = "",
    agent: Any = None,
    assessment: Assessment | None = None,
    dedupe_key: str = "",
    immediate: bool = True,
    now: dt.datetime | None = None,
) -> list[Notification]:
    """One notification per distinct active recipient. People who chose immediate
    e-mail get theirs from a background task after the commit (when ``immediate``);
    the others wait for the daily digest, or are never e-mailed (choice "off", or no
    address)."""
    people = {p.pk: p for p in recipients if p is not None and p.is_active}
    if not people:
        return []
    if dedupe_key:
        already = set(
            Notification.objects.filter(recipient__in=people, dedupe_key=dedupe_key).values_list(
                "recipient_id", flat=True
            )
        )
        people = {pk: p for pk, p in people.items() if pk not in already}
    choices = email_choices(people)

    def state(person: Any) -> str:
        if choices[person.pk] == EmailChoice.OFF or not person.email:
            return Notification.EmailState.NOT_SENT
        if immediate and choices[person.pk] == EmailChoice.IMMEDIATE:
            return Notification.EmailState.QUEUED
        return Notification.EmailState.DIGEST

    rows = [
        Notification(
            recipient=person,
            kind=kind,
            title=one_line(title)[:255],
            body=one_line(body),
            url=url,
            agent=agent,
            assessment=assessment,
            dedupe_key=dedupe_key,
            created_at=now or timezone.now(),
            email_state=state(person),
        )
        for _pk, person in sorted(people.items())
    ]
    created = Notification.objects.bulk_create(rows)
    queued = [n.pk for n in created if n.email_state == Notification.EmailState.QUEUED]
    if queued:
        background.enqueue("send_notification_emails", queued)
    return created


def notify_owner_left(recipients: Iterable[Any], agent: Any, *, left: str) -> list[Notification]:
    """Tell ``recipients`` (the team's reviewers) that ``agent`` is orphaned: ``left``,
    its owner or sponsor, left with no successor named. Once per orphaning."""
    return _create(
        recipients,
        Notification.Kind.OWNER_LEFT,
        title=f"{agent.name} has no owner: {left} left",
        body=(
            f"{left} owned or sponsored {agent.name} ({agent.slug}) and left, with no "
            "successor named. Take it on, or name its owner and sponsor."
        ),
        url=agent.get_absolute_url(),
        agent=agent,
        dedupe_key=f"owner-left:{agent.pk}:{agent.orphaned_at:%Y%m%d%H%M%S}",
    )


def _class_and_tier(assessment: Assessment) -> str:
    name = assessment.get_classification_display().lower() or "unclassified"
    return f"{name}, tier {assessment.tier}" if assessment.tier else name


def _ineligible_ids(assessment: Assessment) -> set[int]:
    """People who may not decide ``assessment`` (four-eyes): no point asking them."""
    from assessments.records import authorship

    return set(authorship.authors(assessment))


def submitted_recipients(assessment: Assessment) -> list[Any]:
    """The reviewers of the agent's team when the team has any who may decide it, else
    every reviewer who may (only administrators when editing is team-scoped: nobody else
    may decide for a team that is not theirs)."""
    ineligible = _ineligible_ids(assessment)
    eligible = reviewers().exclude(pk__in=ineligible)
    team = list(eligible.filter(teams=assessment.agent.team_id).distinct().order_by("pk"))
    if team:
        return team
    if team_scope.editing_scoped():
        eligible = eligible.filter(Q(is_superuser=True) | Q(groups__name=Role.ADMINISTRATOR))
    return list(eligible.distinct().order_by("pk"))


def resolve_awaiting(
    assessment: Assessment,
    resolution: str,
    *,
    actor: Any = None,
    now: dt.datetime | None = None,
    agent_wide: bool = False,
) -> int:
    """Resolve every "… awaits your decision" notice about ``assessment`` (with
    ``agent_wide``, about any assessment of its agent): decided (approved or returned),
    withdrawn or superseded. Each is shown as done, with who did it and when, and is no
    longer unread; one still waiting for an e-mail is not sent. Returns how many."""
    now = now or timezone.now()
    notices = Notification.objects.awaiting()
    if agent_wide:
        notices = notices.filter(agent_id=assessment.agent_id)
    else:
        notices = notices.filter(assessment=assessment)
    ids = list(notices.values_list("pk", flat=True))
    if not ids:
        return 0
    done = Notification.objects.filter(pk__in=ids)
    done.filter(read_at__isnull=True).update(read_at=now)
    done.filter(
        email_state__in=[Notification.EmailState.QUEUED, Notification.EmailState.DIGEST]
    ).update(email_state=Notification.EmailState.NOT_SENT)
    return done.update(
        resolved_at=now,
        resolved_by=actor if getattr(actor, "pk", None) else None,
        resolution=resolution,
    )


def notify_submitted(actor: Any, assessment: Assessment) -> list[Notification]:
    agent = assessment.agent
    # An earlier request about this agent that nobody closed is superseded by this one.
    resolve_awaiting(
        assessment,
        Notification.Resolution.SUPERSEDED,
        actor=actor,
        now=assessment.submitted_at,
        agent_wide=True,
    )
    return _create(
        submitted_recipients(assessment),
        Notification.Kind.SUBMITTED,
        title=f"{agent.name} v{assessment.number} awaits your decision",
        body=(
            f"{reviews.person(actor)} submitted version {assessment.number} of the assessment "
            f"of {agent.name} ({agent.slug}): {_class_and_tier(assessment)}. Approve it, or "
            "return it to the assessor with a comment."
        ),
        url=assessment.get_absolute_url(),
        agent=agent,
        assessment=assessment,
        now=assessment.submitted_at,
    )


def notify_decided(actor: Any, assessment: Assessment) -> list[Notification]:
    """Tell the assessor and the submitter that their assessment was approved or returned."""
    agent = assessment.agent
    ids = {assessment.assessor_id, assessment.submitted_by_id} - {actor.pk}
    people = User.objects.filter(pk__in=[pk for pk in ids if pk is not None])
    if assessment.status == Assessment.Status.APPROVED:
        kind = Notification.Kind.APPROVED
        title = f"{agent.name} v{assessment.number} was approved"
        body = (
            f"{reviews.person(actor)} approved version {assessment.number} of the assessment of "
            f"{agent.name} ({agent.slug}): it is governed as {_class_and_tier(assessment)}."
        )
        if assessment.next_review_on:
            body += f" Next review due {assessment.next_review_on:%d %b %Y}."
    else:
        kind = Notification.Kind.RETURNED
        title = f"{agent.name} v{assessment.number} was returned to you"
        body = (
            f"{reviews.person(actor)} returned version {assessment.number} of the assessment of "
            f"{agent.name} ({agent.slug}) with this comment: {assessment.review_comment} "
            "Change what is asked, then submit it again."
        )
    # Whoever was asked to decide it sees it done, by whom and when.
    resolve_awaiting(assessment, assessment.status, actor=actor, now=assessment.decided_at)
    return _create(
        people,
        kind,
        title=title,
        body=body,
        url=assessment.get_absolute_url(),
        agent=agent,
        assessment=assessment,
        now=assessment.decided_at,
    )


def exceptions_in_force(today: dt.date) -> list[GapException]:
    """Active exceptions of active agents, the latest expiry per agent and subject: an
    exception renewed by a later one is not announced as expiring."""
    latest: dict[tuple[int, str], GapException] = {}
    for exception in (
        GapException.objects.active(today)
        .filter(agent__status="active")
        .select_related("agent", "agent__owner", "accepted_by")
        .order_by("expires_on", "pk")
    ):
        latest[(exception.agent_id, exception.subject)] = exception
    return list(latest.values())


def expiring_notices(today: dt.date) -> list[tuple[GapException, str]]:
    """(exception, threshold) for exceptions in force reaching 30, 7 or 1 days left."""
    notices = []
    for exception in exceptions_in_force(today):
        threshold = reviews.threshold_for(exception.expires_on, today)
        if threshold is not None and threshold != "overdue":
            notices.append((exception, threshold))
    return sorted(notices, key=lambda n: (n[0].expires_on, n[0].pk))


def notify_expiring_exceptions(*, now: dt.datetime | None = None) -> list[Notification]:
    """Tell an agent's owner and the reviewer who accepted an exception that it runs out
    in 30, 7 or 1 days. Each (exception, threshold) is announced once per person; the
    daily digest carries the e-mail."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    created: list[Notification] = []
    for exception, threshold in expiring_notices(today):
        agent = exception.agent
        days = (exception.expires_on - today).days
        left = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        subject = presentation.words(exception.subject, "subject")
        with transaction.atomic():
            created += _create(
                [agent.owner, exception.accepted_by],
                Notification.Kind.EXCEPTION_EXPIRING,
                title=f"The exception for {subject} on {agent.name} expires {left}",
                body=(
                    f"The exception for {subject} on {agent.name} "
                    f"({agent.slug}), accepted by {reviews.person(exception.accepted_by)}, "
                    f"expires on {exception.expires_on:%d %b %Y}. Then the gap is open again "
                    "and the agent is due for review: close the gap or reassess it before then."
                ),
                url=agent.get_absolute_url(),
                agent=agent,
                dedupe_key=f"exception:{exception.pk}:{threshold}",
                immediate=False,
                now=now,
            )
    return created


def review_due_notifications(
    recipient: Any,
    items: list[tuple[Review, str]],
    *,
    emailed: bool,
    now: dt.datetime,
) -> list[Notification]:
    """In-app notices of the reviews a reminder run told ``recipient`` about."""
    rows = []
    # Reasons may name another team's agent, which the recipient may not read.
    hidden = foreign.unreadable_named(recipient, [review.reasons for review, _ in items])
    for review, threshold in items:
        agent = review.agent
        when = (
            f"overdue since {review.due_on:%d %b %Y}"
            if threshold == "overdue"
            else f"due {review.due_on:%d %b %Y}"
        )
        reasons = "; ".join(
            r.get("detail", "") for r in foreign.redact_named(review.reasons, hidden)
        )
        rows.append(
            Notification(
                recipient=recipient,
                kind=Notification.Kind.REVIEW_DUE,
                title=one_line(f"The review of {agent.name} is {when}")[:255],
                body=one_line(f"{agent.name} ({agent.slug}) is {when}. {reasons}"),
                url=agent.get_absolute_url(),
                agent=agent,
                dedupe_key=f"review:{review.pk}:{threshold}",
                created_at=now,
                email_state=(
                    Notification.EmailState.SENT if emailed else Notification.EmailState.NOT_SENT
                ),
                emailed_at=now if emailed else None,
            )
        )
    return Notification.objects.bulk_create(rows, ignore_conflicts=True)


@transaction.atomic
def record_reminders(
    recipient: Any,
    items: list[tuple[Review, str]],
    *,
    emailed: bool = True,
    now: dt.datetime | None = None,
) -> None:
    """Log that ``recipient`` was reminded of each (review, threshold): never twice. The
    reminders also appear among their notifications.

    Raises ``IntegrityError`` when another run logged one of them first."""
    now = now or timezone.now()
    ReminderLog.objects.bulk_create(
        ReminderLog(review=review, recipient=recipient, threshold=threshold)
        for review, threshold in items
    )
    review_due_notifications(recipient, items, emailed=emailed, now=now)
    audit.record(
        "review.remind",
        obj=recipient,
        object_repr=f"Reminder to {recipient.get_username()}"[:255],
        changes={
            "reviews": [
                {"agent": review.agent.slug, "due_on": review.due_on.isoformat(), "threshold": t}
                for review, t in items
            ],
            "emailed": emailed,
        },
    )


def mark_emailed(
    notification_ids: Iterable[int],
    *,
    state: str = Notification.EmailState.SENT,
    now: dt.datetime | None = None,
) -> int:
    """Record what became of e-mailing these notifications: ``SENT``, or handed to the
    digest (``DIGEST``) or dropped (``NOT_SENT``) when the person's choice changed.
    Returns how many were still waiting, so none is ever e-mailed twice."""
    waiting = Notification.objects.filter(
        pk__in=list(notification_ids),
        email_state__in=[Notification.EmailState.QUEUED, Notification.EmailState.DIGEST],
    )
    if state == Notification.EmailState.SENT:
        return waiting.update(email_state=state, emailed_at=now or timezone.now())
    return waiting.update(email_state=state)


def mark_notifications_read(
    user: Any, notification_ids: Iterable[int], *, now: dt.datetime | None = None
) -> int:
    """Mark ``user``'s own notifications read (seen on the notification page)."""
    return (
        Notification.objects.filter(recipient=user, pk__in=list(notification_ids))
        .unread()
        .update(read_at=now or timezone.now())
    )


@transaction.atomic
def mark_all_notifications_read(
    user: Any, *, request: HttpRequest | None = None, now: dt.datetime | None = None
) -> int:
    """Mark every one of ``user``'s unread notifications read; returns how many."""
    count = (
        Notification.objects.filter(recipient=user).unread().update(read_at=now or timezone.now())
    )
    if count:
        audit.record(
            "notifications.read_all",
            actor=user,
            obj=user,
            object_repr=f"Notifications of {user.get_username()}"[:255],
            request=request,
            changes={"marked_read": count},
        )
    return count


@transaction.atomic
def set_notification_preference(
    actor: Any, email: str, *, request: HttpRequest | None = None
) -> NotificationPreference:
    """How ``actor`` wants to be e-mailed: immediately, in a daily digest, or never."""
    if email not in EmailChoice.values:
        raise ActionError("Choose immediately, a daily digest, or no e-mail.")
    preference, _created = NotificationPreference.objects.select_for_update().get_or_create(
        user=actor
    )
    before = preference.email
    if before != email:
        preference.email = email
        preference.save()
        audit.record(
            "notifications.preference",
            actor=actor,
            obj=actor,
            object_repr=f"Notification preference of {actor.get_username()}"[:255],
            request=request,
            changes={"email": {"old": before, "new": email}},
        )
    # Notices waiting for a digest follow the new choice: "off" never sends them.
    if email == EmailChoice.OFF:
        Notification.objects.filter(
            recipient=actor,
            email_state__in=[Notification.EmailState.QUEUED, Notification.EmailState.DIGEST],
        ).update(email_state=Notification.EmailState.NOT_SENT)
    return preference
