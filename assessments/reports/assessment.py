"""The report of one assessment: what it decided, why, and what it asks for.

``report_content`` gathers everything the report states into one plain structure; the
template renders only that structure, and its canonical JSON is hashed, so the printed
fingerprint covers exactly what the report says. It leaves out the document id and the
generation time: two copies of the same decision share a fingerprint.

An approved assessment never changes, so its report is decided by immutable records
only: the frozen result and answers, and the exceptions as they stood when it was
approved. Drafts are evaluated live and their exceptions read as of today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from assessments import engine, portfolio
from assessments.access import foreign, scope
from assessments.models import Assessment, AuditEvent, Classification, GapException
from assessments.presentation import display_value, panel_context, why
from assessments.records import provenance
from assessments.reports.pdf import PdfMeta, RenderedPdf, canonical_json, render_pdf, sha256_hex
from assessments.workflow import decisions

TEMPLATE = "reports/pdf/assessment.html"
CLASS_LABELS: dict[str, str] = dict(Classification.choices)
PRIMARY_FRAMEWORKS = 4
STATUS_LABELS = {"in_place": "In place", "gap": "Gap", "unknown": "Not shown by the answers"}


def person(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def result_of(assessment: Assessment) -> engine.Result:
    """The frozen result once submitted; a live evaluation while it is a draft."""
    if assessment.status not in Assessment.EDITABLE_STATUSES and assessment.result:
        return engine.Result.from_dict(assessment.result)
    return decisions.evaluate_assessment(assessment)


def answers_of(assessment: Assessment) -> dict[str, Any]:
    answers = dict(assessment.answers or {})
    if assessment.status in Assessment.EDITABLE_STATUSES:
        answers.update(decisions.inventory_answers(assessment.agent))
    return answers


def exceptions_as_of(assessment: Assessment, moment: dt.datetime) -> dict[str, GapException]:
    """The agent's exceptions in force at ``moment``, by subject (the latest expiry wins)."""
    qs = (
        GapException.objects.filter(agent_id=assessment.agent_id)
        .filter(expires_on__gte=timezone.localdate(moment))
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=moment))
        .select_related("accepted_by", "assessment")
        .order_by("expires_on", "pk")
    )
    if assessment.status == Assessment.Status.APPROVED:
        qs = qs.filter(assessment__number__lte=assessment.number)
    return {e.subject: e for e in qs}


def _exception(e: GapException | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "expires_on": e.expires_on,
        "reason": e.reason,
        "accepted_by": person(e.accepted_by),
        "accepted_in": e.assessment.number,
    }


def agent_facts(agent: Any) -> dict[str, Any]:
    """The inventory facts a report states about its agent (frozen at approval by
    ``approve_assessment`` into ``Assessment.inventory_at_approval``)."""
    return {
        "name": agent.name,
        "slug": agent.slug,
        "purpose": agent.purpose,
        "owner": person(agent.owner),
        "owner_email": agent.owner.email,
        "team": agent.team.name,
        "platform": agent.platform,
        "environments": [e.capitalize() for e in agent.environments or []],
        "status": agent.get_status_display(),
    }


def report_content(assessment: Assessment) -> dict[str, Any]:
    """Everything the report states, as plain data (datetimes stay datetimes).

    With reading scoped, a document is issued once and may be handed on within the
    team: it names no linked agent of another team, whoever asked for it
    (``foreign.py``)."""
    content = _content(assessment)
    if not scope.reading_scoped():
        return content
    answers = answers_of(assessment)
    hidden = foreign.outside_team(assessment.agent, foreign.linked_slugs(answers))
    return foreign.redact(content, hidden)


