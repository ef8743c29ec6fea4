from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from assessments import actions, demo
from assessments.access import scope
from assessments.access.roles import sync_roles
from assessments.models import Agent, Assessment, Notification, Review, Team
from assessments.workflow import reminders

# Agents were registered from this many days ago (the earliest assessment is 350 days old).
REGISTERED_DAYS_AGO = 362


class Command(BaseCommand):
    help = (
        "Load the demo: four sign-ins (one per role, password 'demo-password'), teams and a "
        "portfolio of agents spanning the decision model's cases, with a year of history "
        "replayed at its own dates (counted back from today). Safe to run again: existing "
        "records are left as they are."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo plays its people's past work across teams: not limited by teams.
        with scope.seeding(), transaction.atomic():
            self._load()

    def _load(self) -> None:
        sync_roles()
        User = get_user_model()
        users = {}
        for username, first, last, email, role in demo.SIGN_INS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": email},
            )
            if created:
                user.set_password(demo.DEMO_PASSWORD)
                user.is_staff = role == "administrator"
                user.save()
                user.groups.add(Group.objects.get(name=role))
            users[username] = user
        people = [(*row, "viewer") for row in demo.OWNERS]
        people += [(*row, "reviewer") for row in demo.REVIEWERS]
        for username, first, last, email, role in people:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": email},
            )
            if created:
                user.set_unusable_password()
                user.save()
                user.groups.add(Group.objects.get(name=role))
            users[username] = user
        teams = {
            slug: Team.objects.get_or_create(slug=slug, defaults={"name": name})[0]
            for slug, name in demo.TEAMS
        }
        for username, slugs in demo.MEMBERSHIPS.items():
            # Set once: a later change in the admin is kept.
            if not Team.members.through.objects.filter(user=users[username]).exists():
                for slug in slugs:
                    teams[slug].members.add(users[username])
        actor = users["admin"]
        created_agents = 0
        # The inventory was registered about a year ago, a few agents a week.
        registered = timezone.now() - dt.timedelta(days=REGISTERED_DAYS_AGO)
        for position, spec in enumerate(demo.AGENTS):
            if Agent.objects.filter(slug=spec["slug"]).exists():
                continue
            with time_machine.travel(registered + dt.timedelta(days=2 * position), tick=False):
                self._register(actor, spec, users, teams)
            created_agents += 1
        assessed = self._assessments(users)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded: {created_agents} new agents, {assessed} new assessments."
            )
        )
        # SITE_URL is where the server runs (make run sets it from HOST and PORT).
        self.stdout.write(f"Sign in at {settings.SITE_URL}{reverse('login')} with:")
        for username, _, _, _, role in demo.SIGN_INS:
            self.stdout.write(f"  {username:<9} / {demo.DEMO_PASSWORD}   ({role})")

    def _register(
        self, actor: Any, spec: dict[str, Any], users: dict[str, Any], teams: dict[str, Any]
    ) -> None:
        existing = set(
            Agent.objects.filter(
                slug__in=[other for _, other in spec.get("links", [])]
            ).values_list("slug", flat=True)
        )
        actions.create_agent(
            actor,
            fields={
                "name": spec["name"],
                "slug": spec["slug"],
                "purpose": spec["purpose"],
                "owner": users[spec["owner"]],
                "team": teams[spec["team"]],
                "environments": spec["environments"],
                "platform": spec["platform"],
                "credential_model": spec["credential_model"],
            },
            systems=[{"name": n, "access": a} for n, a in spec["systems"]],
            links=[
                {"kind": kind, "other": other}
                for kind, other in spec.get("links", [])
                if other in existing
            ],
        )

    # -- the past: a year of work, replayed at its own dates
    def _assessments(self, users: dict[str, Any]) -> int:
        """Replay the demo's year: agents registered, assessed, returned and approved by
        the reviewers of their teams, exceptions granted and running out, reviews coming
        due and closed, the weekly reminders, a board pack each quarter. Each step runs
        at its own moment (the clock is moved there), so every record, audit event and
        notification carries the time it happened, and the inboxes hold what is still
        open. Only on a fresh demo: once its agents have assessments, nothing is replayed."""
        slugs = [spec["slug"] for spec in demo.AGENTS]
        if Assessment.objects.filter(agent__slug__in=slugs).exists():
            return 0
        now = timezone.now()
        self._today = timezone.localdate(now)
        events: list[tuple[dt.datetime, int, Callable[[dt.datetime], Any]]] = []

        def at(days_ago: float, hour: int = 10) -> dt.datetime:
            day = timezone.localdate(now) - dt.timedelta(days=int(days_ago))
            moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
            # Today's steps happen before the present moment, never after it.
            return min(moment, now - dt.timedelta(minutes=30))

        def add(moment: dt.datetime, step: Callable[[dt.datetime], Any]) -> None:
            events.append((moment, len(events), step))

        count = 0
        for spec in demo.AGENTS:
            count += self._plan_agent(spec, users, at, add)
        for days_ago in range(364, 0, -demo.DAILY_JOB_EVERY_DAYS):
            add(at(days_ago, 6), self._daily_job)
        add(at(1, 6), self._daily_job)
        add(at(2, 11), lambda when: self._trigger(users, when))
        add(at(1, 9), lambda when: self._assign(users))
        for days_ago in demo.BOARD_PACKS_DAYS_AGO if settings.DEMO_BOARD_PACKS else ():
            add(at(days_ago, 16), lambda when: self._board_pack(users))
        for moment, _order, step in sorted(events, key=lambda e: (e[0], e[1])):
            with time_machine.travel(moment, tick=False):
                step(moment)
        self._settle_notifications(now)
        return count

    def _plan_agent(
        self,
        spec: dict[str, Any],
        users: dict[str, Any],
        at: Callable[..., dt.datetime],
        add: Callable[[dt.datetime, Callable[[dt.datetime], Any]], None],
    ) -> int:
        """Schedule one agent's past: registered a year ago, its earlier versions, then
        the version that leaves it in its demo state."""
        slug, state = spec["slug"], spec["state"]
        assessor = users["assessor"]
        reviewer = users[demo.DECIDERS[spec["team"]]]
        versions = 0
        for days_ago, exception_days in demo.EARLIER.get(slug, []):
            add(
                at(days_ago + 3),
                lambda when, s=spec: self._start(s, assessor, when),
            )
            add(at(days_ago + 2), lambda when, s=spec: self._submit(s, assessor, when))
            add(
                at(days_ago, 15),
                lambda when, s=spec, d=exception_days: self._approve(s, reviewer, when, d),
            )
            versions += 1
        if state == "none":
            return versions
        decided = spec.get("approved_days_ago", 2)
        returned = demo.RETURNED_FIRST.get(slug)
        first = max(decided, returned[0] if returned else 0) + 3
        add(at(first), lambda when: self._start(spec, assessor, when))
        versions += 1
        if state == "draft":
            return versions
        add(at(first - 1), lambda when: self._submit(spec, assessor, when))
        if returned:
            add(
                at(returned[0], 14),
                lambda when: self._return(spec, reviewer, when, returned[1]),
            )
            add(at(returned[0] - 1), lambda when: self._submit(spec, assessor, when))
        if state == "submitted":
            return versions
        if state == "returned":
            add(
                at(decided, 14),
                lambda when: self._return(
                    spec,
                    reviewer,
                    when,
                    "It can attach IAM roles to itself: record the kill switch and who can "
                    "revoke its static key before this goes any further.",
                ),
            )
            return versions
        add(
            at(decided, 15),
            lambda when: self._approve(
                spec, reviewer, when, spec.get("exception_days", 60), until_from_today=True
            ),
        )
        if slug == "support-ticket-summariser":
            # Reassessed: its model-driven steps may now pick the next step (reclassified).
            add(
                at(15),
                lambda when: self._start(spec, assessor, when, {"model_steps_self_direct": True}),
            )
            add(at(14), lambda when: self._submit(spec, assessor, when))
            add(at(12, 15), lambda when: self._approve(spec, reviewer, when, None))
            versions += 1
        return versions

    def _current(self, spec: dict[str, Any]) -> Assessment:
        return Assessment.objects.filter(agent__slug=spec["slug"]).order_by("-number").first()

    def _start(
        self,
        spec: dict[str, Any],
        assessor: Any,
        when: dt.datetime,
        changes: dict[str, Any] | None = None,
    ) -> None:
        agent = Agent.objects.get(slug=spec["slug"])
        answers = dict(spec["answers"]) if changes is None else changes
        if spec["state"] == "draft":
            # Half-way through: the runtime and credential steps are answered.
            answers = {k: answers[k] for k in list(answers)[:8]}
        a = actions.start_assessment(assessor, agent, now=when)
        actions.save_answers(assessor, a, answers, expected_version=a.lock_version, step="runtime")

    def _submit(self, spec: dict[str, Any], assessor: Any, when: dt.datetime) -> None:
        actions.submit_assessment(assessor, self._current(spec), now=when)

    def _return(self, spec: dict[str, Any], reviewer: Any, when: dt.datetime, comment: str) -> None:
        actions.return_assessment(reviewer, self._current(spec), comment=comment, now=when)

    def _approve(
        self,
        spec: dict[str, Any],
        reviewer: Any,
        when: dt.datetime,
        exception_days: int | None,
        *,
        until_from_today: bool = False,
    ) -> None:
        """Approve; a blocking audit gap (or the spec's state) comes with an exception,
        running ``exception_days`` from the decision (from today: ``until_from_today``)."""
        a = self._current(spec)
        flags = (a.result or {}).get("flags", [])
        exception = "audit_gap" in flags or spec["state"] == "approved_with_exception"
        exception = exception and exception_days is not None
        start = self._today if until_from_today else timezone.localdate(when)
        if "audit_gap" in flags and exception_days is None:
            exception_days = 90
        actions.approve_assessment(
            reviewer,
            a,
            now=when,
            exception_subjects=["audit_gap"] if exception and "audit_gap" in flags else [],
            exception_reason=(
                "Policy decisions are logged by the gateway from next quarter; the platform "
                "team owns the fix."
                if exception
                else ""
            ),
            exception_expires_on=(
                start + dt.timedelta(days=exception_days) if exception and exception_days else None
            ),
        )

    def _daily_job(self, when: dt.datetime) -> None:
        """What the daily job did that day: expired exceptions reopened their gaps,
        exceptions running out were announced, and reviews due were reminded (in the
        app: the demo's past e-mails are not sent)."""
        today = timezone.localdate(when)
        actions.process_expired_exceptions(now=when)
        actions.notify_expiring_exceptions(now=when)
        due, _skipped = reminders.pending(today)
        for reminder in due:
            items = [(item.review, item.threshold) for item in reminder.items]
            if items:
                actions.record_reminders(reminder.recipient, items, emailed=False, now=when)

    def _trigger(self, users: dict[str, Any], when: dt.datetime) -> None:
        """A change that landed after approval: the review is triggered at once."""
        agent = Agent.objects.get(slug="hr-policy-copilot")
        actions.trigger_review(
            agent,
            [
                {
                    "code": "planned_change",
                    "detail": "Planned change landed: write access "
                    "(it can now file leave requests).",
                    "subject": "write_access",
                }
            ],
            actor=users["assessor"],
            now=when,
        )

    def _assign(self, users: dict[str, Any]) -> None:
        """A few queue items already assigned to the reviewer who signs in."""
        ids = list(
            Review.objects.open()
            .filter(
                assignee=None,
                agent__slug__in=[
                    "research-orchestrator",
                    "report-writer-agent",
                    "hr-policy-copilot",
                ],
            )
            .values_list("pk", flat=True)
        )
        if ids:
            actions.assign_reviews(users["admin"], ids, users["reviewer"])

    def _board_pack(self, users: dict[str, Any]) -> None:
        """The quarter's board pack, as the administrator made it for that day's board
        meeting: a pack issued to a board is the next one's baseline (reports/board.py)."""
        actions.issue_board_pack(users["admin"], {"meeting_date": timezone.localdate().isoformat()})

    def _settle_notifications(self, now: dt.datetime) -> None:
        """The replayed past was not e-mailed now, and what arrived more than a few days
        ago was read at the time; the newer notices are still unread."""
        Notification.objects.filter(
            email_state__in=[Notification.EmailState.QUEUED, Notification.EmailState.DIGEST]
        ).update(email_state=Notification.EmailState.NOT_SENT)
        read_before = now - dt.timedelta(days=demo.READ_AFTER_DAYS)
        Notification.objects.unread().filter(created_at__lt=read_before).update(
            read_at=F("created_at") + dt.timedelta(hours=20)
        )
