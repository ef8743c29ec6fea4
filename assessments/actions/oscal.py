"""OSCAL export actions: assessment results and POA&M files, recorded like the PDF reports.

Each export is a ``ReportRecord`` (kind ``oscal-results``, ``oscal-board`` or
``oscal-poam``) holding the file's SHA-256 and the content fingerprint it prints in its
metadata, with a ``report.issue`` audit event, so ``verify_report`` can say whether a
file someone holds is one this application issued. An approved assessment's export is
made once and kept: every later download is the same file, as with its PDF.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments.actions.errors import ActionError
from assessments.actions.reports import IssuedReport, _report_author
from assessments.models import Assessment, ReportRecord
from assessments.records import audit


class NothingToExport(ActionError):
    """The scope holds nothing an OSCAL document could state (its models need one item)."""


def _record(
    actor: Any,
    *,
    kind: str,
    document_id: str,
    data: bytes,
    content_sha256: str,
    params: dict[str, Any],
    now: dt.datetime,
    request: HttpRequest | None,
    author: str,
    assessment: Assessment | None = None,
    keep: bool = False,
) -> IssuedReport:
    from assessments.reports.pdf import sha256_hex

    with transaction.atomic():
        record = ReportRecord.objects.create(
            document_id=document_id,
            kind=kind,
            assessment=assessment,
            content_sha256=content_sha256,
            file_sha256=sha256_hex(data),
            pdf=data if keep else None,
            params={**params, "generated_by": author},
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ReportRecord.objects.filter(pk=record.pk).update(created_at=now)
        record.created_at = now
        audit.record(
            "report.issue",
            actor=actor,
            obj=record,
            request=request,
            actor_label=None if actor is not None else author,
            changes={
                "kind": kind,
                **({"assessment": assessment.number} if assessment is not None else {}),
                **{k: v for k, v in params.items() if k in ("team", "scope", "filters")},
                "file_sha256": record.file_sha256,
                "content_sha256": content_sha256,
            },
        )
    return IssuedReport(record, data)


def _meta(kind: str, title: str, version: str, digest: str, author: str, now: dt.datetime) -> Any:
    from assessments.oscal.build import ExportMeta
    from assessments.reports.pdf import new_document_id

    return ExportMeta(
        document_id=new_document_id(kind, now),
        content_sha256=digest,
        generated_at=now,
        generated_by=author,
        title=title,
        version=version,
    )


def issue_oscal_results(
    actor: Any,
    assessment: Assessment,
    *,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
) -> IssuedReport:
    """OSCAL assessment results of one assessment, fingerprinted like its PDF report."""
    from assessments.oscal import build, content

    approved = assessment.status == Assessment.Status.APPROVED
    if approved:
        kept = (
            ReportRecord.objects.filter(
                assessment=assessment, kind=ReportRecord.Kind.OSCAL_RESULTS, pdf__isnull=False
            )
            .order_by("created_at", "pk")
            .first()
        )
        if kept is not None:
            return IssuedReport(kept, bytes(kept.pdf or b""))
    now = timezone.now()
    author = _report_author(actor, actor_label)
    block = content.assessment_block(assessment)
    digest = content.digest(block.content)
    agent = block.content["agent"]
    meta = _meta(
        "oscal-results",
        f"Assessment results: {agent['name']} v{assessment.number}",
        f"{agent['slug']}-v{assessment.number}-{assessment.status}",
        digest,
        author,
        now,
    )
    data = build.assessment_results([block], meta, key=block.key, plan_href=block.url)
    return _record(
        actor,
        kind=ReportRecord.Kind.OSCAL_RESULTS,
        document_id=meta.document_id,
        data=data,
        content_sha256=digest,
        params={"status": assessment.status},
        now=now,
        request=request,
        author=author,
        assessment=assessment,
        keep=approved,
    )


def issue_oscal_board_results(
    actor: Any,
    params: dict[str, Any],
    *,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
) -> IssuedReport:
    """OSCAL assessment results for a board pack's scope: the latest approved assessment
    of every active agent its filters select, one result each."""
    from assessments.oscal import build, content
    from assessments.reports.board import BoardFilters

    filters = BoardFilters.from_params(params)
    blocks = content.board_blocks(filters)
    scope = ", ".join(filters.describe()) or "all active agents"
    if not blocks:
        raise NothingToExport(
            f"No agent in this scope ({scope}) has an approved assessment, so there are no "
            "assessment results to export."
        )
    now = timezone.now()
    author = _report_author(actor, actor_label)
    stated = content.board_content(filters, blocks)
    digest = content.digest(stated)
    meta = _meta(
        "oscal-results",
        f"Assessment results: {scope}",
        f"{now:%Y-%m-%d}",
        digest,
        author,
        now,
    )
    data = build.assessment_results(
        blocks, meta, key=f"board/{digest}", plan_href="#" + meta.document_id
    )
    return _record(
        actor,
        kind=ReportRecord.Kind.OSCAL_BOARD,
        document_id=meta.document_id,
        data=data,
        content_sha256=digest,
        params={**filters.to_params(), "scope": scope, "assessments": len(blocks)},
        now=now,
        request=request,
        author=author,
    )


def issue_oscal_poam(
    actor: Any,
    *,
    team: Any = None,
    agents: Any = None,
    request: HttpRequest | None = None,
    actor_label: str | None = None,
) -> IssuedReport:
    """An OSCAL POA&M of the portfolio, or of one team: every gap of each active agent's
    latest approved assessment, with its owner, due date and accepting exception."""
    from assessments.models import Agent
    from assessments.oscal import build, content

    if team is not None:
        agents = (agents if agents is not None else Agent.objects.all()).filter(team=team)
    scope = f"team {team.name}" if team is not None else "all active agents"
    now = timezone.now()
    stated = content.poam_content(timezone.localdate(now), agents, scope)
    if not stated["items"]:
        raise NothingToExport(
            f"There is no gap in the latest approved assessments of {scope}, so there is "
            "nothing to put in a plan of action and milestones (OSCAL requires one item)."
        )
    author = _report_author(actor, actor_label)
    digest = content.digest(stated)
    meta = _meta(
        "oscal-poam",
        f"Plan of action and milestones: {scope}",
        f"{now:%Y-%m-%d}",
        digest,
        author,
        now,
    )
    data = build.poam(stated, meta, key=f"poam/{team.slug if team else 'portfolio'}")
    return _record(
        actor,
        kind=ReportRecord.Kind.OSCAL_POAM,
        document_id=meta.document_id,
        data=data,
        content_sha256=digest,
        params={
            "team": team.slug if team is not None else "",
            "scope": scope,
            "items": len(stated["items"]),
        },
        now=now,
        request=request,
        author=author,
    )
