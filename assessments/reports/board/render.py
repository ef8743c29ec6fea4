"""Rendering a board pack: its key points, the PDF with its register attached."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from assessments.portfolio import UNASSESSED_LABEL
from assessments.reports.pdf import PdfMeta, RenderedPdf, canonical_json, render_pdf, sha256_hex

from .content import board_content
from .figures import _chart, _d
from .filters import REGISTER_ATTACHMENT, TIER_LABELS, TIER_ORDER, UNASSESSED, BoardFilters
from .register import register_csv

TEMPLATE = "reports/pdf/board.html"


def _estimated_pages(content: dict[str, Any]) -> int:
    rows = (
        len(content["overdue"])
        + len(content["due"])
        + len(content["due_by_team"])
        + len(content["expiring_exceptions"])
        + len(content["expired_exceptions"])
        + len(content["reclassifications"])
        + len(content["gaps"])
        + sum(len(fw["items"]) for fw in content["frameworks"])
        + len(content["attention"])
    )
    return 6 + rows // 28


def _spark(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of a figure's sparkline (SVG user units): a bar per point, oldest first;
    this pack's bar dark, rebuilt points pale, a point the records cannot give none."""
    width, height, gap = 60.0, 16.0, 1.6
    tallest = max([p["value"] or 0 for p in points] + [1])
    slot = width / max(len(points), 1)
    bars = []
    for i, p in enumerate(points):
        if p["value"] is None:
            continue
        h = max((height - 1) * p["value"] / tallest, 0.8)  # a zero still shows its point
        last = i == len(points) - 1
        bars.append(
            {
                "x": round(i * slot + gap / 2, 1),
                "w": round(slot - gap, 1),
                "y": round(height - h, 1),
                "h": round(h, 1),
                "fill": "#14213d" if last else "#b8c0cf" if p["rebuilt"] else "#5b6478",
            }
        )
    return {"width": width, "height": height, "bars": bars}


def _trend_rows(content: dict[str, Any]) -> dict[str, Any]:
    """The trend table (one row per figure, a cell per point) and each headline figure's
    row of the executive summary with its sparkline, from ``content["trend"]``."""
    trend = content["trend"]
    rows = []
    for series in trend["series"]:
        whole = [t["rebuilt"] for t in trend["tiers"]]  # points rebuilt as a whole
        cells = [
            {"value": p["value"], "mark": p["rebuilt"] and not whole[i]}
            for i, p in enumerate(series["points"])
        ]
        rows.append({**series, "cells": cells, "spark": _spark(series["points"])})
    sparks = {row["key"]: row["spark"] for row in rows}
    return {
        "trend_rows": rows,
        "summary": [{"f": f, "spark": sparks.get(f["key"])} for f in content["status"]],
    }


@dataclass(frozen=True)
class BoardPack:
    rendered: RenderedPdf
    content: bytes
    content_sha256: str
    headline: dict[str, Any]  # kept on the pack's record: the next pack's trend and change
    recorded: dict[str, Any]  # also kept: each figure's band and the resolutions asked


def render_board_pack(
    filters: BoardFilters,
    *,
    document_id: str,
    generated_at: dt.datetime,
    generated_by: str,
    progress: Any = None,
) -> BoardPack:
    """Render the pack. ``progress(percent, message)`` is called as the work advances."""

    reached = [0]

    def report(percent: int, message: str) -> None:
        # WeasyPrint lays the pages out again when the contents' page numbers settle;
        # the bar never goes back.
        if progress and percent >= reached[0]:
            reached[0] = percent
            progress(percent, message)

    report(5, "Reading the portfolio")
    content = board_content(filters)
    data = canonical_json(content)
    digest = sha256_hex(data)
    report(20, "Laying out the pages")
    expected = max(_estimated_pages(content), 1)

    def on_step(step: str, page: int) -> None:
        if step == "layout":
            report(20 + min(65, 65 * page // expected), f"Laying out page {page}")
        elif step == "pdf":
            report(88, "Writing the PDF")

    scope = ", ".join(content["filters"]) or "all active agents"
    context = {
        "c": content,
        "doc": {
            "id": document_id,
            "generated_at": generated_at,
            "generated_by": generated_by,
            "content_sha256": digest,
            "scope": scope,
        },
        **_trend_rows(content),
        "chart": _chart(
            {
                key: {cls: row[cls] for cls in ("agent_identity", "machine_identity", UNASSESSED)}
                for key, row in zip((*TIER_ORDER, None), content["distribution"], strict=True)
            },
            [(t, TIER_LABELS[t]) for t in TIER_ORDER] + [(None, UNASSESSED_LABEL)],
        ),
    }
    meta = PdfMeta(
        document_id=document_id,
        title=f"Board pack: agent identity governance, {_d(filters.until)}",
        subject=f"{document_id} · {scope} · content SHA-256 {digest}",
        author=generated_by,
        created=generated_at,
        content=data,
        attachments=(
            (
                REGISTER_ATTACHMENT,
                register_csv(content["register"]),
                f"Every agent in scope of {document_id}, one row each (UTF-8 CSV)",
            ),
        ),
    )
    rendered = render_pdf(TEMPLATE, context, meta, progress=on_step)
    report(95, "Recording the pack")
    recorded = {
        "status": {f["key"]: f["status"] for f in content["status"]},
        "resolutions": content["resolutions"],
    }
    return BoardPack(rendered, data, digest, content["headline"], recorded)
