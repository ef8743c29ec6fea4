"""What a board pack covers (team, tier, class, period) and the bounds of its lists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from assessments.models import (
    Agent,
    Classification,
    Team,
    Tier,
)

DEFAULT_PERIOD_DAYS = 90


DUE_WITHIN_DAYS = 30


# Reviews due soon are listed in full up to this many; beyond it the pack lists the
# soonest and counts the rest by team (every agent's next review is in the appendix).
DUE_LIST_LIMIT = 40


# Long lists (overdue reviews, expiring exceptions, reclassifications) print this many
# rows and count the rest; the attached register has every agent.
LIST_LIMIT = 40


# The printed appendix lists the agents that most need attention, this many by default.
DEFAULT_TOP = 25


MAX_TOP = 200


REGISTER_ATTACHMENT = "agent-register.csv"


TIER_LABELS: dict[int, str] = dict(Tier.choices)


# Every table and chart in the pack runs the tiers in one order: most critical first.
TIER_ORDER = (4, 3, 2, 1)


CLASS_LABELS: dict[str, str] = dict(Classification.choices)


UNASSESSED = "unassessed"


COLOURS = {"agent_identity": "#6f2dbd", "machine_identity": "#0f766e", UNASSESSED: "#cbd5e1"}


class FilterError(ValueError):
    """A board-pack filter that cannot be used; the message is for the user."""


@dataclass(frozen=True)
class BoardFilters:
    """Which agents the pack covers, and the period for reclassifications."""

    since: dt.date
    until: dt.date
    team: str = ""  # team slug
    tier: int | None = None
    classification: str = ""  # agent_identity | machine_identity | unassessed
    top: int = DEFAULT_TOP  # agents listed in the printed appendix
    # The sign-off block printed on the last page (from the request form).
    prepared_by: str = ""
    reviewed_by: str = ""
    meeting_date: dt.date | None = None
    decision: str = ""
    chair: str = ""
    attendees: str = ""
    commentary: str = ""  # management's commentary, entered when the pack is made

    @classmethod
    def from_params(cls, params: dict[str, Any], today: dt.date | None = None) -> BoardFilters:
        today = today or timezone.localdate()
        try:
            until = dt.date.fromisoformat(params["until"]) if params.get("until") else today
            since = (
                dt.date.fromisoformat(params["since"])
                if params.get("since")
                else until - dt.timedelta(days=DEFAULT_PERIOD_DAYS)
            )
        except (TypeError, ValueError) as exc:
            raise FilterError("Dates must be written as YYYY-MM-DD.") from exc
        except OverflowError as exc:  # a period that would start before year 1
            raise FilterError("Choose a period end after 1900.") from exc
        if since.year < 1900 or until.year > 2999:
            raise FilterError("Choose dates between 1900 and 2999.")
        if since > until:
            raise FilterError("The period must start on or before the day it ends.")
        team = str(params.get("team") or "")
        if team and not Team.objects.filter(slug=team).exists():
            raise FilterError(f"There is no team “{team}”.")
        tier = params.get("tier")
        if tier in ("", None):
            tier = None
        else:
            try:
                tier = int(tier)
            except (TypeError, ValueError) as exc:
                raise FilterError("The tier must be 1, 2, 3 or 4.") from exc
            if tier not in TIER_LABELS:
                raise FilterError("The tier must be 1, 2, 3 or 4.")
        classification = str(params.get("classification") or "")
        if classification and classification not in (*CLASS_LABELS, UNASSESSED):
            raise FilterError("The class must be agent_identity, machine_identity or unassessed.")
        top = params.get("top")
        if top in ("", None):
            top = DEFAULT_TOP
        else:
            try:
                top = int(top)
            except (TypeError, ValueError) as exc:
                raise FilterError(f"The appendix lists 1 to {MAX_TOP} agents.") from exc
            if not 1 <= top <= MAX_TOP:
                raise FilterError(f"The appendix lists 1 to {MAX_TOP} agents.")
        try:
            meeting = (
                dt.date.fromisoformat(params["meeting_date"])
                if params.get("meeting_date")
                else None
            )
        except (TypeError, ValueError) as exc:
            raise FilterError("Dates must be written as YYYY-MM-DD.") from exc
        return cls(
            since=since,
            until=until,
            team=team,
            tier=tier,
            classification=classification,
            top=top,
            prepared_by=str(params.get("prepared_by") or "").strip()[:200],
            reviewed_by=str(params.get("reviewed_by") or "").strip()[:200],
            meeting_date=meeting,
            decision=str(params.get("decision") or "").strip()[:2000],
            chair=str(params.get("chair") or "").strip()[:200],
            attendees=str(params.get("attendees") or "").strip()[:1000],
            commentary=str(params.get("commentary") or "").strip()[:4000],
        )

    def to_params(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "team": self.team,
            "tier": self.tier,
            "classification": self.classification,
            "top": self.top,
            "prepared_by": self.prepared_by,
            "reviewed_by": self.reviewed_by,
            "meeting_date": self.meeting_date.isoformat() if self.meeting_date else "",
            "decision": self.decision,
            "chair": self.chair,
            "attendees": self.attendees,
            "commentary": self.commentary,
        }

    def scope_key(self) -> dict[str, Any]:
        """What makes two packs comparable: the same agents filter."""
        return {"team": self.team, "tier": self.tier, "classification": self.classification}

    def describe(self) -> list[str]:
        parts = []
        if self.team:
            team = Team.objects.filter(slug=self.team).values_list("name", flat=True).first()
            parts.append(f"team {team or self.team}")
        if self.tier:
            parts.append(f"tier {TIER_LABELS[self.tier]}")
        if self.classification:
            parts.append(CLASS_LABELS.get(self.classification, "not assessed").lower())
        return parts

    def agents(self) -> Any:
        qs = Agent.objects.active()
        if self.team:
            qs = qs.filter(team__slug=self.team)
        if self.tier:
            qs = qs.filter(current_tier=self.tier)
        if self.classification == UNASSESSED:
            qs = qs.filter(current_classification="")
        elif self.classification:
            qs = qs.filter(current_classification=self.classification)
        return qs


TOP_RISKS = 10


TREND_PACKS = 6
