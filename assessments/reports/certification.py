"""Access certification results: the CSV and the PDF of one campaign, and the board
pack's summary of the campaigns of its period. Figures come from
``assessments.workflow.certification`` (the page and the API read the same)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from assessments.models import CertificationCampaign, CertificationItem
from assessments.reports import pdf
from assessments.reports.exports import csv_lines
from assessments.workflow import certification, reviews

COLUMNS: list[tuple[str, str]] = [
    ("agent", "Agent"),
    ("slug", "Slug"),
    ("team", "Team"),
    ("item", "Item"),
    ("access", "Access at start"),
    ("outcome", "Outcome"),
    ("reason", "Reason"),
    ("invokers", "Who may invoke it"),
    ("certified_by", "Certified by"),
    ("certified_on", "Certified on"),
    ("on_time", "By the deadline"),
    ("review", "Review opened"),
]
HEADER = [label for _key, label in COLUMNS]


def _items(items: QuerySet[CertificationItem]) -> QuerySet[CertificationItem]:
    return items.select_related("campaign", "agent", "agent__team", "decided_by").order_by(
        "agent__name", "agent_id", "kind", "system_name"
    )


def rows(
    campaign: CertificationCampaign, items: QuerySet[CertificationItem]
) -> Iterator[dict[str, Any]]:
    cutoff = campaign.cutoff()
    past = campaign.past_deadline()
    for item in _items(items).iterator(chunk_size=2000):
        decided = item.decided_at
        if decided is not None:
            on_time = "yes" if decided < cutoff else "no, certified late"
        else:
            on_time = "no, overdue" if past else "pending"
        yield {
            "agent": item.agent.name,
            "slug": item.agent.slug,
            "team": item.agent.team.name,
            "item": item.subject(),
            "access": item.get_access_display() if item.access else "",
            "outcome": item.outcome() or "Not certified",
            "reason": item.reason,
            "invokers": item.invokers,
            "certified_by": reviews.person(item.decided_by),
            "certified_on": timezone.localdate(decided).isoformat() if decided else "",
            "on_time": on_time,
            "review": "yes" if item.review_id else "",
        }


def results_csv(
    campaign: CertificationCampaign, items: QuerySet[CertificationItem]
) -> Iterator[str]:
    return csv_lines(
        HEADER, ([row[key] for key, _label in COLUMNS] for row in rows(campaign, items))
    )


def filename(campaign: CertificationCampaign, extension: str) -> str:
    return f"access-certification-{campaign.pk}-{timezone.localdate().isoformat()}.{extension}"


def _document_id(now: dt.datetime) -> str:
    """``AIA-AC-20261128-7K3QF9XD``, as the other reports' ids are made."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    suffix = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"AIA-AC-{now.astimezone(dt.UTC):%Y%m%d}-{suffix}"


def content(
    campaign: CertificationCampaign, items: QuerySet[CertificationItem], scope_note: str = ""
) -> dict[str, Any]:
    """The canonical content of the results PDF (attached to it, and all it prints)."""
    figures = certification.figures(campaign, items)
    total = figures.total
    return {
        "report": "access-certification",
        "campaign": campaign.name,
        "scope": campaign.scope_label() + (f" ({scope_note})" if scope_note else ""),
        "started_on": timezone.localdate(campaign.started_at),
        "started_by": reviews.person(campaign.started_by),
        "deadline": campaign.deadline,
        "today": timezone.localdate(),
        "past_deadline": figures.past_deadline,
        "figures": {
            "items": total.items,
            "decided": total.decided,
            "percent": total.percent,
            "agents": total.agents,
            "agents_certified": total.agents_certified,
            "overdue_agents": total.overdue_agents,
            "keep": total.keep,
            "reduce": total.reduce,
            "revoke": total.revoke,
        },
        "teams": [
            {
                "team": name,
                "items": p.items,
                "decided": p.decided,
                "percent": p.percent,
                "agents": p.agents,
                "overdue_agents": p.overdue_agents,
            }
            for name, p in figures.teams
        ],
        "overdue": figures.overdue,
        "rows": list(rows(campaign, items)),
    }


def results_pdf(
    campaign: CertificationCampaign,
    items: QuerySet[CertificationItem],
    *,
    author: str,
    scope_note: str = "",
) -> bytes:
    now = timezone.now()
    c = content(campaign, items, scope_note)
    doc_id = _document_id(now)
    meta = pdf.PdfMeta(
        document_id=doc_id,
        title=f"Access certification: {campaign.name}",
        subject="Results of an access certification campaign",
        author=author,
        created=now,
        content=pdf.canonical_json(c),
    )
    context = {"c": c, "doc": {"id": doc_id, "content_sha256": pdf.sha256_hex(meta.content)}}
    return pdf.render_pdf("reports/pdf/certification.html", context, meta).data


# --------------------------------------------------------------------------- board pack


def board_summary(since: dt.date, until: dt.date, agents: Any) -> dict[str, Any] | None:
    """The board pack's section: the campaigns of the period, each with its completion,
    overdue agents and the reduce and revoke outcomes, over the pack's agents (``agents``:
    its scope). None when no campaign falls in the period."""
    out = []
    for campaign in certification.in_period(since, until).select_related("team"):
        items = campaign.items.filter(agent__in=agents.values("pk"))
        figures = certification.figures(campaign, items)
        if not figures.total.items:
            continue
        out.append(
            {
                "name": campaign.name,
                "scope": campaign.scope_label(),
                "deadline": campaign.deadline,
                "past_deadline": figures.past_deadline,
                "percent": figures.total.percent,
                "items": figures.total.items,
                "decided": figures.total.decided,
                "agents": figures.total.agents,
                "overdue_agents": figures.total.overdue_agents,
                "reduce": figures.total.reduce,
                "revoke": figures.total.revoke,
            }
        )
    if not out:
        return None
    return {
        "campaigns": out,
        "overdue_agents": sum(c["overdue_agents"] for c in out),
        "reduce": sum(c["reduce"] for c in out),
        "revoke": sum(c["revoke"] for c in out),
    }
