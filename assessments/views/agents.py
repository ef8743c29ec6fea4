from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assessments import actions, portfolio
from assessments.access import foreign, scope
from assessments.access.roles import permission_required
from assessments.actions.ownership import INACTIVE, successors
from assessments.forms import (
    AgentFilterForm,
    AgentForm,
    LinkFormSet,
    SystemFormSet,
    initial_systems,
)
from assessments.models import Agent, AgentLink, Assessment, AuditEvent, EvidenceUpload, Review
from assessments.presentation import history
from assessments.presentation import rows as rows_for_page
from assessments.views.common import (
    MISSING_VERSION,
    HtmxHttpRequest,
    paginate_by_id,
    parse_version,
    query_without,
    scoped_agent,
)
from assessments.workflow import reviews


@permission_required("assessments.view_agent")
@require_GET
def agent_list(request: HtmxHttpRequest) -> HttpResponse:
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = "active"
    form = AgentFilterForm(data, user=request.user)
    today = timezone.localdate()
    # The list is filtered, counted and paged on the agents alone; only the page's rows
    # are read with what a row shows (a query with five subqueries per row, built
    # and compiled once instead of three times: 5 ms of the page at 100,000 agents).
    agents, sort = form.apply(Agent.objects.all(), request.user)
    every = portfolio.agents_for_list(Agent.objects.for_rows(), today)
    # A text search reads every agent: counted with the page, in one pass.
    page = paginate_by_id(request, agents, scan=bool(data.get("q", "").strip()), rows=every)
    context = {
        "form": form,
        "page": page,
        "agents": rows_for_page.agent_rows(page.object_list),
        "sort": sort,
        "today": today,
        "sort_label": dict(AgentFilterForm.SORTS).get(sort, "Name"),
        "query_without_page": query_without(request, "page"),
        "query_without_sort": query_without(request, "sort", "page"),
        "filtered": any(v for k, v in request.GET.items() if k not in ("page", "sort")),
    }
    template = "assessments/agent_list.html"
    if request.htmx and request.htmx.target == "agent-results":
        template += "#results"
    return render(request, template, context)


@permission_required("assessments.view_agent")
@require_GET
def agent_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(
        request,
        slug,
        Agent.objects.select_related("owner", "sponsor", "team").prefetch_related(
            "systems",
            Prefetch("links_out", queryset=AgentLink.objects.select_related("target")),
            Prefetch("links_in", queryset=AgentLink.objects.select_related("source")),
        ),
    )
    assessments = list(
        Assessment.objects.filter(agent=agent)
        .select_related("assessor", "reviewer")
        .order_by("-number")
    )
    latest_approved = next((a for a in assessments if a.status == "approved"), None)
    today = timezone.localdate()
    open_review = Review.objects.open().filter(agent=agent).select_related("assignee").first()
    if open_review is not None:  # its reasons may name another team's agent
        open_review.reasons = foreign.shown_to(request.user, open_review.reasons)
    context: dict[str, Any] = {
        "agent": agent,
        "assessments": assessments,
        "open_assessment": next(
            (a for a in assessments if a.status in Assessment.OPEN_STATUSES), None
        ),
        "latest_approved": latest_approved,
        "report_overdue": reviews.overdue_decision(latest_approved, today),
        "open_review": open_review,
        "evidence_changed": portfolio.review_evidence_changed(open_review),
        "history": history(
            foreign.events_shown_to(
                request.user,
                list(
                    AuditEvent.objects.filter(agent=agent)
                    .select_related("actor")
                    .order_by("-id")[:200]
                ),
            )
        )[:10],
        "evidence_uploads": EvidenceUpload.objects.filter(agent=agent).with_counts()[:10],
        "today": today,
        "successors": successors(agent),
        "asks_decommission": open_review is not None
        and any(r.get("code") == INACTIVE for r in open_review.reasons),
        "can_edit": scope.may_edit(request.user, agent),
        "edit_refusal": scope.edit_refusal(request.user, agent) if scope.editing_scoped() else "",
        "links": _links_shown(agent, request.user),
    }
    return render(request, "assessments/agent_detail.html", context)


LINK_WORDS = {
    "peer": "Peer of",
    "orchestrates": "Orchestrates",
    "orchestrated_by": "Orchestrated by",
}


