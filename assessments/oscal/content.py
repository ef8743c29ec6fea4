"""What an OSCAL export states, gathered from the database as plain data.

Each gatherer returns the export's *content* (hashed: its canonical JSON's SHA-256 is
the export's fingerprint, recorded and printed in the file) and the *links* an export
needs that are not part of what it states (stable keys for UUIDs, page addresses).
An assessment's content is exactly its report's content, so an OSCAL export of an
assessment carries the same fingerprint as its PDF report made at the same moment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from assessments import portfolio
from assessments.models import Agent, Assessment
from assessments.records import provenance
from assessments.reports.assessment import answers_of, person, report_content
from assessments.reports.pdf import canonical_json, sha256_hex
from assessments.workflow import decisions

NIST_800_53 = "nist_sp_800_53_rev5"


def catalogue_extras(catalogue: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """control id -> its 800-53 items (NIST labels, catalogue order) and the facts its
    conditions read (to link a finding to the answers it rests on)."""
    out: dict[str, dict[str, Any]] = {}
    for control in catalogue["controls"]:
        facts: set[str] = set()
        for name in ("applies_when", "in_place_when", "gap_when"):
            for clause in control.get(name) or []:
                facts.update(clause)
        out[control["id"]] = {
            "nist": [m["item"] for m in control["mappings"] if m["framework"] == NIST_800_53],
            "facts": sorted(facts),
            "description": control.get("description", ""),
        }
    return out


@dataclass
class AssessmentBlock:
    """One assessment in an assessment-results export: its report content and links."""

    content: dict[str, Any]
    key: str  # stable key of the assessment, for UUIDs
    agent_key: str
    url: str
    evidence_urls: dict[str, str] = field(default_factory=dict)
    controls: dict[str, dict[str, Any]] = field(default_factory=dict)


def assessment_block(assessment: Assessment) -> AssessmentBlock:
    agent = assessment.agent
    content = report_content(assessment)
    found = provenance.answers_from_evidence(assessment, answers_of(assessment))
    return AssessmentBlock(
        content=content,
        key=f"assessment/{assessment.pk}/{assessment.number}",
        agent_key=f"agent/{agent.pk}/{agent.created_at.astimezone(dt.UTC).isoformat()}",
        url=assessment.get_absolute_url(),
        evidence_urls={key: item["upload_url"] for key, item in found.items()},
        controls=catalogue_extras(decisions.catalogue_data(assessment.catalogue)),
    )


def digest(content: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(content))


def board_blocks(filters: Any) -> list[AssessmentBlock]:
    """The latest approved assessment of every active agent in a board pack's scope."""
    latest = (
        Assessment.objects.latest_approved()
        .filter(agent__in=filters.agents())
        .select_related(
            "agent__owner", "agent__team", "catalogue", "assessor", "reviewer", "submitted_by"
        )
        .order_by("agent__name", "agent__pk")
    )
    return [assessment_block(a) for a in latest]


def board_content(filters: Any, blocks: list[AssessmentBlock]) -> dict[str, Any]:
    return {
        "report": "oscal-board-results",
        "scope": ", ".join(filters.describe()) or "all active agents",
        "filters": filters.scope_key(),
        "assessments": [b.content for b in blocks],
    }


# --------------------------------------------------------------------------- POA&M


def poam_content(today: dt.date, agents: Any = None, scope: str = "") -> dict[str, Any]:
    """Every gap of each active agent's latest approved assessment, with the agent's owner,
    the due date and the exception in force that accepts its risk, if any.

    The gaps without an exception are exactly ``portfolio.open_gaps`` (the same latest
    approved assessments, less what an exception in force covers); the others are the
    gaps whose risk is accepted until the exception ends."""
    latest = Assessment.objects.latest_approved().filter(agent__status=Agent.Status.ACTIVE)
    in_force = portfolio.exceptions_in_force(today)
    if agents is not None:
        latest = latest.filter(agent__in=agents)
        in_force = in_force.filter(agent__in=agents)
    latest = latest.select_related("agent__owner", "agent__team", "catalogue", "reviewer")
    exceptions = {
        (e.agent_id, e.subject): e
        for e in in_force.select_related("accepted_by", "assessment").order_by("expires_on", "pk")
    }
    catalogues: dict[int, dict[str, dict[str, Any]]] = {}
    items = []
    for assessment in latest.order_by("agent__name", "agent__pk"):
        agent = assessment.agent
        controls = catalogues.get(assessment.catalogue_id)
        if controls is None:
            controls = catalogue_extras(decisions.catalogue_data(assessment.catalogue))
            catalogues[assessment.catalogue_id] = controls
        for control in (assessment.result or {}).get("controls", []):
            if control.get("status") != "gap":
                continue
            exception = exceptions.get((agent.pk, control["id"]))
            extra = controls.get(control["id"], {})
            items.append(
                {
                    "agent": {
                        "key": f"agent/{agent.pk}/{agent.created_at.astimezone(dt.UTC).isoformat()}",
                        "name": agent.name,
                        "slug": agent.slug,
                        "team": agent.team.name,
                        "owner": person(agent.owner),
                        "owner_email": agent.owner.email,
                        "tier": agent.current_tier,
                        "url": agent.get_absolute_url(),
                    },
                    "assessment": {
                        "number": assessment.number,
                        "decided_at": assessment.decided_at,
                        "reviewer": person(assessment.reviewer),
                        "catalogue_version": assessment.catalogue.version,
                        "url": assessment.get_absolute_url(),
                    },
                    "control": {
                        "id": control["id"],
                        "title": control.get("title", ""),
                        "description": extra.get("description", ""),
                        "nist": extra.get("nist", []),
                    },
                    "due_on": exception.expires_on if exception else assessment.next_review_on,
                    "exception": None
                    if exception is None
                    else {
                        "expires_on": exception.expires_on,
                        "reason": exception.reason,
                        "accepted_by": person(exception.accepted_by),
                        "accepted_at": exception.created_at,
                        "accepted_in": exception.assessment.number,
                    },
                }
            )
    return {
        "report": "oscal-poam",
        "scope": scope or "all active agents",
        "as_of": today,
        "items": items,
    }
