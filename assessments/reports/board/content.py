"""A board pack's content: every figure, list and section as one dictionary, the same
one the PDF prints and ``report-content.json`` carries."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from assessments import portfolio
from assessments.engine import BLOCKING_FLAGS, FLAG_DESCRIPTIONS, FLAG_TITLES
from assessments.models import (
    Assessment,
    CatalogueVersion,
    GapException,
    Review,
    System,
)
from assessments.reports import appetite
from assessments.reports import certification as certification_results
from assessments.workflow import decisions

from . import owners as board_owners
from .figures import (
    HIGH_RISK_ACCESS,
    IN_PROGRESS_LABELS,
    REVIEW_STATE_LABELS,
    _latest_approved,
    _name,
    _open_gap_rows,
    _pct,
    _reclassifications,
    _review_state,
    _reviews,
    _site_url,
)
from .filters import (
    CLASS_LABELS,
    DUE_LIST_LIMIT,
    DUE_WITHIN_DAYS,
    LIST_LIMIT,
    TIER_LABELS,
    TIER_ORDER,
    TOP_RISKS,
    UNASSESSED,
    BoardFilters,
)
from .history import _changes, _trend, baseline_pack, previous_packs
from .register import REGISTER_HEADERS, _due_by_team, _needs_attention, needing_attention
from .sections import _frameworks, _key_points, _resolution_status, _resolutions, discovery_section


def board_content(filters: BoardFilters, *, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the board pack states, as plain data. Every figure is a portfolio
    definition (assessments/portfolio/) applied to the pack's scope; the register
    (one row per agent) carries what each figure counts, so each can be recounted."""
    today = today or timezone.localdate()
    scope = filters.agents()
    in_progress = Assessment.objects.open().filter(agent=OuterRef("pk")).order_by("-number")
    agents = list(
        portfolio.agents_for_list(scope, today)
        .annotate(
            open_number=Subquery(in_progress.values("number")[:1]),
            open_status=Subquery(in_progress.values("status")[:1]),
            open_classification=Subquery(in_progress.values("classification")[:1]),
            open_tier=Subquery(in_progress.values("tier")[:1]),
            open_since=Subquery(in_progress.values("submitted_at")[:1]),
        )
        .order_by("team__name", "name", "pk")
        .values(
            "pk",
            "name",
            "slug",
            "current_classification",
            "current_tier",
            "next_review",
            "review_triggered",
            "review_overdue",
            "assessment_state",
            "open_number",
            "open_status",
            "open_classification",
            "open_tier",
            "open_since",
            "team__name",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
        )
    )
    ids = scope.values("pk")
    answerable = board_owners.answerable_by_agent(ids, today)
    accountability = board_owners.accountability_section(scope, today)
    # Reach, as a board reads it: what each agent can change; read access is counted.
    writes: dict[int, list[str]] = defaultdict(list)
    reads: Counter[int] = Counter()
    high_risk: dict[int, list[str]] = defaultdict(list)
    for agent_id, name, access in (
        System.objects.filter(agent__in=ids)
        .order_by("name")
        .values_list("agent_id", "name", "access")
    ):
        if access == "read":
            reads[agent_id] += 1
        else:
            writes[agent_id].append(f"{name} ({access})")
            if access in HIGH_RISK_ACCESS:
                high_risk[agent_id].append(f"{name} ({access})")
    latest: dict[int, dict[str, Any]] = {row["agent_id"]: row for row in _latest_approved(ids)}

    # Exceptions in force (controls and flags alike: portfolio.exceptions_in_force), and
    # those that expired in the period (not renewed, not revoked): their gaps re-opened.
    exception_fields = (
        "agent_id",
        "agent__name",
        "agent__slug",
        "subject",
        "reason",
        "expires_on",
        "assessment__number",
        "accepted_by__first_name",
        "accepted_by__last_name",
        "accepted_by__username",
    )

    def listed(e: dict[str, Any]) -> dict[str, Any]:
        return {
            "agent": e["agent__name"],
            "slug": e["agent__slug"],
            "subject": e["subject"],
            "reason": e["reason"],
            "expires_on": e["expires_on"],
            "days_left": (e["expires_on"] - today).days,
            "version": e["assessment__number"],
            "accepted_by": _name(
                e["accepted_by__first_name"],
                e["accepted_by__last_name"],
                e["accepted_by__username"],
            ),
        }

    in_force_rows = list(
        portfolio.exceptions_in_force(today)
        .filter(agent__in=ids)
        .order_by("expires_on", "agent__name", "subject", "pk")
        .values(*exception_fields)
    )
    exceptions = [listed(e) for e in in_force_rows]
    by_agent_exceptions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e, x in zip(in_force_rows, exceptions, strict=True):
        by_agent_exceptions[e["agent_id"]].append(x)
    expired_rows = list(
        GapException.objects.not_superseded()
        .filter(
            agent__in=ids,
            revoked_at__isnull=True,
            expires_on__gte=filters.since,
            expires_on__lt=today,
        )
        .order_by("expires_on", "agent__name", "subject", "pk")
        .values(*exception_fields)
    )
    expired = [listed(e) for e in expired_rows]
    expired_by_agent: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e, x in zip(expired_rows, expired, strict=True):
        expired_by_agent[e["agent_id"]].append(x)
    expiring_list = [x for x in exceptions if x["days_left"] <= DUE_WITHIN_DAYS]

    overdue = _reviews(Review.objects.overdue(today).filter(agent__in=ids), today)
    review_counts = portfolio.review_states(
        today, Review.objects.in_queue(DUE_WITHIN_DAYS, today).filter(agent__in=ids)
    )
    states = portfolio.assessment_states(scope)
    open_gaps = portfolio.open_gaps(today, top=0, agents=scope)
    open_by_agent = _open_gap_rows(today, scope)
    due = _reviews(Review.objects.due(DUE_WITHIN_DAYS, today).filter(agent__in=ids), today)
    reclassified = _reclassifications(ids, filters)
    reclassified_by_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in reclassified:
        reclassified_by_agent[r["slug"]].append(r)
    first_decided = set(
        Assessment.objects.approved()
        .filter(
            agent__in=ids,
            number=1,
            decided_at__date__gte=filters.since,
            decided_at__date__lte=filters.until,
        )
        .values_list("agent_id", flat=True)
    )
    first_decisions = len(first_decided)

    # Catalogues in use: control -> mapped items, and titles for the matrix.
    versions = {row["catalogue_id"] for row in latest.values()}
    in_force = decisions.current_catalogue()
    versions.add(in_force.pk)
    catalogues = {
        v.pk: decisions.catalogue_data(v) for v in CatalogueVersion.objects.filter(pk__in=versions)
    }
    control_titles = {c["id"]: c["title"] for data in catalogues.values() for c in data["controls"]}

    def subject_title(subject: str) -> str:
        return control_titles.get(subject) or FLAG_TITLES.get(subject, subject)

    gaps_by_control: dict[str, dict[str, Any]] = {}
    flag_counts: Counter[str] = Counter()
    matrix: dict[Any, dict[str, int]] = {t: Counter() for t in (*TIER_LABELS, None)}
    team_rows: dict[str, Counter[str]] = defaultdict(Counter)
    register: list[dict[str, Any]] = []
    for a in agents:
        cls = a["current_classification"] or UNASSESSED
        tier = a["current_tier"] if a["current_classification"] else None
        matrix[tier][cls] += 1
        team = team_rows[a["team__name"]]
        team["total"] += 1
        team[f"tier{tier}" if tier else UNASSESSED] += 1
        review_state = _review_state(a, today)
        if review_state == "overdue":
            team["overdue"] += 1
        approved_row = latest.get(a["pk"])
        agent_exceptions = by_agent_exceptions.get(a["pk"], [])
        excepted_subjects = {x["subject"] for x in agent_exceptions}
        flags: list[str] = []
        if approved_row is not None:
            flags = list(approved_row["flags"] or [])
            flag_counts.update(flags)
            for control in approved_row["controls"] or []:
                if control["status"] != "gap":
                    continue
                entry = gaps_by_control.setdefault(
                    control["id"],
                    {"id": control["id"], "title": control["title"], "agents": 0, "excepted": 0},
                )
                entry["agents"] += 1
                entry["excepted"] += int(control["id"] in excepted_subjects)
        open_ids = open_by_agent.get(a["pk"], [])
        blocking = [f for f in flags if f in BLOCKING_FLAGS and f not in excepted_subjects]
        late = (today - a["next_review"]).days if review_state == "overdue" else 0
        moves = reclassified_by_agent.get(a["slug"], [])
        state = a["assessment_state"]
        register.append(
            {
                "team": a["team__name"],
                "agent": a["name"],
                "slug": a["slug"],
                "owner": _name(a["owner__first_name"], a["owner__last_name"], a["owner__username"]),
                **answerable.get(a["pk"], board_owners.NOBODY),
                "state": state,
                "state_label": portfolio.ASSESSMENT_STATE_LABELS[state],
                "class": CLASS_LABELS[cls] if tier else portfolio.UNASSESSED_LABEL,
                "classification": a["current_classification"] if tier else "",
                "tier": tier,
                "version": approved_row["number"] if approved_row is not None else None,
                "approved_on": timezone.localdate(approved_row["decided_at"])
                if approved_row is not None
                else None,
                "in_progress": {
                    "version": a["open_number"],
                    "status": a["open_status"],
                    "label": IN_PROGRESS_LABELS.get(a["open_status"], ""),
                    "proposed_tier": a["open_tier"],
                    "proposed_class": a["open_classification"] or "",
                    "since": timezone.localdate(a["open_since"]) if a["open_since"] else None,
                }
                if a["open_number"]
                else None,
                "review_state": review_state,
                "review_state_label": REVIEW_STATE_LABELS[review_state],
                "review_triggered": bool(a["review_triggered"]),
                "next_review": a["next_review"],  # the open review's due date
                "days_overdue": late,
                "open_gaps": open_ids,
                "open_gap_titles": [subject_title(g) for g in open_ids],
                "exceptions": [
                    {
                        "subject": x["subject"],
                        "title": subject_title(x["subject"]),
                        "kind": "flag" if x["subject"] in FLAG_TITLES else "control",
                        "expires_on": x["expires_on"],
                        "expiring": x["days_left"] <= DUE_WITHIN_DAYS,
                    }
                    for x in agent_exceptions
                ],
                "expired": [
                    {"subject": x["subject"], "expires_on": x["expires_on"]}
                    for x in expired_by_agent.get(a["pk"], [])
                ],
                "first_decision": a["pk"] in first_decided,
                "flags": [FLAG_TITLES.get(f, f) for f in flags],
                "flag_codes": flags,
                "blocking_flags": [FLAG_TITLES.get(f, f) for f in blocking],
                "reclassified": [
                    {
                        "from": r["from"],
                        "to": r["to"],
                        "on": timezone.localdate(r["decided_at"]),
                        "change": r["change"],
                        "class_changed": r["class_changed"],
                    }
                    for r in moves
                ],
                "can_change": writes.get(a["pk"], []),
                "high_risk_access": high_risk.get(a["pk"], []),
                "read_only": reads[a["pk"]],
            }
        )

    total = len(agents)
    assessed = total - states["undecided"]
    agent_ids = sum(matrix[t]["agent_identity"] for t in matrix)
    machine_ids = sum(matrix[t]["machine_identity"] for t in matrix)
    critical = sum(matrix[4].values())
    high = sum(matrix[3].values())
    expiring = len(expiring_list)

    # Coverage matrix: the current catalogue's items, in its order (portfolio.py).
    coverage = portfolio.portfolio_coverage(list(latest.values()), catalogues, in_force.pk)
    frameworks = _frameworks(coverage)

    tier_columns: list[tuple[Any, str]] = [(t, TIER_LABELS[t]) for t in TIER_ORDER]
    tier_columns.append((None, portfolio.UNASSESSED_LABEL))
    distribution = [
        {
            "label": label,
            "agent_identity": matrix[key]["agent_identity"],
            "machine_identity": matrix[key]["machine_identity"],
            "unassessed": matrix[key][UNASSESSED],
            "total": sum(matrix[key].values()),
        }
        for key, label in tier_columns
    ]
    gaps = sorted(gaps_by_control.values(), key=lambda g: (-g["agents"], g["id"]))
    for g in gaps:
        g["open"] = g["agents"] - g["excepted"]
    by_subject: dict[str, dict[str, Any]] = {}
    for x in exceptions:
        entry = by_subject.setdefault(
            x["subject"],
            {
                "subject": x["subject"],
                "title": subject_title(x["subject"]),
                "count": 0,
                "expiring": 0,
                "next_expiry": x["expires_on"],
            },
        )
        entry["count"] += 1
        entry["expiring"] += int(x["days_left"] <= DUE_WITHIN_DAYS)
        entry["next_expiry"] = min(entry["next_expiry"], x["expires_on"])

    ratify = [r for r in reclassified if r["change"] == "up" or r["class_changed"]]
    headline = {
        "agents": total,
        "never_assessed": states["never_started"],
        "undecided": states["undecided"],
        "critical": critical,
        "high": high,
        "overdue": review_counts["overdue"],
        "agents_with_open_gaps": open_gaps.agent_count,
        "open_gaps": open_gaps.total,
        "exceptions": len(exceptions),
        "expiring": expiring,
        "reclassified_up": portfolio.reclassified_up(filters.since, filters.until, scope),
        "orphaned": accountability["orphaned"],
        "inactive": accountability["inactive"],
        "tiers": {str(t): sum(matrix[t].values()) for t in TIER_LABELS},
    }
    points = _key_points(
        total=total,
        assessed=assessed,
        agent_ids=agent_ids,
        critical=critical,
        high=high,
        overdue=overdue,
        gaps=gaps,
        agents_with_open_gaps=open_gaps.agent_count,
        expiring=expiring,
        reclassified=reclassified,
        states=portfolio.assessment_states(scope.filter(current_classification="")),
    )
    history = previous_packs(filters)
    baseline = baseline_pack(history)
    status = appetite.judged(headline, assessed)
    moved = [
        {
            "key": f["key"],
            "label": f["label"],
            "from": baseline["status"][f["key"]],
            "to": f["status"],
        }
        for f in status
        if baseline and baseline["status"].get(f["key"]) not in (None, f["status"])
    ]
    awaiting = list(
        Assessment.objects.filter(agent__in=ids, status=Assessment.Status.SUBMITTED)
        .order_by("submitted_at", "pk")
        .values(
            "agent__name",
            "agent__slug",
            "number",
            "submitted_at",
            "classification",
            "tier",
            "agent__current_tier",
        )
    )
    attention_total = sum(1 for r in register if _needs_attention(r))
    figures_now = {
        "to_ratify": len(ratify),
        "expiring": expiring,
        "overdue": review_counts["overdue"],
        "awaiting": len(awaiting),
        "moved_band": len(moved),
    }
    resolutions = _resolutions(figures_now, moved)
    # The codes the pack prints (control ids such as AIC-01); flags are printed in words,
    # so their keys (audit_gap) are never a reader's to look up.
    used = {g["id"] for g in gaps} | {x["subject"] for x in exceptions}
    glossary = [
        {"code": code, "title": subject_title(code)}
        for code in sorted(used)
        if subject_title(code) != code and code not in flag_counts and not code.islower()
    ]
    top_risks = needing_attention(register, TOP_RISKS, today)
    return {
        # -- discovery (helper `discovery`): estate-wide figures, see discovery_section
        "discovery": discovery_section(filters),
        # -- access certification (issue 26): campaigns of the period, see reports/certification
        "certification": certification_results.board_summary(
            filters.since, filters.until, filters.agents()
        ),
        "report": "board",
        "headline": headline,
        "accountability": accountability,
        "status": status,
        "previous": baseline,
        "moved_band": moved,
        "changes": _changes(headline, baseline["figures"] if baseline else None),
        "trend": _trend(
            headline, today, history, scope, period_days=(filters.until - filters.since).days
        ),
        "top_risks": top_risks,
        "top_risks_total": attention_total,
        "decisions": {
            "awaiting": [
                {
                    "agent": a["agent__name"],
                    "slug": a["agent__slug"],
                    "version": a["number"],
                    "submitted_on": timezone.localdate(a["submitted_at"])
                    if a["submitted_at"]
                    else None,
                    "proposed": f"{CLASS_LABELS.get(a['classification'], 'Not decided')}, "
                    f"tier {a['tier']}"
                    if a["classification"] and a["tier"]
                    else "Not decided",
                }
                for a in awaiting[:LIST_LIMIT]
            ],
            "awaiting_total": len(awaiting),
            "expiring": len(expiring_list),
            "expiring_listed": [
                {**x, "title": subject_title(x["subject"])} for x in expiring_list[:LIST_LIMIT]
            ],
            "ratify": ratify[-LIST_LIMIT:],
            "ratify_total": len(ratify),
        },
        "commentary": filters.commentary,
        "resolutions": resolutions,
        "previous_resolutions": _resolution_status(baseline, figures_now),
        "glossary": glossary,
        "signoff": {
            "chair": filters.chair,
            "attendees": [a.strip() for a in filters.attendees.split(",") if a.strip()],
            "prepared_by": filters.prepared_by,
            "reviewed_by": filters.reviewed_by,
            "meeting_date": filters.meeting_date,
            "decision": filters.decision,
        },
        "today": today,
        "period": {"since": filters.since, "until": filters.until},
        "filters": filters.describe(),
        "catalogue_version": in_force.version,
        # Where each figure's definition is written (the "How these figures are counted"
        # page): at SITE_URL, or named only when the site has no address a reader can reach.
        "figures_url": _site_url() + reverse("assessments:figures") if _site_url() else "",
        "site_url": _site_url(),
        "figures": {
            "agents": total,
            "assessed": assessed,
            "undecided": states["undecided"],
            "never_assessed": states["never_started"],
            "agent_identity": agent_ids,
            "agent_identity_pct": _pct(agent_ids, assessed),
            "machine_identity": machine_ids,
            "critical": critical,
            "high": high,
            "overdue": review_counts["overdue"],
            "due": review_counts["due"],
            "triggered": review_counts["triggered"],
            "triggered_overdue": review_counts["triggered_overdue"],
            "pending_decision": states["pending_decision"],
            "returned": states["returned"],
            "in_draft": states["in_draft"],
            "never_started": states["never_started"],
            "agents_with_open_gaps": open_gaps.agent_count,
            "open_gaps": open_gaps.total,
            "exceptions": len(exceptions),
            "exceptions_on_flags": sum(1 for x in exceptions if x["subject"] in FLAG_TITLES),
            "expiring": expiring,
            "expired": len(expired),
            "reclassified": len(reclassified),
            "reclassified_agents": len(reclassified_by_agent),
            "reclassified_up": headline["reclassified_up"],
            "to_ratify": len(ratify),
            "first_decisions": first_decisions,
            "awaiting": len(awaiting),
        },
        "key_points": points,
        "distribution": distribution,
        "teams": [
            {
                "name": name,
                "total": c["total"],
                "tiers": [c[f"tier{t}"] for t in TIER_ORDER],
                "unassessed": c[UNASSESSED],
                "overdue": c["overdue"],
            }
            for name, c in sorted(team_rows.items())
        ],
        "flags": [
            {
                "id": f,
                "title": FLAG_TITLES.get(f, f),
                "description": FLAG_DESCRIPTIONS.get(f, ""),
                "agents": n,
            }
            for f, n in sorted(flag_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "overdue": overdue[:LIST_LIMIT],
        "overdue_more": max(0, len(overdue) - LIST_LIMIT),
        "overdue_by_team": _due_by_team(overdue),
        "due": due[:DUE_LIST_LIMIT],
        "due_more": max(0, len(due) - DUE_LIST_LIMIT),
        "due_total": len(due),
        "due_by_team": _due_by_team(due),
        "gaps": gaps,
        "exceptions_by_subject": sorted(
            by_subject.values(), key=lambda x: (-x["count"], x["subject"])
        ),
        "expiring_exceptions": expiring_list[:LIST_LIMIT],
        "expiring_more": max(0, len(expiring_list) - LIST_LIMIT),
        "expired_exceptions": expired[:LIST_LIMIT],
        "expired_more": max(0, len(expired) - LIST_LIMIT),
        "reclassifications": reclassified[-LIST_LIMIT:],
        "reclassifications_more": max(0, len(reclassified) - LIST_LIMIT),
        "frameworks": frameworks,
        "top": filters.top,
        "attention": needing_attention(register, filters.top, today),
        "attention_total": attention_total,
        "register": register,
        # The register's column headers, for "all M in the register, column …".
        "columns": REGISTER_HEADERS,
    }