def _links_shown(agent: Agent, user: Any) -> list[dict[str, Any]]:
    """The agent's links for its page: another team's agent, with reading scoped, is
    "an agent of another team", with neither its name nor a link to it."""
    shown, hidden = foreign.readable_links(agent, user)
    rows = [{"words": LINK_WORDS[r["kind"]], "agent": r["agent"]} for r in shown]
    return rows + [{"words": LINK_WORDS[r["kind"]], "agent": None} for r in hidden]


def _formsets(request: HtmxHttpRequest, agent: Agent | None) -> tuple[Any, Any]:
    if request.method == "POST":
        systems = SystemFormSet(request.POST, prefix="systems")
        links = LinkFormSet(request.POST, prefix="links", agent=agent, user=request.user)
    else:
        systems = SystemFormSet(prefix="systems", initial=initial_systems(agent) if agent else [])
        initial = [
            {"kind": r["kind"], "other": r["other"]}
            for r in (foreign.readable_links(agent, request.user)[0] if agent else [])
        ]
        links = LinkFormSet(prefix="links", agent=agent, initial=initial)
    return systems, links


def _hidden_links(agent: Agent, user: Any) -> list[dict[str, str]]:
    return [
        {"kind": r["kind"], "other": r["other"]} for r in foreign.readable_links(agent, user)[1]
    ]


def _rows_action(request: HtmxHttpRequest) -> tuple[str, str, int | None] | None:
    """A no-JavaScript "add row" / "remove row" button press, as (kind, op, index)."""
    for kind in ("systems", "links"):
        if f"add_{kind}" in request.POST:
            return kind, "add", None
        for op in ("remove", "restore"):
            if (value := request.POST.get(f"{op}_{kind}")) is not None:
                try:
                    return kind, op, int(value)
                except ValueError:
                    return None
    return None


def _rebuilt_post(request: HtmxHttpRequest, kind: str, op: str, index: int | None) -> Any:
    data = request.POST.copy()
    total_key = f"{kind}-TOTAL_FORMS"
    try:
        total = int(data.get(total_key, 0))
    except ValueError:
        total = 0
    if op == "add":
        data[total_key] = str(min(total + 1, 200))
    elif index is not None and 0 <= index < total:
        data[f"{kind}-{index}-DELETE"] = "on" if op == "remove" else ""
    return data


def _agent_form_page(
    request: HtmxHttpRequest, agent: Agent | None, *, status: int = 200, **extra: Any
) -> HttpResponse:
    systems, links = extra.pop("systems", None), extra.pop("links", None)
    if systems is None:
        systems, links = _formsets(request, agent)
    context = {
        "agent": agent,
        "form": extra.pop("form"),
        "systems": systems,
        "links": links,
        **extra,
    }
    return render(request, "assessments/agent_form.html", context, status=status)


def _save_agent(request: HtmxHttpRequest, agent: Agent | None) -> HttpResponse:
    form = AgentForm(request.POST, instance=agent or Agent(), user=request.user)
    if (rows := _rows_action(request)) is not None:
        # A row was added or removed without JavaScript: show the form again, unsaved.
        data = _rebuilt_post(request, *rows)
        form = AgentForm(data, instance=agent or Agent(), user=request.user)
        systems = SystemFormSet(data, prefix="systems")
        links = LinkFormSet(data, prefix="links", agent=agent, user=request.user)
        return _agent_form_page(request, agent, form=form, systems=systems, links=links)
    if agent is not None and parse_version(request) is None:
        # Without the version the edit cannot be told apart from one that would silently
        # undo someone else's change.
        return HttpResponse(MISSING_VERSION, status=400)
    systems, links = _formsets(request, agent)
    valid = form.is_valid() & systems.is_valid() & links.is_valid()
    if not valid:
        messages.error(request, "Nothing was saved yet. Please correct the fields marked below.")
        return _agent_form_page(request, agent, form=form, systems=systems, links=links, status=422)
    fields = {k: v for k, v in form.cleaned_data.items() if k in actions.AGENT_FIELDS}
    try:
        if agent is None:
            saved = actions.create_agent(
                request.user,
                fields=fields,
                systems=systems.systems(),
                links=links.links(),
                request=request,
            )
            messages.success(request, f"{saved.name} was added to the inventory.")
        else:
            saved = actions.update_agent(
                request.user,
                agent,
                fields=fields,
                systems=systems.systems(),
                # Links to agents the person may not read are kept: they were not shown.
                links=[*links.links(), *_hidden_links(agent, request.user)],
                expected_version=parse_version(request),
                request=request,
            )
            messages.success(request, f"Changes to {saved.name} were saved.")
    except actions.ConflictError as conflict:
        agent.refresh_from_db() if agent else None
        return _agent_form_page(
            request,
            agent,
            form=form,
            systems=systems,
            links=links,
            status=409,
            conflict=conflict,
            latest_version=agent.lock_version if agent else None,
        )
    except actions.ActionError as error:
        messages.error(request, str(error))
        return _agent_form_page(request, agent, form=form, systems=systems, links=links, status=422)
    return redirect(saved)


