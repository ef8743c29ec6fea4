"""Bringing the inventory in line with a manifest (the API's ``POST /manifests`` and the
zip import share this; ``assessments.interchange.manifest`` stays pure).

``plan`` works out what a checked manifest would change: the agent's fields, systems and
links, and the answers of its draft assessment. ``apply`` makes those changes through
the actions, in one transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest

from assessments import actions
from assessments.forms import initial_links
from assessments.interchange import owners
from assessments.models import Agent, Assessment, CredentialModel, Team
from assessments.records import audit
from assessments.workflow import decisions

User = get_user_model()

# The manifest's orchestration answer says which way its links run.
LINK_KIND = {
    "orchestrates_agents": "orchestrates",
    "orchestrated_by_agent": "orchestrated_by",
    "peer_mesh": "peer",
}


class AwaitingReview(actions.ActionError):
    """The agent's assessment is with a reviewer: a manifest cannot change it now."""


@transaction.atomic
def apply(
    user: Any,
    agent: Agent | None,
    plan: dict[str, Any],
    *,
    submit: bool = False,
    request: HttpRequest | None = None,
) -> Assessment:
    """Create or update the agent, fill its draft with the manifest's answers (starting
    one when none is open) and, with ``submit``, submit it. All or nothing."""
    if agent is None:
        agent = actions.create_agent(
            user,
            fields=plan["fields"],
            systems=plan["systems"],
            links=plan["links"],
            request=request,
        )
    elif set(plan["changes"]) - {"owners"}:
        agent = actions.update_agent(
            user,
            agent,
            fields=plan["fields"],
            systems=plan["systems"],
            links=plan["links"],
            request=request,
        )
    if plan.get("ownership") is not None:
        agent = owners.apply(user, agent, plan["ownership"], request=request)
    draft = Assessment.objects.open().filter(agent=agent).first()
    if draft is not None and not draft.is_editable:
        raise AwaitingReview(
            f"{agent.name} has an assessment awaiting review (version {draft.number}); "
            "it must be approved or returned before a manifest can change it."
        )
    if draft is None:
        draft = actions.start_assessment(user, agent, request=request)
    changes = answer_changes(draft.answers, plan["answers"])
    if changes:
        draft = actions.save_answers(
            user, draft, changes, expected_version=draft.lock_version, request=request
        )
    if submit:
        draft = actions.submit_assessment(user, draft, request=request)
    return draft


def plan(manifest: Any, agent: Agent | None, team_slug: str) -> dict[str, Any]:
    """What applying ``manifest`` would do to the inventory and to the draft."""
    notes: list[str] = []
    errors: list[dict[str, str]] = []
    meta = manifest.agent
    answers = dict(manifest.answers)
    fields: dict[str, Any] = {"name": meta["name"], "slug": meta["slug"]}
    if meta.get("description"):
        fields["purpose"] = meta["description"]
    if meta.get("owner"):
        owner = (
            User.objects.filter(is_active=True)
            .filter(Q(username=meta["owner"]) | Q(email__iexact=meta["owner"]))
            .order_by("pk")
            .first()
        )
        if owner is None:
            errors.append(
                {"key": "agent.owner", "message": "No active person has this username or e-mail."}
            )
        else:
            fields["owner"] = owner
    if answers.get("credential_model") in CredentialModel.values:
        fields["credential_model"] = answers["credential_model"]
    if agent is None:
        fields.setdefault("purpose", meta["name"])
        if "owner" not in fields and not errors:
            errors.append(
                {
                    "key": "agent.owner",
                    "message": "A new agent needs an owner: a person's username or e-mail.",
                }
            )
        team = Team.objects.filter(slug=team_slug).first() if team_slug else None
        if team is None:
            errors.append(
                {
                    "key": "team",
                    "message": "A new agent needs a team: pass ?team= with a team's slug.",
                }
            )
        fields["team"] = team
    ownership = owners.plan(
        agent,
        sponsor=meta.get("sponsor"),
        successors_=meta.get("successors"),
        owner=fields.get("owner") or (agent.owner if agent is not None else None),
    )
    errors += [{"key": f"agent.{key}", "message": m} for key, m in ownership.errors]
    if errors:
        return {"errors": errors}
    systems = [{"name": s["name"], "access": s["access"]} for s in answers.get("systems") or []]
    kind = LINK_KIND.get(answers.get("orchestration") or "", "peer")
    linked = [a["slug"] for a in answers.get("linked_agents") or []]
    known = set(Agent.objects.filter(slug__in=linked).values_list("slug", flat=True))
    links = [{"kind": kind, "other": s} for s in linked if s in known]
    for missing in sorted(set(linked) - known):
        notes.append(f"Linked agent {missing!r} is not in the inventory, so it is not linked.")
    for slug in manifest.not_in_inventory:
        notes.append(f"Linked agent {slug!r}: its systems are unknown.")
    changes = inventory_changes(agent, fields, systems, links)
    if ownership.changes:
        changes["owners"] = ownership.changes
    wanted = {k: v for k, v in answers.items() if k not in decisions.INVENTORY_KEYS}
    draft = (
        Assessment.objects.open().filter(agent=agent).values_list("answers", flat=True).first()
        if agent is not None
        else None
    )
    return {
        "errors": [],
        "fields": fields,
        "systems": systems,
        "links": links,
        "answers": wanted,
        "changes": changes,
        "ownership": ownership,
        "answer_changes": {
            k: {"old": v["old"], "new": v["new"]}
            for k, v in audit.diff(
                dict(draft or {}), {**dict.fromkeys(draft or {}), **wanted}
            ).items()
            if k not in decisions.INVENTORY_KEYS
        },
        "notes": notes,
    }


def inventory_changes(
    agent: Agent | None, fields: dict[str, Any], systems: list[Any], links: list[Any]
) -> dict[str, Any]:
    shown = {
        k: (v.get_username() if k == "owner" else v.slug if k == "team" else v)
        for k, v in fields.items()
    }
    if agent is None:
        return {"create": shown, "systems": systems, "links": links}
    before = {
        "name": agent.name,
        "slug": agent.slug,
        "purpose": agent.purpose,
        "owner": agent.owner.get_username(),
        "credential_model": agent.credential_model,
    }
    changes: dict[str, Any] = {}
    field_diff = audit.diff({k: before[k] for k in shown}, shown)
    if field_diff:
        changes["fields"] = field_diff
    have = {(s.name.lower(), s.access) for s in agent.systems.all()}
    want = {(s["name"].lower(), s["access"]) for s in systems}
    if have != want:
        changes["systems"] = {
            "added": sorted(want - have),
            "removed": sorted(have - want),
        }
    have_links = {(row["kind"], row["other"]) for row in initial_links(agent)}
    want_links = {(row["kind"], row["other"]) for row in links}
    if have_links != want_links:
        changes["links"] = {
            "added": sorted(want_links - have_links),
            "removed": sorted(have_links - want_links),
        }
    return changes


def answer_changes(stored: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The draft becomes exactly the manifest's answers: new and changed values, and
    None for answers the manifest no longer gives."""
    changes = {k: v for k, v in wanted.items() if stored.get(k) != v}
    for key in stored:
        if key not in wanted and key not in decisions.INVENTORY_KEYS:
            changes[key] = None
    return changes
