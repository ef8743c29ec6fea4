"""CSV exports: the inventory (one row per agent) and every assessment version.

Rows are produced lazily, so a view can stream them, in a fixed number of queries
whatever the number of agents. Files open cleanly in spreadsheet programs: UTF-8 with
a byte-order mark, CRLF line ends, and every cell that a spreadsheet would read as a
formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
prefixed with an apostrophe, so a name like ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import F
from django.utils import timezone

from assessments import portfolio
from assessments.interchange import owners
from assessments.models import Agent, AgentLink, AgentOwner, Assessment, GapException, System
from assessments.presentation import CLASS_NAMES, stored_headline

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TIER_NAMES = {1: "baseline", 2: "elevated", 3: "high", 4: "critical"}
CHUNK = 2000

# Columns as (key, header): the header a person reads is words; tests and code use the key.
INVENTORY_COLUMNS: list[tuple[str, str]] = [
    ("slug", "Slug"),
    ("name", "Name"),
    ("status", "Status"),
    ("team", "Team"),
    ("owner", "Owner"),
    ("owner_email", "Owner e-mail"),
    ("sponsor", "Sponsor"),
    ("sponsor_email", "Sponsor e-mail"),
    ("successors", "Successors"),
    ("platform", "Platform"),
    ("environments", "Environments"),
    ("credential_model", "Credential model"),
    ("systems", "Systems"),
    ("linked_agents", "Linked agents"),
    ("classification", "Class"),
    ("tier", "Tier"),
    ("tier_name", "Tier name"),
    ("flags", "Flags"),
    ("gaps", "Control gaps"),
    ("open_gaps", "Open gaps"),
    ("exceptions", "Exceptions"),
    ("next_review_on", "Next review"),
    ("review_overdue", "Review overdue"),
    ("review_triggered", "Review triggered"),
    ("assessment_state", "Assessment state"),
    ("approved_version", "Approved version"),
    ("approved_on", "Approved on"),
    ("purpose", "Purpose"),
]
INVENTORY_HEADER = [label for _key, label in INVENTORY_COLUMNS]
# The inventory's column keys by header, for reading an export back (imports.py): a
# header may be given in words, as exported, or as its key.
INVENTORY_KEYS = {label.lower(): key for key, label in INVENTORY_COLUMNS} | {
    key: key for key, _label in INVENTORY_COLUMNS
}
ASSESSMENT_COLUMNS: list[tuple[str, str]] = [
    ("agent_slug", "Agent slug"),
    ("agent_name", "Agent"),
    ("team", "Team"),
    ("version", "Version"),
    ("status", "Status"),
    ("headline", "Headline"),
    ("classification", "Class"),
    ("tier", "Tier"),
    ("tier_name", "Tier name"),
    ("review_interval_days", "Review interval (days)"),
    ("flags", "Flags"),
    ("gaps", "Control gaps"),
    ("provisional", "Provisional"),
    ("questionnaire_version", "Questionnaire version"),
    ("catalogue_version", "Catalogue version"),
    ("assessor", "Assessor"),
    ("started_at", "Started at"),
    ("submitted_at", "Submitted at"),
    ("reviewer", "Reviewer"),
    ("decided_at", "Decided at"),
    ("next_review_on", "Next review"),
    ("review_comment", "Review comment"),
]
ASSESSMENT_HEADER = [label for _key, label in ASSESSMENT_COLUMNS]


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as written, never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write() returns what it was given (for streaming)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text, line by line, starting with the byte-order mark."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(v) for v in row])


def _person(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (username or "")


def _gaps(controls: list[dict[str, Any]] | None) -> list[str]:
    return [c["id"] for c in controls or [] if c.get("status") == "gap"]


def inventory_rows(today: dt.date | None = None, agents: Any = None) -> Iterator[list[Any]]:
    """One row per agent (of ``agents``, an Agent queryset, when given; retired ones too,
    with their status), by name."""
    today = today or timezone.localdate()
    systems: dict[int, list[str]] = defaultdict(list)
    for agent_id, name, access in System.objects.order_by("name").values_list(
        "agent_id", "name", "access"
    ):
        systems[agent_id].append(f"{name} ({access})")
    links: dict[int, list[str]] = defaultdict(list)
    shown = set(agents.values_list("pk", flat=True)) if agents is not None else None
    for source, source_slug, target, target_slug, kind in AgentLink.objects.order_by(
        "pk"
    ).values_list("source_id", "source__slug", "target_id", "target__slug", "kind"):
        # A row names only agents of ``agents`` (team-scoped reading: no other team's).
        names_target = shown is None or target in shown
        names_source = shown is None or source in shown
        if kind == AgentLink.Kind.PEER:
            if names_target:
                links[source].append(f"peer of {target_slug}")
            if names_source:
                links[target].append(f"peer of {source_slug}")
        else:
            if names_target:
                links[source].append(f"orchestrates {target_slug}")
            if names_source:
                links[target].append(f"orchestrated by {source_slug}")
    chains = owners.successor_handles(
        AgentOwner.objects.values("agent_id") if agents is None else agents.values("pk")
    )
    exceptions: dict[int, list[str]] = defaultdict(list)
    excepted: set[tuple[int, str]] = set()
    for agent_id, subject, expires in (
        GapException.objects.in_force(today)
        .order_by("expires_on", "subject")
        .values_list("agent_id", "subject", "expires_on")
    ):
        exceptions[agent_id].append(f"{subject} until {expires.isoformat()}")
        excepted.add((agent_id, subject))
    latest: dict[int, dict[str, Any]] = {
        row["agent_id"]: dict(row)
        for row in Assessment.objects.latest_approved()
        .values(
            "agent_id",
            "number",
            "decided_at",
            flags=F("result__flags"),
            controls=F("result__controls"),
        )
        .iterator(chunk_size=CHUNK)
    }
    agents = (
        portfolio.agents_for_list(Agent.objects.all() if agents is None else agents, today)
        .order_by("name", "pk")
        .values(
            "pk",
            "slug",
            "name",
            "status",
            "team__name",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
            "owner__email",
            "sponsor__username",
            "sponsor__first_name",
            "sponsor__last_name",
            "sponsor__email",
            "platform",
            "environments",
            "credential_model",
            "current_classification",
            "current_tier",
            "next_review",
            "review_overdue",
            "review_triggered",
            "assessment_state",
            "purpose",
        )
        .iterator(chunk_size=CHUNK)
    )
    for a in agents:
        row: dict[str, Any] = latest.get(a["pk"]) or {}
        tier = a["current_tier"]
        gaps = _gaps(row.get("controls"))
        yield [
            a["slug"],
            a["name"],
            a["status"],
            a["team__name"],
            _person(a["owner__first_name"], a["owner__last_name"], a["owner__username"]),
            a["owner__email"],
            # An agent created in bulk has no sponsor yet: its owner answers for it.
            _person(a["sponsor__first_name"], a["sponsor__last_name"], a["sponsor__username"])
            if a["sponsor__username"]
            else _person(a["owner__first_name"], a["owner__last_name"], a["owner__username"]),
            a["sponsor__email"] if a["sponsor__username"] else a["owner__email"],
            "; ".join(chains.get(a["pk"], [])),
            a["platform"],
            "; ".join(a["environments"] or []),
            a["credential_model"],
            "; ".join(systems.get(a["pk"], [])),
            "; ".join(links.get(a["pk"], [])),
            a["current_classification"],
            tier,
            TIER_NAMES.get(tier, "") if tier else "",
            "; ".join(row.get("flags") or []),
            "; ".join(gaps),
            # Open gaps (portfolio.open_gaps) count for active agents only.
            "; ".join(g for g in gaps if (a["pk"], g) not in excepted)
            if a["status"] == Agent.Status.ACTIVE
            else "",
            "; ".join(exceptions.get(a["pk"], [])),
            a["next_review"],
            a["review_overdue"],
            a["review_triggered"],
            a["assessment_state"],
            row.get("number"),
            row.get("decided_at"),
            a["purpose"],
        ]


def assessment_rows(agents: Any = None) -> Iterator[list[Any]]:
    """One row per assessment version, by agent then version. Drafts and returned
    versions have no frozen decision yet, so their decision columns are empty."""
    rows = (
        (
            Assessment.objects.all()
            if agents is None
            else Assessment.objects.filter(agent__in=agents)
        )
        .order_by("agent__name", "agent_id", "number")
        .values(
            "agent__slug",
            "agent__name",
            "agent__team__name",
            "number",
            "status",
            "classification",
            "tier",
            "questionnaire_version",
            "catalogue__version",
            "assessor__username",
            "assessor__first_name",
            "assessor__last_name",
            "created_at",
            "submitted_at",
            "reviewer__username",
            "reviewer__first_name",
            "reviewer__last_name",
            "decided_at",
            "next_review_on",
            "review_comment",
            "answers",
            interval=F("result__review_interval_days"),
            flags=F("result__flags"),
            controls=F("result__controls"),
            provisional=F("result__provisional"),
        )
        .iterator(chunk_size=CHUNK)
    )
    for r in rows:
        frozen = r["status"] in (Assessment.Status.SUBMITTED, Assessment.Status.APPROVED)
        tier = r["tier"] if frozen else None
        if frozen:
            head = CLASS_NAMES.get(r["classification"], "")
        else:  # a draft reads as the live panel does, never as a decided class
            h = stored_headline(r["answers"], r["questionnaire_version"])
            head = "; ".join(p for p in (h.title, h.leaning) if p)
        yield [
            r["agent__slug"],
            r["agent__name"],
            r["agent__team__name"],
            r["number"],
            r["status"],
            head,
            r["classification"] if frozen else "",
            tier,
            TIER_NAMES.get(tier, "") if tier else "",
            r["interval"] if frozen else None,
            "; ".join(r["flags"] or []) if frozen else "",
            "; ".join(_gaps(r["controls"])) if frozen else "",
            r["provisional"] if frozen and r["provisional"] is not None else None,
            r["questionnaire_version"],
            r["catalogue__version"],
            _person(r["assessor__first_name"], r["assessor__last_name"], r["assessor__username"]),
            r["created_at"],
            r["submitted_at"],
            _person(r["reviewer__first_name"], r["reviewer__last_name"], r["reviewer__username"]),
            r["decided_at"],
            r["next_review_on"],
            r["review_comment"],
        ]