def _content(assessment: Assessment) -> dict[str, Any]:
    agent = assessment.agent
    approved = assessment.status == Assessment.Status.APPROVED
    as_of = assessment.decided_at if approved and assessment.decided_at else timezone.now()
    q = decisions.questionnaire(assessment.questionnaire_version)
    result = result_of(assessment)
    answers = answers_of(assessment)
    from_evidence = provenance.answers_from_evidence(assessment, answers)
    effective = (
        decisions.effective_answers(assessment)
        if assessment.status in Assessment.EDITABLE_STATUSES
        else None
    )
    panel = panel_context(result, q, from_evidence=from_evidence, answers=effective)
    head = panel["headline"]
    from assessments.workflow import reviews

    overdue = reviews.overdue_decision(assessment, timezone.localdate())
    catalogue = decisions.catalogue_data(assessment.catalogue)
    exceptions = exceptions_as_of(assessment, as_of)

    frameworks = {fw["key"]: fw for fw in catalogue["frameworks"]}
    titles = {
        (fw["key"], it["id"]): it["title"] for fw in frameworks.values() for it in fw["items"]
    }
    order = {
        (fw["key"], it["id"]): (f_pos, i_pos)
        for f_pos, fw in enumerate(catalogue["frameworks"])
        for i_pos, it in enumerate(fw["items"])
    }
    position = {fw["key"]: f_pos for f_pos, fw in enumerate(catalogue["frameworks"])}
    catalogue_controls = {c["id"]: c for c in catalogue["controls"]}

    # The first frameworks of the catalogue (OWASP Agentic, OWASP NHI, CSA MAESTRO, NIST AI
    # RMF in 2026.1) are the mapping table's columns; any others follow each control.
    primary = [fw["key"] for fw in catalogue["frameworks"][:PRIMARY_FRAMEWORKS]]
    controls = []
    mappings = []
    for control in result.controls:
        detail = catalogue_controls.get(control["id"], {})
        controls.append(
            {
                "id": control["id"],
                "title": control["title"],
                "description": detail.get("description", ""),
                "status": control["status"],
                "status_label": STATUS_LABELS.get(control["status"], control["status"]),
                "exception": _exception(exceptions.get(control["id"]))
                if control["status"] == "gap"
                else None,
            }
        )
        by_framework: dict[str, list[dict[str, str]]] = {}
        for m in sorted(
            detail.get("mappings", []),
            key=lambda m: order.get((m["framework"], m["item"]), (99, 0)),
        ):
            if m["framework"] in frameworks:
                by_framework.setdefault(m["framework"], []).append(
                    {"item": m["item"], "title": titles.get((m["framework"], m["item"]), "")}
                )
        mappings.append(
            {
                "control": control["id"],
                "title": control["title"],
                "status": control["status"],
                "status_label": STATUS_LABELS.get(control["status"], control["status"]),
                "columns": [by_framework.get(key, []) for key in primary],
                "others": [
                    {"framework": frameworks[key]["short_name"], "items": items}
                    for key, items in sorted(
                        by_framework.items(), key=lambda kv: position.get(kv[0], 99)
                    )
                    if key not in primary
                ],
            }
        )
    # Addressed: a mapped control is in place (a gap addresses nothing); a parent is
    # addressed when any child is; counted one level at a time (portfolio.py).
    addressed = portfolio.addressed_items(catalogue, [dict(c) for c in result.controls])
    coverage = []
    for key, ids in sorted(
        result.framework_mappings.items(), key=lambda kv: position.get(kv[0], 99)
    ):
        if key not in frameworks or not ids:
            continue
        items = addressed.get(key, set())
        coverage.append(
            {
                "framework": frameworks[key]["short_name"],
                "levels": [
                    level.text for level in portfolio.level_coverage(frameworks[key], items)
                ],
                "items": sorted(items, key=lambda i, k=key: order.get((k, i), (99, 0))),  # type: ignore[misc]
            }
        )

    signals = [
        {
            "id": s["id"],
            "title": s["title"],
            "value": s["value"],
            "fired": s["fired"],
            "shown": s["shown"],
            "open": s["open"],
            "description": s["description"],
            "evidence": [dict(e) for e in s["evidence"]],
        }
        for s in panel["signals"]
    ]
    flags = [
        {
            "id": f["id"],
            "title": f["title"],
            "description": f["description"],
            "blocking": f["blocking"],
            "evidence": [dict(e) for e in f["evidence"]],
            "exception": _exception(exceptions.get(f["id"])),
        }
        for f in panel["flags"]
    ]

    answer_sections = []
    for section in q.sections:
        rows = [
            {
                "id": question.id,
                "prompt": question.prompt,
                "value": display_value(question, answers.get(question.id)),
                "from_evidence": question.id in from_evidence,
            }
            for question in section.questions
            if question.shown(answers) or question.source == "inventory"
        ]
        if rows:
            answer_sections.append({"title": section.title, "rows": rows})

    approval = (
        AuditEvent.objects.for_object(assessment)
        .filter(verb="assessment.approve")
        .order_by("-id")
        .values_list("hash", flat=True)
        .first()
    )
    # An approved report states the agent as it was at approval; assessments approved
    # before that was recorded fall back to the inventory as it is now.
    facts = (assessment.inventory_at_approval if approved else None) or agent_facts(agent)
    return {
        "report": "assessment",
        "agent": facts,
        "assessment": {
            "number": assessment.number,
            "status": assessment.status,
            "status_label": assessment.get_status_display(),
            "approved": approved,
            "questionnaire_version": assessment.questionnaire_version,
            "catalogue_version": assessment.catalogue.version,
            "assessor": person(assessment.assessor),
            "submitted_by": person(assessment.submitted_by),
            "reviewer": person(assessment.reviewer),
            "created_at": assessment.created_at,
            "submitted_at": assessment.submitted_at,
            "decided_at": assessment.decided_at,
            "review_comment": assessment.review_comment,
            "approval_event": approval or "",
        },
        "decision": {
            "classification": result.classification,
            "classification_label": CLASS_LABELS[result.classification],
            # The headline (presentation.headline): "Undecided — N answers could change
            # the class" while they are missing, the class otherwise.
            "decided": head.decided,
            "headline": head.title,
            "leaning": head.leaning,
            "tier_label": head.tier,
            "tier_at_least": head.tier_at_least,
            "meaning": head.meaning,
            "tier": result.tier,
            "tier_name": result.tier_name.capitalize(),
            "review_interval_days": result.review_interval_days,
            "next_review_on": assessment.next_review_on,
            # The latest approved decision whose review fell due before the report was
            # made: "Review overdue since …" (reviews.overdue_decision), not a past date
            # printed as if it were still ahead.
            "review_overdue_since": overdue.due_on if overdue else None,
            "review_overdue_days": overdue.days if overdue else 0,
            "decisive": result.decisive,
            "provisional": result.provisional,
            "missing": [prompt for _key, prompt in panel["missing_prompts"]],
            "unanswered": [prompt for _key, prompt in panel["unanswered_prompts"]],
        },
        "signals": signals,
        "flags": flags,
        "from_evidence": [
            {
                "key": item["key"],
                "prompt": item["prompt"],
                "value": item["display"],
                "rule": item["rule"],
                "kind": item["kind"],
                "principal": item["principal"],
                "files": [dict(f) for f in item["files"]],
                "uploaded_at": item["uploaded_at"],
                "accepted_by": item["accepted_by"],
                "accepted_at": item["accepted_at"],
                # Only where the proposal rests on a path: older reports keep their content.
                **({"steps": item["steps"]} if item.get("steps") else {}),
            }
            for item in panel["from_evidence"]
        ],
        "rationale": why(result),
        "controls": controls,
        "gap_count": sum(1 for c in controls if c["status"] == "gap"),
        "mapping_columns": [frameworks[key]["short_name"] for key in primary],
        "mappings": mappings,
        "coverage": coverage,
        "answers": answer_sections,
        "frameworks": [
            {
                "short_name": fw["short_name"],
                "name": fw["name"],
                "version": fw["version"],
                "publisher": fw["publisher"],
                "url": fw["url"],
                "notes": fw["notes"],
            }
            for fw in catalogue["frameworks"]
        ],
        "reference_notes": [
            {
                "cited": n["cited"],
                "status": n["status"],
                "verdict": " ".join(n["verdict"].split()),
                "use": [
                    f"{frameworks[u['framework']]['short_name']} {u['item']} "
                    f"{titles.get((u['framework'], u['item']), '')}".strip().rstrip(".")
                    for u in n.get("use", [])
                    if u["framework"] in frameworks
                ],
            }
            for n in catalogue["reference_notes"]
        ],
        "exceptions_as_of": timezone.localdate(as_of),
    }


@dataclass(frozen=True)
class AssessmentReport:
    rendered: RenderedPdf
    content: bytes
    content_sha256: str


def render_assessment_report(
    assessment: Assessment,
    *,
    document_id: str,
    generated_at: dt.datetime,
    generated_by: str,
) -> AssessmentReport:
    content = report_content(assessment)
    data = canonical_json(content)
    digest = sha256_hex(data)
    agent = content["agent"]
    context = {
        "c": content,
        "doc": {
            "id": document_id,
            "generated_at": generated_at,
            "generated_by": generated_by,
            "content_sha256": digest,
            "draft": not content["assessment"]["approved"],
        },
        "flag_titles": engine.FLAG_TITLES,
    }
    title = f"Assessment report: {agent['name']} v{assessment.number}"
    meta = PdfMeta(
        document_id=document_id,
        title=title,
        subject=f"{document_id} · {content['assessment']['status_label']} · content SHA-256 "
        f"{digest}",
        author=generated_by,
        created=generated_at,
        content=data,
    )
    return AssessmentReport(render_pdf(TEMPLATE, context, meta), data, digest)
