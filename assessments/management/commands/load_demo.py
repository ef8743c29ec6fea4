from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from assessments import actions, demo, scope
from assessments.models import Agent, Assessment, AuditEvent, Review, Team
from assessments.roles import sync_roles


class Command(BaseCommand):
    help = (
        "Load the demo: four sign-ins (one per role, password 'demo-password'), teams and a "
        "portfolio of agents spanning the decision model's cases. Safe to run again: "
        "existing records are left as they are."
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
        for username, first, last, email in demo.OWNERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": email},
            )
            if created:
                user.set_unusable_password()
                user.save()
                user.groups.add(Group.objects.get(name="viewer"))
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
        for spec in demo.AGENTS:
            if Agent.objects.filter(slug=spec["slug"]).exists():
                continue
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

    def _assessments(self, users: dict[str, Any]) -> int:
        """Give the demo agents assessments in every state, decided in the past, so the
        queue has overdue, due and triggered reviews. Agents that already have an
        assessment are left alone."""
        assessor, reviewer = users["assessor"], users["reviewer"]
        now = timezone.now()
        count = 0
        for spec in demo.AGENTS:
            agent = Agent.objects.get(slug=spec["slug"])
            state = spec["state"]
            if state == "none" or Assessment.objects.filter(agent=agent).exists():
                continue
            answers = dict(spec["answers"])
            if state == "draft":
                # Half-way through: the runtime and credential steps are answered.
                kept = list(answers)[:8]
                answers = {k: answers[k] for k in kept}
            decided = now - dt.timedelta(days=spec.get("approved_days_ago", 2))
            started = decided - dt.timedelta(days=3)
            a = actions.start_assessment(assessor, agent, now=started)
            a = actions.save_answers(
                assessor, a, answers, expected_version=a.lock_version, step="runtime"
            )
            count += 1
            if state == "draft":
                continue
            a = actions.submit_assessment(assessor, a, now=started + dt.timedelta(days=1))
            if state == "submitted":
                continue
            if state == "returned":
                actions.return_assessment(
                    reviewer,
                    a,
                    now=decided,
                    comment="It can attach IAM roles to itself: record the kill switch and "
                    "who can revoke its static key before this goes any further.",
                )
                continue
            flags = (a.result or {}).get("flags", [])
            exception = state == "approved_with_exception" or "audit_gap" in flags
            actions.approve_assessment(
                reviewer,
                a,
                now=decided,
                exception_subjects=["audit_gap"] if "audit_gap" in flags else [],
                exception_reason=(
                    "Policy decisions are logged by the gateway from next quarter; the platform "
                    "team owns the fix."
                    if exception
                    else ""
                ),
                exception_expires_on=(
                    timezone.localdate(now) + dt.timedelta(days=spec.get("exception_days", 60))
                    if exception
                    else None
                ),
            )
        self._triggers(users, now)
        count += self._reviews(users, now)
        return count

    def _triggers(self, users: dict[str, Any], now: dt.datetime) -> None:
        """A change that landed after approval: the review is triggered at once."""
        agent = Agent.objects.get(slug="hr-policy-copilot")
        review = Review.objects.open().filter(agent=agent).first()
        if review is not None and review.triggered_at is None:
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
                now=now - dt.timedelta(days=2),
            )

    # -- reviews: a reclassification, and reviews already assigned to the reviewer
    def _reviews(self, users: dict[str, Any], now: dt.datetime) -> int:
        """A reassessment that moved an agent to another class and tier (the dashboard's
        recent reclassifications), and a few queue items already assigned. Each step is
        skipped when its result is already there."""
        added = 0
        agent = Agent.objects.get(slug="support-ticket-summariser")
        versions = list(Assessment.objects.filter(agent=agent).values_list("status", flat=True))
        if versions == ["approved"]:
            assessor, reviewer = users["assessor"], users["reviewer"]
            started = now - dt.timedelta(days=15)
            a = actions.start_assessment(assessor, agent, now=started)
            # Its model-driven steps may now pick the next step: a runtime decision.
            a = actions.save_answers(
                assessor, a, {"model_steps_self_direct": True}, expected_version=a.lock_version
            )
            a = actions.submit_assessment(assessor, a, now=started + dt.timedelta(days=1))
            actions.approve_assessment(reviewer, a, now=now - dt.timedelta(days=12))
            added += 1
        unassigned = Review.objects.open().filter(
            assignee=None,
            agent__slug__in=["research-orchestrator", "report-writer-agent", "hr-policy-copilot"],
        )
        # Only reviews nobody has ever assigned: a person's own unassigning is kept.
        touched = AuditEvent.objects.filter(verb="review.assign").values_list(
            "object_id", flat=True
        )
        ids = [pk for pk in unassigned.values_list("pk", flat=True) if str(pk) not in touched]
        if ids:
            actions.assign_reviews(users["admin"], ids, users["reviewer"])
        return added