@permission_required("assessments.add_agent")
def agent_create(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save_agent(request, None)
    return _agent_form_page(request, None, form=AgentForm(user=request.user))


@permission_required("assessments.change_agent")
def agent_edit(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(request, slug, Agent.objects.select_related("owner", "team"), need="edit")
    if agent.is_retired:
        messages.warning(request, "This agent is retired. Reactivate it before editing.")
        return redirect(agent)
    if request.method == "POST":
        return _save_agent(request, agent)
    return _agent_form_page(request, agent, form=AgentForm(instance=agent, user=request.user))


@permission_required("assessments.change_agent")
@require_GET
def agent_form_row(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """htmx: a new blank row (with the incremented management count), or a row marked
    removed / restored. The no-JavaScript path is the same buttons posting the form."""
    if kind not in ("systems", "links"):
        return HttpResponse("Unknown row type.", status=400)
    formset_class = SystemFormSet if kind == "systems" else LinkFormSet
    try:
        index = int(request.GET.get("index", ""))
    except ValueError:
        return HttpResponse("A row number is required.", status=400)
    if not 0 <= index < 200:
        return HttpResponse("Too many rows.", status=400)
    op = request.GET.get("op", "add")
    if op not in ("add", "remove", "restore"):
        return HttpResponse("Unknown row operation.", status=400)
    prefix = f"{kind}-{index}"
    if op == "add":
        row = formset_class.form(prefix=prefix)
        removed = False
    else:
        data = request.GET.copy()
        data[f"{prefix}-DELETE"] = "on" if op == "remove" else ""
        row = formset_class.form(data=data, prefix=prefix)
        removed = op == "remove"
    return render(
        request,
        "assessments/agent_form.html#" + ("system_row" if kind == "systems" else "link_row"),
        {"row": row, "index": index, "removed": removed, "added": op == "add"},
    )


@permission_required("assessments.view_agent")
@require_GET
def agent_lookup(request: HtmxHttpRequest) -> HttpResponse:
    """htmx: options for the "other agent" datalist as the user types."""
    # The slug input sends itself (links-N-other); ?q= works too.
    term = (
        str(
            request.GET.get("q")
            or next((v for k, v in request.GET.items() if k.endswith("-other")), "")
        )
        .replace("\x00", "")
        .strip()[:100]
    )  # PostgreSQL refuses NUL in text
    matches = scope.readable(Agent.objects.active(), request.user)
    if term:
        matches = matches.search(term)
    rows = matches.order_by("name").values_list("slug", "name")[:20]
    return render(request, "assessments/agent_form.html#agent_options", {"options": rows})


@permission_required("assessments.change_agent")
@require_http_methods(["GET", "POST"])
def agent_retire(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """GET asks for confirmation on a page of its own (not the browser's confirm());
    POST retires."""
    agent = scoped_agent(request, slug, Agent.objects.select_related("owner", "team"), need="edit")
    if request.method == "GET":
        if agent.is_retired:
            messages.info(request, f"{agent.name} is already retired.")
            return redirect(agent)
        open_review = Review.objects.filter(agent=agent, closed_at__isnull=True).exists()
        return render(
            request,
            "assessments/agent_retire.html",
            {"agent": agent, "open_review": open_review},
        )
    try:
        actions.retire_agent(request.user, agent, request=request)
        messages.success(request, f"{agent.name} was retired. Its history is kept.")
    except actions.ActionError as error:
        messages.error(request, str(error))
    return redirect(agent)


@permission_required("assessments.change_agent")
@require_POST
def agent_reactivate(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(request, slug, need="edit")
    try:
        actions.reactivate_agent(request.user, agent, request=request)
        messages.success(request, f"{agent.name} is active again and due for a review.")
    except actions.ActionError as error:
        messages.error(request, str(error))
    return redirect(agent)
