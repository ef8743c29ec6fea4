"""Agents: the inventory, with its systems and links; retire and reactivate."""

from __future__ import annotations

from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from assessments import actions, portfolio
from assessments.access import foreign, scope
from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import AgentDetail, AgentIn, AgentOut, AgentPage, AgentUpdate
from assessments.forms import AgentFilterForm, bound_agent_forms
from assessments.interchange import owners
from assessments.models import Agent, AgentLink, AgentOwner, Team
from assessments.presentation import PAGE_SIZE

router = Router(tags=["agents"])
User = get_user_model()


class AgentFilters(Schema):
    q: str = ""
    status: str = "active"
    team: str = ""
    classification: str = ""
    tier: str = ""
    assessment: str = ""
    sort: str = ""
    page: int = 1


def page_of(items: Any, page: int) -> tuple[Any, dict[str, int]]:
    """One page of ``items`` (the pages' size); a page beyond the last gives the last."""
    paginator = Paginator(items, PAGE_SIZE)
    current = paginator.get_page(max(1, min(page, 10**6)))
    return current, {"count": paginator.count, "page": current.number, "pages": paginator.num_pages}


def _detail(slug: str, user: Any = None) -> Agent:
    """The agent; with ``user``, not found unless they may read it (scope.py)."""
    agent = get_object_or_404(
        Agent.objects.select_related("owner", "sponsor", "team").prefetch_related(
            "systems",
            Prefetch("co_owners", queryset=AgentOwner.objects.select_related("person")),
            Prefetch("links_out", queryset=AgentLink.objects.select_related("target")),
            Prefetch("links_in", queryset=AgentLink.objects.select_related("source")),
        ),
        slug=slug,
    )
    if user is not None and not scope.may_read(user, agent):
        raise Http404
    return agent


def _links(agent: Agent, user: Any) -> list[dict[str, str]]:
    """The links ``user`` may read: another team's agent, with reading scoped, is named
    nowhere (its links are kept as they are when the links are replaced)."""
    shown, _hidden = foreign.readable_links(agent, user)
    return [{"kind": r["kind"], "other": r["other"]} for r in shown]


def _hidden_links(agent: Agent, user: Any) -> list[dict[str, str]]:
    _shown, hidden = foreign.readable_links(agent, user)
    return [{"kind": r["kind"], "other": r["other"]} for r in hidden]


def _detail_of(agent: Agent, user: Any) -> dict[str, Any]:
    agent = _detail(agent.slug)
    return {**AgentOut.of(agent), "links": _links(agent, user)}


@router.get("/agents", response={200: AgentPage, **ERRORS}, url_name="agent_list")
def list_agents(request: HttpRequest, filters: Query[AgentFilters]) -> Any:
    """Agents, filtered and sorted as on the Agents page (``status`` is ``active`` unless
    given; an empty ``status`` lists active and retired agents)."""
    user = require(request, "read", "assessments.view_agent")
    form = AgentFilterForm(filters.dict(), user=user)
    if not form.is_valid():
        raise ApiError(422, "A filter is not understood.", errors=_form_errors(form, "query"))
    agents, _sort = form.apply(
        portfolio.agents_for_list(Agent.objects.for_list(), timezone.localdate()), request.user
    )
    current, meta = page_of(agents, filters.page)
    return {**meta, "results": [AgentOut.of(a) for a in current.object_list]}


@router.get("/agents/{slug}", response={200: AgentDetail, **ERRORS}, url_name="agent_detail")
def get_agent(request: HttpRequest, slug: str) -> Any:
    user = require(request, "read", "assessments.view_agent")
    agent = _detail(slug, user)
    return {**AgentOut.of(agent), "links": _links(agent, user)}


@router.post("/agents", response={201: AgentDetail, **ERRORS}, url_name="agent_create")
def create_agent(request: HttpRequest, body: AgentIn) -> Any:
    """Register an agent. The same checks as the form on the site apply."""
    user = require(request, "write", "assessments.add_agent")
    data = body.dict()
    form, systems, links = _bound(data, None, user)
    ownership = _ownership(None, form.cleaned_data["owner"], data["sponsor"], data["successors"])
    with transaction.atomic():
        agent = actions.create_agent(
            user,
            fields={k: v for k, v in form.cleaned_data.items() if k in actions.AGENT_FIELDS},
            systems=systems.systems(),
            links=links.links(),
            request=request,
        )
        owners.apply(user, agent, ownership, request=request)
    return Status(201, _detail_of(agent, user))


