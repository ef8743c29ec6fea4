"""Access certification: list and start campaigns, read a campaign's progress and its
items, and attest an item, as the pages do (the same actions and figures)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from assessments import actions
from assessments.access import scope
from assessments.api.agents import page_of
from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import Body, Page
from assessments.models import CertificationCampaign, CertificationItem, Team
from assessments.workflow import certification

router = Router(tags=["certification"])


class ProgressOut(Schema):
    items: int
    certified: int
    percent: int
    agents: int
    agents_certified: int
    overdue_agents: int
    keep: int
    reduce: int
    revoke: int

    @staticmethod
    def of(p: certification.Progress) -> dict[str, int]:
        return {
            "items": p.items,
            "certified": p.decided,
            "percent": p.percent,
            "agents": p.agents,
            "agents_certified": p.agents_certified,
            "overdue_agents": p.overdue_agents,
            "keep": p.keep,
            "reduce": p.reduce,
            "revoke": p.revoke,
        }


class TeamProgressOut(ProgressOut):
    team: str


class CampaignOut(Schema):
    id: int
    name: str
    scope: str
    scope_label: str
    team: str | None
    tier: int | None
    deadline: dt.date
    past_deadline: bool
    started_by: str
    started_at: dt.datetime
    progress: ProgressOut
    teams: list[TeamProgressOut]
    overdue_agents: list[str]


class CampaignPage(Page):
    results: list[CampaignOut]


class CampaignIn(Body):
    name: str = Field(min_length=1, max_length=200)
    scope: Literal["all", "team", "tier", "due"]
    team: str = Field("", max_length=120, description="The team's slug, for scope team.")
    tier: int | None = Field(None, ge=1, le=4, description="For scope tier.")
    deadline: dt.date = Field(description="Every item is to be certified by this day.")


class ItemOut(Schema):
    id: int
    agent: str
    agent_name: str
    team: str
    kind: str
    system: str
    access: str
    item: str
    decision: str
    reduce_to: str
    outcome: str
    reason: str
    invokers: str
    certified_by: str | None
    certified_at: dt.datetime | None
    review_opened: bool
    certifier_route: str


class ItemPage(Page):
    results: list[ItemOut]


class ItemFilters(Schema):
    pending: bool | None = None
    page: int = 1


class AttestIn(Body):
    decision: Literal["keep", "reduce", "revoke"]
    reduce_to: str = Field("", max_length=8, description="read or write, for a reduce.")
    reason: str = Field("", max_length=2000, description="Required for anything but keep.")
    invokers: str = Field(
        "", max_length=2000, description="Who may invoke the agent (its invokers item)."
    )


def _campaign_out(campaign: CertificationCampaign, user: Any) -> dict[str, Any]:
    figures = certification.figures(campaign, certification.readable_items(campaign, user))
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "scope": campaign.scope,
        "scope_label": campaign.scope_label(),
        "team": campaign.team.slug if campaign.team is not None else None,
        "tier": campaign.tier,
        "deadline": campaign.deadline,
        "past_deadline": figures.past_deadline,
        "started_by": campaign.started_by.get_username(),
        "started_at": campaign.started_at,
        "progress": ProgressOut.of(figures.total),
        "teams": [{"team": name, **ProgressOut.of(p)} for name, p in figures.teams],
        "overdue_agents": figures.overdue,
    }


def _item_out(item: CertificationItem, cache: dict[int, list[Any]]) -> dict[str, Any]:
    return {
        "id": item.pk,
        "agent": item.agent.slug,
        "agent_name": item.agent.name,
        "team": item.agent.team.name,
        "kind": item.kind,
        "system": item.system_name,
        "access": item.access,
        "item": item.subject(),
        "decision": item.decision,
        "reduce_to": item.reduce_to,
        "outcome": item.outcome(),
        "reason": item.reason,
        "invokers": item.invokers,
        "certified_by": item.decided_by.get_username() if item.decided_by else None,
        "certified_at": item.decided_at,
        "review_opened": item.review_id is not None,
        "certifier_route": certification.certifiers(item, team_reviewers=cache).route,
    }


def _campaign(user: Any, campaign_id: int) -> CertificationCampaign:
    if not 0 < campaign_id < 2**63:
        raise ApiError(404, "There is no such campaign.")
    campaign = (
        certification.readable_campaigns(user)
        .select_related("team", "started_by")
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise ApiError(404, "There is no such campaign.")
    return campaign


@router.get(
    "/certification/campaigns",
    response={200: CampaignPage, **ERRORS},
    url_name="certification_campaigns",
)
def list_campaigns(request: HttpRequest, page: int = 1) -> Any:
    """Access certification campaigns, newest first, with their progress (over the
    agents you may read)."""
    user = require(request, "read", "assessments.view_agent")
    campaigns = certification.readable_campaigns(user).select_related("team", "started_by")
    current, meta = page_of(campaigns, page)
    return {**meta, "results": [_campaign_out(c, user) for c in current.object_list]}


@router.post(
    "/certification/campaigns",
    response={201: CampaignOut, **ERRORS},
    url_name="certification_campaign_start",
)
def start_campaign(request: HttpRequest, body: CampaignIn) -> Any:
    """Start a campaign: one item per active agent and system, and one per agent for who
    may invoke it. Its certifiers are notified."""
    user = require(request, "review", "assessments.change_review")
    team = None
    if body.team:
        team = Team.objects.filter(slug=body.team).first()
        if team is None:
            raise ApiError(
                422,
                "There is no team with this slug.",
                errors=[{"location": "body.team", "message": "Unknown team."}],
            )
    campaign = actions.start_campaign(
        user,
        name=body.name,
        scope_kind=body.scope,
        deadline=body.deadline,
        team=team,
        tier=body.tier,
        request=request,
    )
    return Status(201, _campaign_out(campaign, user))


@router.get(
    "/certification/campaigns/{campaign_id}",
    response={200: CampaignOut, **ERRORS},
    url_name="certification_campaign",
)
def get_campaign(request: HttpRequest, campaign_id: int) -> Any:
    """One campaign with its progress, per team, and the agents overdue."""
    user = require(request, "read", "assessments.view_agent")
    return _campaign_out(_campaign(user, campaign_id), user)


@router.get(
    "/certification/campaigns/{campaign_id}/items",
    response={200: ItemPage, **ERRORS},
    url_name="certification_items",
)
def list_items(request: HttpRequest, campaign_id: int, filters: Query[ItemFilters]) -> Any:
    """A campaign's items you may read; ``pending=true`` for those not certified yet."""
    user = require(request, "read", "assessments.view_agent")
    campaign = _campaign(user, campaign_id)
    items = certification.readable_items(campaign, user)
    if filters.pending is not None:
        items = items.filter(decided_at__isnull=filters.pending)
    items = certification.for_certifying(items).order_by("agent__name", "agent_id", "kind", "pk")
    current, meta = page_of(items, filters.page)
    cache: dict[int, list[Any]] = {}
    return {**meta, "results": [_item_out(i, cache) for i in current.object_list]}


@router.post(
    "/certification/items/{item_id}/attest",
    response={200: ItemOut, **ERRORS},
    url_name="certification_attest",
)
def attest(request: HttpRequest, item_id: int, body: AttestIn) -> Any:
    """Attest one item: keep, reduce (to ``reduce_to``) or revoke, with a reason for
    anything but keep. Only its certifiers may (four eyes: never who requested it)."""
    user = require(request, "write", "assessments.view_agent")
    if not 0 < item_id < 2**63:
        raise ApiError(404, "There is no such item.")
    item = get_object_or_404(
        certification.for_certifying(CertificationItem.objects.all()), pk=item_id
    )
    if not scope.may_read(user, item.agent) and not certification.certifiers(item).allows(user):
        raise ApiError(404, "There is no such item.")
    item = actions.attest_item(
        user,
        item,
        decision=body.decision,
        reduce_to=body.reduce_to,
        reason=body.reason,
        invokers=body.invokers,
        request=request,
    )
    item = certification.for_certifying(CertificationItem.objects.all()).get(pk=item.pk)
    return _item_out(item, {})
