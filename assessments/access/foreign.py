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

Texts written once for everyone who reads an agent (a review's reasons, an audit event's
changes) may name another team's agent too: "Composite reach raised by a change to
Payments (payments-agent): … bank-api (admin) through payments-agent", a link added to
``payments-agent``. :func:`unreadable_named` finds, in one query, which agents such
texts may name that a reader may not read, and :func:`redact_named` says "an agent of
another team" in their place, with the systems reached through them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
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
    def text(value: str, _key: Any) -> str:
        return LABEL if value in hidden else _collapse(pattern.sub(LABEL, value))

    return _walk(value, hidden, text, once=True)


# A linked agent's reach (the engine's ``{"slug": ..., "systems": [...]}``) redacted.
_HIDDEN_REACH = {"slug": LABEL, "systems": []}


def _walk(
    value: Any,
    slugs: frozenset[str],
    text: Callable[[str, Any], str],
    *,
    once: bool,
    key: Any = None,
) -> Any:
    """``value`` (texts, nested lists and dicts) with each text given by ``text(text,
    the key it is under)`` and a hidden linked agent's reach as the label with no
    systems; ``once``: a list names the label (or that reach) once."""
    if isinstance(value, str):
        return text(value, key)
    if isinstance(value, Mapping):
        if value.get("slug") in slugs and "systems" in value:
            return dict(_HIDDEN_REACH)
        return {k: _walk(v, slugs, text, once=once, key=k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_walk(v, slugs, text, once=once, key=key) for v in value]
        if once:  # a list of reach entries or linked agents names the label once
            kept: list[Any] = []
            for item in items:
                if item in kept and item in (LABEL, _HIDDEN_REACH):
                    continue
                kept.append(item)
            items = kept
        return type(value)(items) if isinstance(value, tuple) else items
    return value


# A word that may be an agent's slug (slugs are ASCII letters, digits, "-" and "_").
_SLUG_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
# Words looked up per query (a page of a thousand autosaves holds more).
_WORDS_PER_QUERY = 5000


def _words(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(_SLUG_WORD.findall(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            _words(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _words(item, found)


def unreadable_named(user: Any, *values: Any) -> dict[str, str]:
    """Of the agents the texts in ``values`` may name (every slug-shaped word is looked
    up), those ``user`` may not read, as slug -> name; empty when reading is not scoped.
    One query (one per 5,000 distinct words)."""
    if scope.reads_all(user):
        return {}
    found: set[str] = set()
    _words(values, found)
    words = sorted(found)
    readable = scope.readable(Agent.objects.all(), user).values("pk")
    hidden: dict[str, str] = {}
    for start in range(0, len(words), _WORDS_PER_QUERY):
        named = Agent.objects.filter(slug__in=words[start : start + _WORDS_PER_QUERY])
        hidden.update(named.exclude(pk__in=readable).values_list("slug", "name"))
    return hidden


# A reach entry of a review's reasons (``reviews.reach_raises``): it follows "reaches "
# or "; ".
_THROUGH = re.compile(
    rf"(?:(?<=reaches )|(?<=; ))(?P<system>[^;]+?) \((?P<access>{_ACCESS})\) through "
    r"(?P<slugs>[A-Za-z0-9_-]+(?:, [A-Za-z0-9_-]+)*)"
)


# The fields of reasons and audit changes whose value is an agent's slug.
_NAMING_KEYS = frozenset({"agent", "slug", "other", "subject", "source", "target"})


def redact_named(value: Any, hidden: Mapping[str, str]) -> Any:
    """``value`` (texts, nested lists and dicts) with the agents of ``hidden`` (slug ->
    name, from :func:`unreadable_named`) named nowhere: a reach entry through them
    ("bank-api (admin) through payments-agent") becomes "more access through an agent of
    another team", "Payments (payments-agent)", the engine's reach entries (as
    :func:`redact` reads them) and a field naming a hidden agent (``agent``, ``slug``,
    ``other``, ``subject``…) become the label."""
    if not hidden:
        return value
    slugs = frozenset(hidden)
    names = "|".join(
        rf"{re.escape(name)} \({re.escape(slug)}\)"
        for slug, name in sorted(hidden.items(), key=lambda item: -len(item[1]))
    )
    named = re.compile(rf"(?:{names})|\((?:{'|'.join(re.escape(s) for s in slugs)})\)")

    def through(match: re.Match[str]) -> str:
        listed = match["slugs"].split(", ")
        shown = [s for s in listed if s not in slugs]
        if not shown:
            return f"more access through {LABEL}"
        if len(shown) < len(listed):
            shown.append(LABEL)
        return f"{match['system']} ({match['access']}) through {', '.join(shown)}"

    reach = _pattern(slugs)

    def text(value: str, key: Any) -> str:
        # A whole value is a slug only where a field names an agent: "admin" is an
        # access level elsewhere, whatever another team calls its agent.
        if key in _NAMING_KEYS and value in slugs:
            return LABEL
        return _collapse(named.sub(LABEL, reach.sub(LABEL, _THROUGH.sub(through, value))))

    return _walk(value, slugs, text, once=False)


def shown_to(user: Any, value: Any) -> Any:
    """``value`` as ``user`` may read it: :func:`redact_named` of what it names that they
    may not read (``value`` itself when reading is not scoped)."""
    return redact_named(value, unreadable_named(user, value))


def events_shown_to[E](user: Any, events: list[E]) -> list[E]:
    """Audit events for a page or an answer: each event's ``changes`` as ``user`` may
    read them (in memory only: the stored event, and its place in the chain, are
    untouched). One query for them all."""
    hidden = unreadable_named(user, [getattr(e, "changes", None) for e in events])
    if hidden:
        for event in events:
            event.changes = redact_named(event.changes, hidden)  # type: ignore[attr-defined]
    return events


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
