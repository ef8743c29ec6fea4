"""Which answers of an assessment came from evidence, and from which files.

One definition, used by the wizard's live panel, the assessment page and the PDF: an
answer is "from evidence" when a proposal was accepted into the assessment and the
answer still holds the accepted value (an assessor who changed it afterwards made it
their own). Systems live in the inventory: they count when every system the proposal
named is still among the assessment's systems at the accepted level or above.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import reverse

from assessments import evidence
from assessments.models import Assessment, EvidenceProposal

RANK = {"read": 1, "write": 2, "admin": 3}


def _holds(key: str, accepted: Any, current: Any) -> bool:
    if key != "systems":
        return accepted == current
    have = {
        str(s.get("name", "")).lower(): RANK.get(str(s.get("access")), 0)
        for s in current or []
        if isinstance(s, Mapping)
    }
    return all(have.get(s["name"].lower(), 0) >= RANK[s["access"]] for s in accepted)


def answers_from_evidence(
    assessment: Assessment, answers: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Key -> where the answer came from, for the answers that still hold the value."""
    found: dict[str, dict[str, Any]] = {}
    for proposal in EvidenceProposal.objects.accepted_into(assessment):
        if proposal.key in found or not _holds(
            proposal.key, proposal.value, answers.get(proposal.key)
        ):
            continue
        upload = proposal.upload
        found[proposal.key] = {
            "key": proposal.key,
            "value": proposal.value,
            "rule": evidence.sentence(proposal.rule),
            "files": [{"name": f.name, "sha256": f.sha256} for f in upload.files.all()],
            "kind": upload.get_kind_display(),
            "principal": upload.principal,
            "uploaded_at": upload.uploaded_at,
            "accepted_by": _person(proposal.decided_by),
            "accepted_at": proposal.decided_at,
            "upload_url": upload.get_absolute_url(),
            # A path-based proposal's steps (principal -> action -> identity -> holds).
            "steps": evidence.path_steps(proposal.evidence or []),
        }
    return found


def _person(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def pending_from_evidence(assessment: Assessment) -> list[dict[str, Any]]:
    """The evidence proposals for the assessment's agent that await a decision, while
    the assessment can still take them (a draft or a returned one): the live panel
    shows each beside the signal it would change. One query."""
    if assessment.status not in Assessment.EDITABLE_STATUSES:
        return []
    proposals = (
        EvidenceProposal.objects.pending()
        .filter(upload__agent_id=assessment.agent_id)
        .select_related("upload")
        .order_by("-upload__uploaded_at", "id")
    )
    return [
        {
            "key": p.key,
            "value": p.value,
            "source": f"{p.upload.get_kind_display()} evidence",
            "url": reverse(
                "assessments:evidence_detail", args=[assessment.agent.slug, p.upload_id]
            ),
        }
        for p in proposals
    ]
