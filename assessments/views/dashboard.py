"""The dashboard: the portfolio at a glance, every figure a link to its filtered list."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from assessments import portfolio
from assessments.access import scope
from assessments.access.roles import permission_required
from assessments.portfolio import stored as stored_figures
from assessments.presentation import charts
from assessments.views.common import HtmxHttpRequest
from assessments.workflow import inbox, reviews

CLASS_SERIES = {
    "agent_identity": charts.Series("agent_identity", "Agent identity", "#6f2dbd"),
    "machine_identity": charts.Series("machine_identity", "Machine identity", "#0f766e"),
}
TIER_NAMES = {4: "Critical", 3: "High", 2: "Elevated", 1: "Baseline"}
STATE_FILLS = {"overdue": "#b91c1c", "triggered": "#b45309", "due": "#3a56d4"}


def _url(name: str, **query: object) -> str:
    params = {k: v for k, v in query.items() if v not in (None, "")}
    return reverse(name) + (f"?{urlencode(params)}" if params else "")


@permission_required("assessments.view_agent")
@require_GET
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    # Someone who reads only their teams sees their teams' figures (scope.py).
    scoped = not scope.reads_all(request.user)
    # The last figures stored, never computed in this request (assessments/portfolio/stored.py).
    stored = stored_figures.read(today, stored_figures.scope_of(request.user))
    common = {
        "today": today,
        "stored": stored,
        "queue_href": _url("assessments:queue"),
        "scoped_teams": list(scope.readable_teams(request.user)) if scoped else None,
        # Estate-wide (identities belong to no team): for those who read every team.
        "discovery": portfolio.discovery_figures()
        if not scoped and request.user.has_perm("assessments.view_discoveredidentity")
        else None,
    }
    template = "assessments/dashboard.html"
    if request.htmx and request.htmx.target == "portfolio-figures":
        template += "#figures"  # the panel again, once newer figures have landed
    else:
        common["inbox_trays"] = inbox.trays(request.user)
    if not stored.ready:  # a fresh install: the first computation is under way
        return render(request, template, common)
    figures = portfolio.dashboard_figures(stored.figures)
    matrix = figures.matrix
    states = figures.states
    assessment_states = figures.assessment_states
    gaps = figures.gaps
    expiring = figures.expiring
    for exception in expiring:
        exception.days_left = (exception.expires_on - today).days  # type: ignore[attr-defined]
    reclassified = figures.reclassified
    common["accountability"] = figures.accountability

    groups = []
    for tier in portfolio.TIERS:
        members = []
        for key in portfolio.CLASSES:
            series = CLASS_SERIES[key]
            n = matrix.count(key, tier)
            members.append(
                (
                    series,
                    n,
                    _url("assessments:agent_list", classification=key, tier=tier),
                    f"{series.label}, tier {tier} ({TIER_NAMES[tier].lower()}): "
                    f"{n} agent{'s' if n != 1 else ''}",
                )
            )
        groups.append((f"Tier {tier} · {TIER_NAMES[tier]}", members))
    segments = [
        (
            key,
            reviews.STATE_LABELS[key],
            states[key],
            STATE_FILLS[key],
            _url("assessments:queue", state=key),
        )
        for key in ("overdue", "triggered", "due")
    ]
    state_rows = [
        {"key": key, "label": label, "count": n, "fill": fill, "href": href}
        for key, label, n, fill, href in segments
    ]
    context = {
        **common,
        "matrix": matrix,
        "class_chart": charts.grouped_bars(groups),
        "class_series": list(CLASS_SERIES.values()),
        "class_rows": [
            {
                "tier": tier,
                "name": TIER_NAMES[tier],
                "cells": [
                    {
                        "count": matrix.count(key, tier),
                        "href": _url("assessments:agent_list", classification=key, tier=tier),
                    }
                    for key in portfolio.CLASSES
                ],
            }
            for tier in portfolio.TIERS
        ],
        "class_totals": [
            {
                "series": CLASS_SERIES[key],
                "count": matrix.by_class(key),
                "href": _url("assessments:agent_list", classification=key),
            }
            for key in portfolio.CLASSES
        ],
        "unassessed_href": _url("assessments:agent_list", classification="unassessed"),
        "unassessed_label": portfolio.UNASSESSED_LABEL,
        "triggered_past_due": portfolio.triggered_past_due_words(states),
        "states": states,
        "assessment_states": assessment_states,
        "assessment_rows": [
            {
                "key": key,
                "label": portfolio.ASSESSMENT_STATE_LABELS[key],
                "count": assessment_states[key],
                "href": _url("assessments:agent_list", assessment=key),
            }
            for key in portfolio.ASSESSMENT_STATES
        ],
        "state_rows": state_rows,
        "state_donut": charts.donut(segments),
        "gaps": gaps,
        "gap_agents": gaps.agents,
        "gap_controls": gaps.by_control[:6],
        "gap_peak": max((n for _c, _t, n in gaps.by_control), default=0),
        "expiring": expiring,
        "expiring_total": figures.expiring_total,
        "reclassified": reclassified,
    }
    return render(request, template, context)


@permission_required("assessments.view_agent")
@require_GET
def figures_status(request: HtmxHttpRequest) -> HttpResponse:
    """The line saying when the portfolio figures were computed, polled while newer ones
    are on their way. ``shown``: when the figures on the page were computed (ISO, or
    empty). Once newer figures are stored, the answer triggers ``figures-updated``: the
    page's figure panels fetch themselves again."""
    stored = stored_figures.read(timezone.localdate(), stored_figures.scope_of(request.user))
    current = stored.computed_at.isoformat() if stored.ready and stored.computed_at else ""
    response = render(
        request,
        "assessments/includes/figures_status.html",
        {"stored": stored, "today": timezone.localdate()},
    )
    if current and current != request.GET.get("shown", ""):
        response["HX-Trigger"] = "figures-updated"
    return response


@permission_required("assessments.view_agent")
@require_GET
def figures(request: HttpRequest) -> HttpResponse:
    """How these figures are counted: each definition of assessments/portfolio/ in words."""
    return render(
        request,
        "assessments/figures.html",
        {
            "queue_days": reviews.QUEUE_DAYS,
            "state_labels": portfolio.ASSESSMENT_STATE_LABELS,
            "inactive_days": settings.INACTIVE_AGENT_DAYS,
            "unassessed_label": portfolio.UNASSESSED_LABEL,
            "evidence_changed_label": portfolio.EVIDENCE_CHANGED_LABEL,
            "discovery_unused_days": settings.DISCOVERY_UNUSED_DAYS,
        },
    )
