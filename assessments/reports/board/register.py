"""The agents that need attention, ranked by risk, and the register attached to the pack."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.utils import timezone

from assessments.engine import FLAG_TITLES
from assessments.models import (
    Assessment,
)

from .figures import _d
from .filters import CLASS_LABELS, TIER_ORDER


def _undecided_high_risk(row: dict[str, Any]) -> bool:
    """Awaiting a decision or returned, with access a board treats as high risk."""
    progress = row["in_progress"]
    return bool(
        row["version"] is None
        and progress
        and progress["status"] in (Assessment.Status.SUBMITTED, Assessment.Status.RETURNED)
        and (row["high_risk_access"] or (progress["proposed_tier"] or 0) >= 3)
    )


def _needs_attention(row: dict[str, Any]) -> bool:
    return bool(
        row["version"] is None or row["open_gaps"] or row["blocking_flags"] or row["days_overdue"]
    )


def _rank_tier(row: dict[str, Any]) -> int:
    """The tier a row is ranked by: its approved tier; for an agent nobody has decided
    yet, the tier its assessment in progress proposes, and critical when it has high-risk
    access (a missing decision is never read as the safe value)."""
    if row["tier"]:
        return int(row["tier"])
    if _undecided_high_risk(row):
        return 4
    progress = row["in_progress"]
    return int(progress["proposed_tier"] or 0) if progress else 0


def risk_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Most at risk first: tier, then blocking flags, open gaps and days overdue."""
    return (
        -_rank_tier(row),
        -len(row["blocking_flags"]),
        -len(row["open_gaps"]),
        -row["days_overdue"],
        row["agent"],
        row["slug"],
    )


def required_action(row: dict[str, Any]) -> str:
    """What the owner must do, most urgent first, in a sentence."""
    actions = []
    progress = row["in_progress"]
    if row["version"] is None:
        if progress and progress["status"] == Assessment.Status.SUBMITTED:
            actions.append(f"Decide v{progress['version']}: it awaits a reviewer")
        elif progress and progress["status"] == Assessment.Status.RETURNED:
            actions.append(f"Answer the review of v{progress['version']} and submit it again")
        elif progress:
            actions.append(f"Finish and submit the draft v{progress['version']}")
        else:
            actions.append("Assess it: nobody has decided how it must be governed")
        if row["high_risk_access"]:
            actions.append("meanwhile it can administer " + ", ".join(row["high_risk_access"]))
    if row["days_overdue"]:
        n = row["days_overdue"]
        actions.append(f"Complete the overdue review ({n:,} day{'s' if n != 1 else ''} late)")
    if row["blocking_flags"]:
        actions.append("Resolve " + ", ".join(f.lower() for f in row["blocking_flags"]))
    if row["open_gaps"]:
        n = len(row["open_gaps"])
        named = ", ".join(
            f"{code} {title}" if title != code else code
            for code, title in zip(row["open_gaps"], row["open_gap_titles"], strict=True)
        )
        actions.append(f"Close {n} gap{'s' if n != 1 else ''}: {named}")
    return "; ".join(actions) + "." if actions else ""


def due_of(row: dict[str, Any], today: dt.date) -> tuple[dt.date | None, str]:
    """When the row's action is due, and what that date is: the overdue review's date,
    an exception's end, the review the gaps must be closed by, or now."""
    progress = row["in_progress"]
    if row["version"] is None:
        if progress and progress["since"] and progress["status"] == Assessment.Status.SUBMITTED:
            return progress["since"], "Awaiting a decision since"
        return None, "Now: no approved assessment"
    if row["days_overdue"]:
        return row["next_review"], "Review overdue since"
    ending = [x for x in row["exceptions"] if x["expiring"]]
    if ending:
        first = min(ending, key=lambda x: x["expires_on"])
        subject = FLAG_TITLES.get(first["subject"], first["subject"])  # a flag in words
        return first["expires_on"], f"Exception on {subject} ends"
    if row["next_review"]:
        return row["next_review"], "By the review due"
    return None, "Now"


