"""Helpers for the report tests: a small portfolio, and reading PDFs back with pypdf."""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader, PdfWriter

from tests import factories as f

# An agent identity at tier 3: it chooses tools at runtime and can write to two systems
# with a person approving only high-impact actions; audit coverage is partial (a
# blocking audit gap, approved with an exception).
PLANNER_ANSWERS: dict[str, Any] = {
    "decision_mode": "planner_executor",
    "tool_selection": "chooses_from_allowlist",
    "credential_model": "workload_identity",
    "human_approval": "high_impact_only",
    "network_reach": "internal_broad",
    "traced_policy_decision": "some",
    "policy_enforcement": "policy_as_code",
    "kill_switch": True,
}


def reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def pages_text(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in reader(data).pages]


def flat(text: str) -> str:
    """Text with runs of whitespace (line breaks in a PDF) as one space."""
    return re.sub(r"\s+", " ", text).strip()


def pdf_text(data: bytes) -> str:
    return flat(" ".join(pages_text(data)))


def xmp(data: bytes) -> bytes:
    return reader(data).trailer["/Root"]["/Metadata"].get_object().get_data()


def fonts_without_embedded_file(data: bytes) -> list[str]:
    """Names of fonts used on any page whose program is not embedded in the file."""
    missing = []
    for page in reader(data).pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            descendants = font.get("/DescendantFonts")
            targets = [d.get_object() for d in descendants] if descendants else [font]
            for target in targets:
                descriptor = target.get("/FontDescriptor")
                descriptor = descriptor.get_object() if descriptor else {}
                if not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    missing.append(str(target.get("/BaseFont")))
    return missing


def attachment(data: bytes, name: str = "report-content.json") -> bytes:
    return reader(data).attachments[name][0]


def resaved_with_new_author(data: bytes) -> bytes:
    """The same report opened and saved again with one metadata field changed: what an
    editor does to a file someone "only touched"."""
    writer = PdfWriter(clone_from=reader(data))
    writer.add_metadata({"/Author": "Someone else"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def flip_byte(data: bytes, at: int | None = None) -> bytes:
    at = len(data) // 2 if at is None else at
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def people() -> dict[str, Any]:
    return {
        "assessor": f.assessor("ada"),
        "reviewer": f.reviewer("rex"),
        "viewer": f.viewer("vera"),
    }


def approved_planner(assessor: Any, reviewer: Any, **agent_fields: Any) -> Any:
    agent = f.agent(
        slug=agent_fields.pop("slug", "planner"),
        name=agent_fields.pop("name", "Incident planner"),
        systems=[("pagerduty", "write"), ("kubernetes", "write"), ("wiki", "read")],
        **agent_fields,
    )
    return f.approved(agent, assessor, reviewer, **PLANNER_ANSWERS)


def has_draft_watermark(data: bytes, page: int = 1) -> bool:
    """Whether ``page`` shows the pink DRAFT watermark (a picture, so it is looked for in
    the rendered page, not in the text)."""
    import subprocess

    from PIL import Image

    ppm = subprocess.run(  # noqa: S603 (fixed arguments)
        ["/usr/bin/pdftoppm", "-r", "20", "-f", str(page), "-l", str(page), "-"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    raw = Image.open(io.BytesIO(ppm)).convert("RGB").tobytes()
    pink = sum(
        1
        for r, g, b in zip(raw[0::3], raw[1::3], raw[2::3], strict=True)
        if abs(r - 0xF7) <= 6 and abs(g - 0xDE) <= 6 and abs(b - 0xDE) <= 6
    )
    return pink > 200


def report_content_of(assessment: Any) -> dict[str, Any]:
    """What the assessment report of ``assessment`` would state now."""
    from assessments.reports.assessment import report_content

    return report_content(assessment)
