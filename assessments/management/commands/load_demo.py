from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from assessments import actions, demo
from assessments.models import Agent, Team
from assessments.roles import sync_roles


class Command(BaseCommand):
    help = (
        "Load the demo: four sign-ins (one per role, password 'demo-password'), teams and a "
        "portfolio of agents spanning the decision model's cases. Safe to run again: "
        "existing records are left as they are."
    )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
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
        self.stdout.write(self.style.SUCCESS(f"Demo loaded: {created_agents} new agents."))
        self.stdout.write("Sign in at http://127.0.0.1:8000/accounts/login/ with:")
        for username, _, _, _, role in demo.SIGN_INS:
            self.stdout.write(f"  {username:<9} / {demo.DEMO_PASSWORD}   ({role})")