def needing_attention(
    register: list[dict[str, Any]], top: int, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """The ``top`` agents most at risk among those with something to act on."""
    today = today or timezone.localdate()
    rows = sorted((r for r in register if _needs_attention(r)), key=risk_key)[:top]
    out = []
    for r in rows:
        due_on, due_what = due_of(r, today)
        out.append(
            {
                **r,
                "rank_tier": _rank_tier(r),
                "action": required_action(r),
                "due_on": due_on,
                "due_what": due_what,
            }
        )
    return out


# The register's columns: (key, header). Codes stay in their cells as before; a column
# whose header ends in "(words)" says the same for a person.
REGISTER_COLUMNS = [
    ("team", "team"),
    ("agent", "agent"),
    ("slug", "slug"),
    ("owner", "owner"),
    ("sponsor", "sponsor"),
    ("successors", "successors"),
    ("orphaned_on", "orphaned since"),
    ("inactive", "inactive"),
    ("state", "assessment state"),
    ("state_label", "assessment state (words)"),
    ("classification", "class"),
    ("class", "class (words)"),
    ("tier", "tier"),
    ("version", "approved version"),
    ("approved_on", "approved on"),
    ("in_progress_version", "version in progress"),
    ("in_progress_status", "in progress status"),
    ("in_progress_label", "in progress (words)"),
    ("in_progress_proposed", "in progress proposes"),
    ("review_state", "review state"),
    ("review_state_label", "review state (words)"),
    ("review_triggered", "review triggered by a change"),
    ("next_review", "next review"),
    ("overdue_since", "review overdue since"),
    ("days_overdue", "days overdue"),
    ("open_gaps", "open gaps"),
    ("open_gap_titles", "open gaps (words)"),
    ("exceptions", "exceptions in force"),
    ("exception_titles", "exceptions in force (words)"),
    ("expiring", "exceptions expiring within 30 days"),
    ("expired", "exceptions expired in the period"),
    ("flag_codes", "flags"),
    ("flags", "flags (words)"),
    ("blocking_flags", "blocking flags without exception"),
    ("first_decision", "first approved in the period"),
    ("reclassified", "reclassified in the period"),
    ("reclassified_up", "moved to a higher tier in the period"),
    ("to_ratify", "to ratify"),
    ("high_risk_access", "high-risk access"),
    ("can_change", "systems it can change"),
    ("read_only", "read-only systems"),
]


REGISTER_HEADER = [header for _key, header in REGISTER_COLUMNS]


REGISTER_HEADERS = dict(REGISTER_COLUMNS)


def register_cells(r: dict[str, Any]) -> dict[str, Any]:
    """One register row's cells by column key (lists joined with "; ")."""
    progress = r["in_progress"] or {}
    moves = r["reclassified"]
    return {
        "team": r["team"],
        "agent": r["agent"],
        "slug": r["slug"],
        "owner": r["owner"],
        "sponsor": r["sponsor"],
        "successors": "; ".join(r["successors"]),
        "orphaned_on": r["orphaned_on"],
        "inactive": "yes" if r["inactive"] else "no",
        "state": r["state"],
        "state_label": r["state_label"],
        "classification": r["classification"],
        "class": r["class"],
        "tier": r["tier"],
        "version": r["version"],
        "approved_on": r["approved_on"],
        "in_progress_version": progress.get("version"),
        "in_progress_status": progress.get("status", ""),
        "in_progress_label": progress.get("label", ""),
        "in_progress_proposed": (
            f"{CLASS_LABELS.get(progress['proposed_class'], 'class not decided')}, "
            f"tier {progress['proposed_tier']}"
            if progress and progress.get("proposed_tier")
            else ""
        ),
        "review_state": r["review_state"],
        "review_state_label": r["review_state_label"],
        "review_triggered": "yes" if r["review_triggered"] else "no",
        "next_review": r["next_review"],
        "overdue_since": r["next_review"] if r["review_state"] == "overdue" else None,
        "days_overdue": r["days_overdue"],
        "open_gaps": "; ".join(r["open_gaps"]),
        "open_gap_titles": "; ".join(r["open_gap_titles"]),
        "exceptions": "; ".join(
            f"{x['subject']} until {x['expires_on'].isoformat()}" for x in r["exceptions"]
        ),
        "exception_titles": "; ".join(
            f"{x['title']} until {_d(x['expires_on'])}" for x in r["exceptions"]
        ),
        "expiring": sum(1 for x in r["exceptions"] if x["expiring"]),
        "expired": "; ".join(
            f"{x['subject']} on {x['expires_on'].isoformat()}" for x in r["expired"]
        ),
        "first_decision": "yes" if r["first_decision"] else "no",
        "flag_codes": "; ".join(r["flag_codes"]),
        "flags": "; ".join(r["flags"]),
        "blocking_flags": "; ".join(r["blocking_flags"]),
        "reclassified": "; ".join(
            f"{m['from']} → {m['to']} on {m['on'].isoformat()}" for m in moves
        ),
        "reclassified_up": sum(1 for m in moves if m["change"] == "up"),
        "to_ratify": sum(1 for m in moves if m["change"] == "up" or m["class_changed"]),
        "high_risk_access": "; ".join(r["high_risk_access"]),
        "can_change": "; ".join(r["can_change"]),
        "read_only": r["read_only"],
    }


def register_csv(register: list[dict[str, Any]]) -> bytes:
    """Every agent in scope, one row each: the pack's register (attached, and a download).
    Each headline figure can be recounted from it (tests/test_consistency.py does)."""
    from assessments.reports.exports import csv_lines

    keys = [key for key, _header in REGISTER_COLUMNS]
    rows = ([cells[k] for k in keys] for cells in map(register_cells, register))
    return "".join(csv_lines(REGISTER_HEADER, rows)).encode("utf-8")


def _due_by_team(due: list[dict[str, Any]]) -> list[dict[str, Any]]:
    teams: dict[str, dict[str, Any]] = {}
    for r in due:
        row = teams.setdefault(
            r["team"], {"team": r["team"], "count": 0, "tiers": Counter(), "first": r["due_on"]}
        )
        row["count"] += 1
        row["tiers"][r["tier"] or 0] += 1
        row["first"] = min(row["first"], r["due_on"])
    return [
        {
            "team": row["team"],
            "count": row["count"],
            "tiers": [row["tiers"][t] for t in TIER_ORDER],
            "first": row["first"],
        }
        for row in sorted(teams.values(), key=lambda r: (-r["count"], r["team"]))
    ]
