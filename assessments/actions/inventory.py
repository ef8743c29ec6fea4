"""Inventory actions: agents, their systems and links, retire and reactivate."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from assessments.access import scope
from assessments.actions.errors import ActionError, ConflictError
from assessments.actions.reviews import (
    _composite_before,
    _linked_ids,
    _trigger_composite_escalation,
    _wanted_link_ids,
    trigger_review,
)
from assessments.models import (
    Access,
    Agent,
    AgentLink,
    Review,
    System,
)
from assessments.records import audit

ACCESS_RANK = {Access.READ: 1, Access.WRITE: 2, Access.ADMIN: 3}
AGENT_FIELDS = (
    "name",
    "slug",
    "purpose",
    "owner",
    "team",
    "environments",
    "platform",
    "credential_model",
)
# Inventory fields whose change alters what the agent can reach or how it authenticates.
TRIGGER_FIELDS = {"credential_model": "credential_change", "platform": "platform_change"}


# --------------------------------------------------------------------------- inventory


def _field_values(agent: Agent) -> dict[str, Any]:
    values = {}
    for name in AGENT_FIELDS:
        value = getattr(agent, name)
        values[name] = value.pk if hasattr(value, "pk") else value
    return values


def _readable(agent: Agent, values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "owner" in out:
        out["owner"] = agent.owner.get_username()
    if "team" in out:
        out["team"] = agent.team.name
    return out


def _link_rows(agent: Agent) -> set[tuple[str, str]]:
    """The agent's links as (kind, other slug), kind seen from this agent."""
    rows = set()
    for target_slug, kind in AgentLink.objects.filter(source=agent).values_list(
        "target__slug", "kind"
    ):
        rows.add(("peer" if kind == "peer" else "orchestrates", target_slug))
    for source_slug, kind in AgentLink.objects.filter(target=agent).values_list(
        "source__slug", "kind"
    ):
        rows.add(("peer" if kind == "peer" else "orchestrated_by", source_slug))
    return rows


def _apply_systems(agent: Agent, wanted: list[dict[str, str]]) -> dict[str, Any]:
    current = {s.name.lower(): s for s in agent.systems.all()}
    wanted_by_key = {w["name"].lower(): w for w in wanted}
    added: list[dict[str, str]] = []
    removed: list[dict[str, str]] = []
    changed: list[dict[str, str]] = []
    for key, system in current.items():
        if key not in wanted_by_key:
            removed.append({"name": system.name, "access": system.access})
            system.delete()
    for key, row in wanted_by_key.items():
        existing = current.get(key)
        if existing is None:
            System.objects.create(agent=agent, name=row["name"], access=row["access"])
            added.append(dict(row))
            continue
        system = existing
        if system.access != row["access"] or system.name != row["name"]:
            changed.append({"name": row["name"], "old": system.access, "new": row["access"]})
            system.name, system.access = row["name"], row["access"]
            system.save(update_fields=["name", "access"])
    return {"added": added, "removed": removed, "changed": changed}


def _check_link_ends(actor: Any, agent: Agent, wanted: list[dict[str, str]]) -> None:
    """A link is an edit of both ends: every agent a link is added to or removed from
    must be one ``actor`` may edit (when editing is team-scoped), and one they may read
    (when reading is: else it is "not found", as a slug nobody has)."""
    if actor is None:
        return
    before = _link_rows(agent) if agent.pk else set()
    after = {(row["kind"], row["other"]) for row in wanted}
    touched = {slug for _kind, slug in before ^ after}
    if not touched:
        return
    found = {a.slug: a for a in Agent.objects.filter(slug__in=touched).select_related("team")}
    for slug in sorted(touched):
        other = found.get(slug)
        if other is None or not scope.may_read(actor, other):
            raise ActionError(f"No agent has the slug “{slug}”.")
        if scope.editing_scoped() and not scope.may_edit(actor, other):
            raise ActionError(
                f"{other.name} belongs to another team: a link changes both agents, and you "
                "edit only your teams' agents. Nothing was saved."
            )


def _apply_links(agent: Agent, wanted: list[dict[str, str]]) -> dict[str, Any]:
    before = _link_rows(agent)
    after = {(row["kind"], row["other"]) for row in wanted}
    if before == after:
        return {"added": [], "removed": []}
    others = {a.slug: a for a in Agent.objects.filter(slug__in={o for _, o in before | after})}
    AgentLink.objects.filter(source=agent).delete()
    AgentLink.objects.filter(target=agent).delete()
    for kind, slug in sorted(after):
        other = others[slug]
        if kind == "orchestrated_by":
            source, target, stored = other, agent, AgentLink.Kind.ORCHESTRATES
        else:
            source, target = agent, other
            stored = AgentLink.Kind.PEER if kind == "peer" else AgentLink.Kind.ORCHESTRATES
        AgentLink.objects.create(source=source, target=target, kind=stored)
    return {
        "added": [{"kind": k, "agent": s} for k, s in sorted(after - before)],
        "removed": [{"kind": k, "agent": s} for k, s in sorted(before - after)],
    }