@router.patch("/agents/{slug}", response={200: AgentDetail, **ERRORS}, url_name="agent_update")
def update_agent(request: HttpRequest, slug: str, body: AgentUpdate) -> Any:
    """Change an agent. Send the ``lock_version`` you read: if someone saved in between,
    nothing is saved and the answer is 409 with their values and yours."""
    user = require(request, "write", "assessments.change_agent")
    agent = _detail(slug, user)
    # The fields sent, with their nested defaults filled in (a system sent without
    # ``access`` reads "read", as the schema says; exclude_unset would drop it).
    full = body.dict()
    given = {k: full[k] for k in body.model_fields_set}
    current = {
        **AgentOut.of(agent),
        "links": _links(agent, user),
    }
    data = {
        k: given.get(k) if given.get(k) is not None else current[k] for k in AgentIn.model_fields
    }
    form, systems, links = _bound(data, agent, user)
    ownership = _ownership(
        agent, form.cleaned_data["owner"], given.get("sponsor"), given.get("successors")
    )
    with transaction.atomic():
        saved = actions.update_agent(
            user,
            agent,
            fields={k: v for k, v in form.cleaned_data.items() if k in actions.AGENT_FIELDS},
            systems=systems.systems() if given.get("systems") is not None else None,
            links=[*links.links(), *_hidden_links(agent, user)]
            if given.get("links") is not None
            else None,
            expected_version=body.lock_version,
            request=request,
        )
        owners.apply(user, saved, ownership, request=request)
    return _detail_of(saved, user)


@router.post(
    "/agents/{slug}/retire", response={200: AgentDetail, **ERRORS}, url_name="agent_retire"
)
def retire_agent(request: HttpRequest, slug: str) -> Any:
    user = require(request, "write", "assessments.change_agent")
    return _detail_of(actions.retire_agent(user, _detail(slug, user), request=request), user)


@router.post(
    "/agents/{slug}/reactivate", response={200: AgentDetail, **ERRORS}, url_name="agent_reactivate"
)
def reactivate_agent(request: HttpRequest, slug: str) -> Any:
    user = require(request, "write", "assessments.change_agent")
    return _detail_of(actions.reactivate_agent(user, _detail(slug, user), request=request), user)


class DecommissionIn(Schema):
    outcome: Literal["keep", "retire", "decommission"] = Field(
        description="keep (a reason is required; the inactive clock restarts), retire, or "
        "decommission (retire, recorded as decommissioned)."
    )
    reason: str = Field("", max_length=1000)


@router.post(
    "/agents/{slug}/decommission",
    response={200: AgentDetail, **ERRORS},
    url_name="agent_decommission",
)
def answer_decommission(request: HttpRequest, slug: str, body: DecommissionIn) -> Any:
    """Answer the agent's open "Decommission?" review (an agent idle for
    ``INACTIVE_AGENT_DAYS``). 422 when none is open or a keep gives no reason."""
    user = require(request, "write", "assessments.change_agent")
    agent = _detail(slug, user)
    return _detail_of(
        actions.answer_decommission(user, agent, body.outcome, reason=body.reason, request=request),
        user,
    )


# --------------------------------------------------------------------------- the site's forms


def _bound(data: dict[str, Any], agent: Agent | None, user: Any = None) -> tuple[Any, Any, Any]:
    """The site's agent form and its systems and links rows, bound to the API's data;
    any error they find is a 422 naming the field."""
    errors: list[dict[str, str]] = []
    owner = User.objects.filter(username=data["owner"], is_active=True).first()
    if owner is None:
        errors.append({"location": "body.owner", "message": "No active person has this username."})
    team = Team.objects.filter(slug=data["team"]).first()
    if team is None:
        errors.append({"location": "body.team", "message": "No team has this slug."})
    if errors:
        raise ApiError(422, "The agent cannot be saved; nothing was changed.", errors=errors)
    form, systems, links, problems = bound_agent_forms(
        {**data, "owner": owner, "team": team}, agent, user
    )
    if problems:
        raise ApiError(
            422,
            "The agent cannot be saved; nothing was changed.",
            errors=[
                {"location": f"body.{name}" if name else "body", "message": message}
                for name, message in problems
            ],
        )
    return form, systems, links


def _ownership(
    agent: Agent | None, owner: Any, sponsor: str | None, successors: list[str] | None
) -> owners.Plan:
    """The sponsor and successors sent, checked before anything is saved (a 422 names
    each bad value)."""
    planned = owners.plan(agent, sponsor=sponsor, successors_=successors, owner=owner)
    if planned.errors:
        raise ApiError(
            422,
            "The agent cannot be saved; nothing was changed.",
            errors=[{"location": f"body.{key}", "message": m} for key, m in planned.errors],
        )
    return planned


def _form_errors(form: Any, where: str) -> list[dict[str, str]]:
    return [
        {"location": f"{where}.{name}" if name != "__all__" else where, "message": str(m)}
        for name, messages in form.errors.items()
        for m in messages
    ]
