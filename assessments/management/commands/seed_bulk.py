from __future__ import annotations

import random
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from assessments.demo import bulk
from assessments.models import (
    Agent,
    AgentLink,
    Assessment,
    GapException,
    PortfolioSnapshot,
    Review,
    System,
    Team,
)
from assessments.portfolio import planner

# What seeding writes, whose planner statistics it refreshes afterwards.
SEEDED_TABLES = (
    Agent,
    System,
    AgentLink,
    Team,
    Assessment,
    GapException,
    Review,
    PortfolioSnapshot,
)

SYSTEM_NAMES = [
    "erp",
    "crm",
    "hr-core",
    "ticketing",
    "wiki",
    "data-lake",
    "kubernetes",
    "github",
    "billing",
    "payments-api",
    "mail-gateway",
    "search-api",
    "vault",
    "iam",
    "warehouse",
    "analytics",
    "object-store",
    "ci-runners",
    "llm-gateway",
    "support-desk",
]
WORDS = [
    "invoice",
    "ledger",
    "triage",
    "support",
    "research",
    "deploy",
    "backup",
    "sync",
    "audit",
    "billing",
    "report",
    "onboarding",
    "forecast",
    "routing",
    "classifier",
    "copilot",
]


class Command(BaseCommand):
    help = (
        "Add N synthetic agents with systems and links for benchmarks and load tests. "
        "Bulk inserts bypass the named actions and the audit log on purpose: this is test "
        "data, not history."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--agents", type=int, required=True, help="How many agents to add.")
        parser.add_argument("--seed", type=int, default=7, help="Random seed (repeatable data).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be added.")
        # -- reports: approved assessments with real engine results (assessments.demo.bulk)
        parser.add_argument(
            "--assessed",
            action="store_true",
            help="Also give each new agent 1-3 approved assessment versions (random answers, "
            "real engine results), exceptions, an open review and its current class and tier.",
        )

    def handle(
        self,
        *args: Any,
        agents: int,
        seed: int,
        dry_run: bool,
        assessed: bool = False,
        **options: Any,
    ) -> None:
        if not 1 <= agents <= 200_000:
            raise CommandError("--agents must be between 1 and 200000.")
        if dry_run:
            self.stdout.write(f"Would add {agents} agents with 1-4 systems each and some links.")
            if assessed:
                self.stdout.write("Each would get 1-3 approved assessment versions.")
            return
        started = time.perf_counter()
        rng = random.Random(seed)  # noqa: S311 (synthetic data)
        with transaction.atomic():
            created = self._create(agents, rng)
            versions = 0
            if assessed:
                new = Agent.objects.filter(slug__startswith="bulk-").order_by("-pk")[:created]
                versions = bulk.assess_agents(list(reversed(new)), rng)
        # Fresh statistics for the query planner: right after a bulk load PostgreSQL still
        # believes the tables are nearly empty (autovacuum analyses them later) and picks
        # nested loops that take tens of seconds at 10,000 agents.
        planner.refresh_planner_statistics(SEEDED_TABLES)
        elapsed = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"Added {created} agents in {elapsed:.1f}s."))
        if assessed:
            self.stdout.write(f"Approved {versions} assessment versions.")

    def _create(self, count: int, rng: random.Random) -> int:
        User = get_user_model()
        owners = list(User.objects.filter(is_active=True)[:50])
        if not owners:
            owners = [User.objects.create_user("bulk-owner", email="bulk-owner@example.com")]
        teams = [
            Team.objects.get_or_create(slug=f"bulk-team-{n}", defaults={"name": f"Bulk team {n}"})[
                0
            ]
            for n in range(1, 9)
        ]
        offset = Agent.objects.filter(slug__startswith="bulk-").count()
        new_agents = []
        for i in range(offset, offset + count):
            words = rng.sample(WORDS, 2)
            owner = rng.choice(owners)
            new_agents.append(
                Agent(
                    name=f"{words[0].title()} {words[1]} {i:05d}",
                    slug=f"bulk-{i:06d}",
                    purpose=f"Synthetic {words[0]} {words[1]} agent for load tests.",
                    owner=owner,
                    sponsor=owner,  # bulk_create does not call Agent.save()
                    team=rng.choice(teams),
                    environments=["production"],
                    platform=rng.choice(["Kubernetes", "AWS Lambda", "Azure Functions"]),
                    credential_model=rng.choice(
                        ["static_secret", "vaulted_rotated", "workload_identity", "per_task_tokens"]
                    ),
                )
            )
        created = Agent.objects.bulk_create(new_agents, batch_size=2000)
        systems = []
        for agent in created:
            for name in rng.sample(SYSTEM_NAMES, rng.randint(1, 4)):
                access = rng.choices(["read", "write", "admin"], weights=[6, 3, 1])[0]
                systems.append(System(agent=agent, name=name, access=access))
        System.objects.bulk_create(systems, batch_size=5000)
        links = []
        for index in range(0, len(created) - 2, 10):
            lead = created[index]
            for member in created[index + 1 : index + 3]:
                links.append(AgentLink(source=lead, target=member, kind="orchestrates"))
        AgentLink.objects.bulk_create(links, batch_size=5000)
        return len(created)
