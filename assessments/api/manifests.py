"""Manifests: an assessment as code, pushed from a pipeline.

``POST /manifests?dry_run=true`` reads the manifest as ``manage.py assess`` does
(``assessments.manifest``), compares it with the inventory and returns the changes and
the engine's decision, changing nothing. Without ``dry_run`` the agent is created or
updated and its draft assessment filled in from the manifest (``submit=true`` also
submits it), all through the actions and all or nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict

from assessments import actions, audit, decisions, engine
from assessments.api.assessments import detail_of
from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import ManifestResult
from assessments.forms import initial_links
from assessments.manifest import check_manifest, resolve_linked_agents
from assessments.models import Agent, Assessment, CredentialModel, Team, review_intervals

router = Router(tags=["manifests"])
User = get_user_model()

# The manifest's orchestration answer says which way its links run.
LINK_KIND = {
    "orchestrates_agents": "orchestrates",
    "orchestrated_by_agent": "orchestrated_by",
    "peer_mesh": "peer",
}


class ManifestIn(Schema):
    """One manifest, as ``manage.py assess`` reads it (see tests/fixtures/*.yaml). Keys
    beyond these two are refused by the manifest checks, not dropped."""

    model_config = ConfigDict(extra="allow")

    agent: dict[str, Any]
    answers: dict[str, Any]


@router.post("/manifests", response={200: ManifestResult, **ERRORS}, url_name="manifest_push")
def push_manifest(
    request: HttpRequest,
    manifest: ManifestIn,
    dry_run: bool = False,
    submit: bool = False,
    team: str = "",
) -> Any:
    """Compare a manifest with the inventory (``dry_run``), or apply it: create or update
    the agent (a new agent needs ``team``, a team slug, and an ``agent.owner`` naming a
    person by username or e-mail), fill its draft with the answers, and with ``submit``
    hand it to a reviewer."""
    user = require(request, "read" if dry_run else "write", "assessments.view_agent")
    if not dry_run:
        require(request, "write", "assessments.add_agent")
        require(request, "write", "assessments.change_assessment")
    checked = check_manifest(manifest.dict(), file="request body")
    checked = resolve_linked_agents([checked], decisions.systems_by_slug)[0]
    slug = checked.agent["slug"]
    agent = Agent.objects.select_related("owner", "team").filter(slug=slug).first()
    plan = _plan(checked, agent, team)
    decision = engine.evaluate(
        checked.answers,
        review_intervals=review_intervals(),
        catalogue=decisions.engine_catalogue(decisions.current_catalogue()),
    ).to_dict()
    outcome: dict[str, Any] = {
        "agent": slug,
        "exists": agent is not None,
        "changes": plan["changes"],
        "answers": plan["answer_changes"],
        "decision": decision,
        "notes": plan["notes"],
        "applied": False,
        "assessment": None,
    }
    if dry_run:
        return outcome
    with transaction.atomic():
        if agent is None:
            agent = actions.create_agent(
                user,
                fields=plan["fields"],
                systems=plan["systems"],
                links=plan["links"],
                request=request,
            )
        elif plan["changes"]:
            agent = actions.update_agent(
                user,
                agent,
                fields=plan["fields"],
                systems=plan["systems"],
                links=plan["links"],
                request=request,
            )
        draft = Assessment.objects.open().filter(agent=agent).first()
        if draft is not None and not draft.is_editable:
            raise ApiError(
                409,
                f"{agent.name} has an assessment awaiting review (version {draft.number}); "
                "it must be approved or returned before a manifest can change it.",
            )
        if draft is None:
            draft = actions.start_assessment(user, agent, request=request)
        changes = _answer_changes(draft.answers, plan["answers"])
        if changes:
            draft = actions.save_answers(
                user, draft, changes, expected_version=draft.lock_version, request=request
            )
        if submit:
            draft = actions.submit_assessment(user, draft, request=request)
        saved = detail_of(draft)
    outcome.update(
        applied=True,
        assessment=saved,
        decision=saved["result"],
    )
    return outcome


def _plan(manifest: Any, agent: Agent | None, team_slug: str) -> dict[str, Any]:
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
    if errors:
        raise ApiError(422, "The manifest cannot be applied; nothing was changed.", errors=errors)
    systems = [{"name": s["name"], "access": s["access"]} for s in answers.get("systems") or []]
    kind = LINK_KIND.get(answers.get("orchestration") or "", "peer")
    linked = [a["slug"] for a in answers.get("linked_agents") or []]
    known = set(Agent.objects.filter(slug__in=linked).values_list("slug", flat=True))
    links = [{"kind": kind, "other": s} for s in linked if s in known]
    for missing in sorted(set(linked) - known):
        notes.append(f"Linked agent {missing!r} is not in the inventory, so it is not linked.")
    for slug in manifest.not_in_inventory:
        notes.append(f"Linked agent {slug!r}: its systems are unknown.")
    changes = _inventory_changes(agent, fields, systems, links)
    wanted = {k: v for k, v in answers.items() if k not in decisions.INVENTORY_KEYS}
    draft = (
        Assessment.objects.open().filter(agent=agent).values_list("answers", flat=True).first()
        if agent is not None
        else None
    )
    return {
        "fields": fields,
        "systems": systems,
        "links": links,
        "answers": wanted,
        "changes": changes,
        "answer_changes": {
            k: {"old": v["old"], "new": v["new"]}
            for k, v in audit.diff(
                dict(draft or {}), {**dict.fromkeys(draft or {}), **wanted}
            ).items()
            if k not in decisions.INVENTORY_KEYS
        },
        "notes": notes,
    }


def _inventory_changes(
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


def _answer_changes(stored: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The draft becomes exactly the manifest's answers: new and changed values, and
    None for answers the manifest no longer gives."""
    changes = {k: v for k, v in wanted.items() if stored.get(k) != v}
    for key in stored:
        if key not in wanted and key not in decisions.INVENTORY_KEYS:
            changes[key] = None
    return changes
