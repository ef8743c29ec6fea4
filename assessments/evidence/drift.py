"""Drift: what newer evidence says that the agent's approved assessment did not.

Pure: proposals and answers in, sentences out. The caller opens a change-triggered
review with them ("Evidence changed"); no sentence, no review.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .common import Proposal

RANK = {"read": 1, "write": 2, "admin": 3}
# Keys whose proposed value, when the approved assessment left them unanswered, is a
# change worth a review on its own: the risky direction only.
RISKY_WHEN_UNANSWERED: dict[str, Any] = {
    "alters_own_access": True,
    "decides_own_scopes": True,
    "credential_model": "static_secret",
    "network_reach": "internet",
    "calls_external_apis": True,
    "shared_platform_role": True,
}


def _show(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return "unanswered"
    return str(value).replace("_", " ")


def differences(
    proposals: Sequence[Proposal],
    approved: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    new_subjects: Iterable[str] = (),
    subject_noun: str = "MCP server",
) -> list[str]:
    """Sentences naming each way the evidence differs from the ``approved`` answers.

    Systems count when the evidence shows write or admin access that the approved
    answers did not have (a new system, or a higher level); other keys when the
    approved assessment answered differently, or left unanswered a key the evidence
    puts on the risky side. ``new_subjects`` are things named in this evidence and
    not in the previous evidence of the same kind (e.g. MCP servers).
    """
    labels = labels or {}
    found: list[str] = []
    for proposal in proposals:
        label = labels.get(proposal.key, proposal.key.replace("_", " "))
        if proposal.key == "systems":
            before = {
                str(s.get("name", "")).lower(): str(s.get("access", ""))
                for s in approved.get("systems") or []
                if isinstance(s, Mapping)
            }
            for system in proposal.value:
                access, name = system["access"], system["name"]
                if RANK[access] < RANK["write"]:
                    continue
                old = before.get(name.lower())
                if old is None:
                    found.append(
                        f"Evidence shows {access} access to {name}, a system the "
                        "approved assessment does not list."
                    )
                elif RANK.get(old, 0) < RANK[access]:
                    found.append(
                        f"Evidence shows {access} access to {name}; the approved "
                        f"assessment says {old}."
                    )
            continue
        old = approved.get(proposal.key)
        if old is None:
            if RISKY_WHEN_UNANSWERED.get(proposal.key, object()) == proposal.value:
                found.append(
                    f"{label}: evidence says {_show(proposal.value)}; the approved "
                    "assessment left it unanswered."
                )
        elif old != proposal.value:
            found.append(
                f"{label}: evidence says {_show(proposal.value)}; the approved "
                f"assessment says {_show(old)}."
            )
    for subject in sorted(set(new_subjects)):
        found.append(f"New {subject_noun} in the evidence: {subject}.")
    return found