def _inventory_trigger_reasons(
    agent: Agent, field_changes: dict[str, Any], systems: dict[str, Any], links: dict[str, Any]
) -> list[dict[str, str]]:
    """Inventory changes that touch autonomy, reach or decision authority."""
    reasons = []
    for row in systems["added"]:
        if row["access"] in (Access.WRITE, Access.ADMIN):
            reasons.append(
                {
                    "code": "system_access",
                    "detail": f"System {row['name']} added with {row['access']} access.",
                }
            )
    for row in systems["changed"]:
        if ACCESS_RANK[row["new"]] > ACCESS_RANK[row["old"]] and row["new"] != Access.READ:
            reasons.append(
                {
                    "code": "system_access",
                    "detail": f"Access to {row['name']} raised from {row['old']} to {row['new']}.",
                }
            )
    for row in links["added"]:
        reasons.append(
            {
                "code": "new_link",
                "detail": f"New link: {row['kind'].replace('_', ' ')} {row['agent']}.",
            }
        )
    for name, code in TRIGGER_FIELDS.items():
        if name in field_changes:
            change = field_changes[name]
            label = name.replace("_", " ")
            reasons.append(
                {
                    "code": code,
                    "detail": f"The {label} changed from “{change['old'] or 'not recorded'}” "
                    f"to “{change['new'] or 'not recorded'}”.",
                }
            )
    return reasons


@transaction.atomic
def create_agent(
    actor: Any,
    *,
    fields: dict[str, Any],
    systems: list[dict[str, str]] | None = None,
    links: list[dict[str, str]] | None = None,
    request: HttpRequest | None = None,
) -> Agent:
    if fields.get("team") is not None:
        scope.check_actor_edit(actor, fields["team"])
    try:
        with transaction.atomic():
            agent = Agent.objects.create(**{k: fields[k] for k in AGENT_FIELDS if k in fields})
    except IntegrityError as exc:
        raise ActionError(f"An agent with the slug “{fields.get('slug')}” already exists.") from exc
    # -- reviews: the agents it links to may now reach more through it
    if links:
        _check_link_ends(actor, agent, links)
    composite_before = _composite_before(_wanted_link_ids(links)) if links else None
    system_changes = _apply_systems(agent, systems or [])
    link_changes = _apply_links(agent, links or [])
    audit.record(
        "agent.create",
        actor=actor,
        obj=agent,
        request=request,
        changes={
            "fields": _readable(agent, _field_values(agent)),
            "systems": system_changes["added"],
            "links": link_changes["added"],
        },
    )
    if composite_before:
        _trigger_composite_escalation(actor, agent, composite_before, request=request)
    return agent


@transaction.atomic
def update_agent(
    actor: Any,
    agent: Agent,
    *,
    fields: dict[str, Any],
    systems: list[dict[str, str]] | None = None,
    links: list[dict[str, str]] | None = None,
    expected_version: int | None = None,
    request: HttpRequest | None = None,
) -> Agent:
    """Save an edit. A stale ``expected_version`` (someone saved in between) is refused."""
    current = (
        Agent.objects.select_for_update(of=("self",))
        .select_related("owner", "team")
        .get(pk=agent.pk)
    )
    scope.check_actor_edit(actor, current)
    if fields.get("team") is not None and fields["team"] != current.team:
        scope.check_actor_edit(actor, fields["team"])  # nor give it to another team
    if current.is_retired:
        raise ActionError("This agent is retired. Retired agents cannot be edited.")
    if expected_version is not None and current.lock_version != expected_version:
        raise ConflictError(
            "Someone else saved this agent after you opened it. Nothing was saved. Review their "
            "values below, then save again to keep yours.",
            *_agent_conflicts(current, fields, systems, links),
        )
    if links is not None:
        _check_link_ends(actor, current, links)
    before = _field_values(current)
    before_readable = _readable(current, before)
    for name in AGENT_FIELDS:
        if name in fields:
            setattr(current, name, fields[name])
    after = _field_values(current)
    field_changes = audit.diff(before_readable, _readable(current, after))
    raw_changes = audit.diff(before, after)
    # -- reviews: reach of this agent and of every agent linked to it, before the change
    composite_before = (
        _composite_before({current.pk} | _linked_ids(current) | _wanted_link_ids(links))
        if systems is not None or links is not None
        else None
    )
    system_changes = _apply_systems(current, systems) if systems is not None else _NO_SYSTEMS
    link_changes = _apply_links(current, links) if links is not None else _NO_LINKS
    changed = bool(raw_changes) or any(system_changes.values()) or any(link_changes.values())
    if not changed:
        return current
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db(fields=["lock_version", "updated_at"])
    audit.record(
        "agent.update",
        actor=actor,
        obj=current,
        request=request,
        changes={
            "fields": field_changes,
            **{f"systems_{k}": v for k, v in system_changes.items() if v},
            **{f"links_{k}": v for k, v in link_changes.items() if v},
        },
    )
    reasons = _inventory_trigger_reasons(current, raw_changes, system_changes, link_changes)
    if reasons:
        trigger_review(current, reasons, actor=actor, request=request)
    if composite_before is not None and (
        any(system_changes.values()) or any(link_changes.values())
    ):
        _trigger_composite_escalation(actor, current, composite_before, request=request)
    return current


