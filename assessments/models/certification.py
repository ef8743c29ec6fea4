"""Access certification campaigns: owners re-attest what each agent may reach and who
may invoke it (NIST SP 800-53 AC-2(j), AC-6(7); OWASP NHI5).

A campaign covers a scope of active agents and has a deadline. Starting it
(``actions.start_campaign``) makes its items: one per agent and system at the access
level it had then, and one per agent for who may invoke it (nothing in the inventory
says who may: the owners state it). Each item is attested once, keep, reduce or revoke
(``actions.attest_item``); a reduce or revoke opens the agent's review. Who may attest
an item and the campaign's figures are read in ``assessments/workflow/certification.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from .base import start_of_day
from .choices import Access, Tier
from .inventory import Agent, Team
from .reviews import Review

User = settings.AUTH_USER_MODEL


class CertificationCampaign(models.Model):
    class Scope(models.TextChoices):
        ALL = "all", "All active agents"
        TEAM = "team", "One team's agents"
        TIER = "tier", "Agents of one tier"
        DUE = "due", "Agents due for review"

    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, null=True, blank=True)
    deadline = models.DateField(help_text="Every item is to be certified by the end of this day.")
    started_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    # Set once the day after the deadline, when the sponsors of the agents not certified
    # were told (``actions.send_certification_reminders``).
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["deadline"])]

    def __str__(self) -> str:
        return self.name

    def scope_label(self) -> str:
        if self.scope == self.Scope.TEAM and self.team_id:
            return f"Team {self.team}"
        if self.scope == self.Scope.TIER and self.tier:
            return f"Tier {self.get_tier_display()}"
        return self.get_scope_display()

    def past_deadline(self, today: dt.date | None = None) -> bool:
        return (today or timezone.localdate()) > self.deadline

    def cutoff(self) -> dt.datetime:
        """The first moment after the deadline (the deadline day is included)."""
        return start_of_day(self.deadline + dt.timedelta(days=1))


class CertificationItemQuerySet(models.QuerySet["CertificationItem"]):
    def pending(self) -> CertificationItemQuerySet:
        return self.filter(decided_at__isnull=True)

    def decided(self) -> CertificationItemQuerySet:
        return self.filter(decided_at__isnull=False)


class CertificationItem(models.Model):
    """One thing an agent's owners attest in a campaign: a system at an access level, or
    who may invoke the agent."""

    class Kind(models.TextChoices):
        ACCESS = "access", "System access"
        INVOKERS = "invokers", "Who may invoke the agent"

    class Decision(models.TextChoices):
        KEEP = "keep", "Keep"
        REDUCE = "reduce", "Reduce"
        REVOKE = "revoke", "Revoke"

    campaign = models.ForeignKey(
        CertificationCampaign, on_delete=models.CASCADE, related_name="items"
    )
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="certification_items")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # The system and its access level when the campaign started (a later edit of the
    # inventory does not change what was asked).
    system_name = models.CharField(max_length=120, blank=True)
    access = models.CharField(max_length=8, choices=Access.choices, blank=True)
    # Four eyes: the people the audit log shows adding or raising this access. They do
    # not certify it.
    requested_by: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        User, blank=True, related_name="+"
    )
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True)
    reduce_to = models.CharField(max_length=8, choices=Access.choices, blank=True)
    reason = models.TextField(blank=True)
    # For who may invoke the agent: the people, teams or systems the owners name.
    invokers = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # The review a reduce or revoke opened (the class is re-examined there).
    review = models.ForeignKey(
        Review, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = CertificationItemQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "agent__name", "kind", "system_name"]
        indexes = [
            models.Index(fields=["campaign", "decided_at"]),
            models.Index(fields=["agent", "decided_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="invokers") | ~models.Q(system_name=""),
                name="certification_access_item_names_a_system",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.subject()}"

    def subject(self) -> str:
        if self.kind == self.Kind.INVOKERS:
            return "Who may invoke it"
        return f"{self.system_name} ({self.get_access_display().lower()})"

    def outcome(self) -> str:
        """The decision in words: "Keep", "Reduce to read", "Revoke", or ""."""
        if self.decision == self.Decision.REDUCE and self.reduce_to:
            return f"Reduce to {self.get_reduce_to_display().lower()}"
        return self.get_decision_display() if self.decision else ""
