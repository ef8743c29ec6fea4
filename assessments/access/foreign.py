"""Another team's agent, as a reader who may not read it sees it: not at all.

With ``TEAM_SCOPED_READING`` on, an agent linked to one of another team is still
assessed with that agent's systems (the decision is the same for everyone), but what a
reader of the linking agent is shown names neither the foreign agent nor its systems
and access levels: the agent page, the wizard's live panel, the assessment page, the
PDF, the API's ``answers`` and ``result`` and the composite-escalation reason say
"an agent of another team" instead.

The engine writes a linked agent's extra reach as ``slug: system (access)`` or
``slug: system (access; this agent: level)`` (``engine/rules.py``); :func:`redact`
replaces each such entry of a hidden slug, wherever it is quoted, with :data:`LABEL`,
and a linked agent of the answers (``{"slug": …, "systems": […]}``) with the label
and no systems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from assessments import engine
from assessments.access import scope
from assessments.engine.answers import ACCESS_RANK
from assessments.models import Agent, AgentLink

LABEL = "an agent of another team"
_ACCESS = "|".join(ACCESS_RANK)


def linked_slugs(*answer_sets: Mapping[str, Any] | None) -> set[str]:
    """The slugs of the linked agents these answers name."""
    found: set[str] = set()
    for answers in answer_sets:
        for other in (answers or {}).get("linked_agents") or ():
            if isinstance(other, Mapping) and isinstance(other.get("slug"), str):
                found.add(other["slug"])
            elif isinstance(other, str):
                found.add(other)
    return found


def hidden_slugs(user: Any, slugs: Iterable[str]) -> frozenset[str]:
    """Of ``slugs``, those ``user`` may not read (every one they cannot find among their
    teams' agents, an agent since deleted included). Empty when reading is not scoped."""
    slugs = set(slugs)
    if not slugs or scope.reads_all(user):
        return frozenset()
    readable = scope.readable(Agent.objects.filter(slug__in=slugs), user)
    return frozenset(slugs - set(readable.values_list("slug", flat=True)))


def outside_team(agent: Agent, slugs: Iterable[str]) -> frozenset[str]:
    """Of ``slugs``, those not of ``agent``'s team (for documents issued once, read by
    the team: the PDF, OSCAL results)."""
    slugs = set(slugs)
    if not slugs:
        return frozenset()
    same = Agent.objects.filter(slug__in=slugs, team_id=agent.team_id)
    return frozenset(slugs - set(same.values_list("slug", flat=True)))


def _pattern(hidden: frozenset[str]) -> re.Pattern[str]:
    slugs = "|".join(re.escape(s) for s in sorted(hidden, key=len, reverse=True))
    return re.compile(
        rf"(?<![\w-])(?:{slugs}): [^;()]+? \((?:{_ACCESS})(?:; this agent: [a-z ]+)?\)"
    )


def _collapse(text: str) -> str:
    """One label for a foreign agent's many systems: "X, X, X" reads "X"."""
    repeated = f"{LABEL}, {LABEL}"
    while repeated in text:
        text = text.replace(repeated, LABEL)
    return text


def redact(value: Any, hidden: frozenset[str]) -> Any:
    """``value`` (answers, a result as a dict, a string, nested lists and dicts) with the
    agents of ``hidden`` named nowhere."""
    if not hidden:
        return value
    return _redact(value, hidden, _pattern(hidden))


def _redact(value: Any, hidden: frozenset[str], pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        if value in hidden:
            return LABEL
        return _collapse(pattern.sub(LABEL, value))
    if isinstance(value, Mapping):
        if value.get("slug") in hidden and "systems" in value:
            return {"slug": LABEL, "systems": []}
        return {k: _redact(v, hidden, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_redact(v, hidden, pattern) for v in value]
        # A list of reach entries or linked agents names the label once.
        kept: list[Any] = []
        for item in items:
            if item in kept and (item == LABEL or item == {"slug": LABEL, "systems": []}):
                continue
            kept.append(item)
        return type(value)(kept) if isinstance(value, tuple) else kept
    return value


def redact_result(result: engine.Result | None, hidden: frozenset[str]) -> engine.Result | None:
    if result is None or not hidden:
        return result
    return engine.Result.from_dict(redact(result.to_dict(), hidden))


def for_reader(
    user: Any, *answer_sets: Mapping[str, Any] | None, agent: Agent | None = None
) -> frozenset[str]:
    """The slugs to hide from ``user`` in what these answers (and ``agent``'s current
    links) say."""
    if scope.reads_all(user):
        return frozenset()
    slugs = linked_slugs(*answer_sets)
    if agent is not None:
        slugs |= {link["other"] for link in agent_links(agent)}
    return hidden_slugs(user, slugs)


def agent_links(agent: Agent) -> list[dict[str, Any]]:
    """``agent``'s links both ways, as ``{"kind", "other", "agent"}`` (kind as the form
    names it: peer, orchestrates, orchestrated_by), sorted by the other's slug."""
    rows = []
    for link in agent.links_out.all():
        kind = "peer" if link.kind == AgentLink.Kind.PEER else "orchestrates"
        rows.append({"kind": kind, "other": link.target.slug, "agent": link.target})
    for link in agent.links_in.all():
        kind = "peer" if link.kind == AgentLink.Kind.PEER else "orchestrated_by"
        rows.append({"kind": kind, "other": link.source.slug, "agent": link.source})
    return sorted(rows, key=lambda r: r["other"])


def readable_links(agent: Agent, user: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``agent``'s links split into those ``user`` may read and those they may not."""
    rows = agent_links(agent)
    if scope.reads_all(user):
        return rows, []
    shown = [r for r in rows if scope.may_read(user, r["agent"])]
    return shown, [r for r in rows if r not in shown]