def _shown(value: Any) -> str:
    if hasattr(value, "get_username"):
        return value.get_username()
    if hasattr(value, "pk"):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _agent_conflicts(
    current: Agent,
    fields: dict[str, Any],
    systems: list[dict[str, str]] | None,
    links: list[dict[str, str]] | None,
) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Where the saved agent and the stale edit differ, as field -> (theirs, yours), and
    each field's label."""
    out: dict[str, tuple[str, str]] = {}
    labels = {"systems": "Systems", "links": "Linked agents"}
    for name in AGENT_FIELDS:
        if name not in fields:
            continue
        theirs, yours = getattr(current, name), fields[name]
        if (getattr(theirs, "pk", theirs)) != (getattr(yours, "pk", yours)):
            field = Agent._meta.get_field(name)
            labels[name] = str(getattr(field, "verbose_name", name)).capitalize()
            out[name] = (_shown(theirs), _shown(yours))
    if systems is not None:
        saved = sorted(f"{s.name} ({s.access})" for s in current.systems.all())
        wanted = sorted(f"{s['name']} ({s['access']})" for s in systems)
        if saved != wanted:
            out["systems"] = (", ".join(saved), ", ".join(wanted))
    if links is not None:
        saved = sorted(f"{kind.replace('_', ' ')} {slug}" for kind, slug in _link_rows(current))
        wanted = sorted(f"{row['kind'].replace('_', ' ')} {row['other']}" for row in links)
        if saved != wanted:
            out["links"] = (", ".join(saved), ", ".join(wanted))
    return out, labels


_NO_SYSTEMS: dict[str, Any] = {"added": [], "removed": [], "changed": []}
_NO_LINKS: dict[str, Any] = {"added": [], "removed": []}


@transaction.atomic
def retire_agent(actor: Any, agent: Agent, *, request: HttpRequest | None = None) -> Agent:
    current = Agent.objects.select_for_update(of=("self",)).select_related("team").get(pk=agent.pk)
    scope.check_actor_edit(actor, current)
    if current.is_retired:
        raise ActionError("This agent is already retired.")
    current.status = Agent.Status.RETIRED
    current.retired_at = timezone.now()
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db()
    closed = (
        Review.objects.open()
        .filter(agent=current)
        .update(state=Review.State.CLOSED, closed_at=timezone.now())
    )
    audit.record(
        "agent.retire",
        actor=actor,
        obj=current,
        request=request,
        changes={"status": {"old": "active", "new": "retired"}, "open_reviews_closed": closed},
    )
    return current


@transaction.atomic
def reactivate_agent(actor: Any, agent: Agent, *, request: HttpRequest | None = None) -> Agent:
    current = Agent.objects.select_for_update(of=("self",)).select_related("team").get(pk=agent.pk)
    scope.check_actor_edit(actor, current)
    if not current.is_retired:
        raise ActionError("This agent is already active.")
    current.status = Agent.Status.ACTIVE
    current.retired_at = None
    current.lock_version = F("lock_version") + 1
    current.save()
    current.refresh_from_db()
    audit.record(
        "agent.reactivate",
        actor=actor,
        obj=current,
        request=request,
        changes={"status": {"old": "retired", "new": "active"}},
    )
    trigger_review(
        current,
        [{"code": "reactivated", "detail": "The agent was brought back into service."}],
        actor=actor,
        request=request,
    )
    return current
