"""Manifests: an assessment as code, pushed from a pipeline.

``POST /manifests?dry_run=true`` reads the manifest as ``manage.py assess`` does
(``assessments.interchange.manifest``), compares it with the inventory and returns the changes and
the engine's decision, changing nothing. Without ``dry_run`` the agent is created or
updated and its draft assessment filled in from the manifest (``submit=true`` also
submits it), all through the actions and all or nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Router
from pydantic import ConfigDict

from assessments import engine
from assessments.access import scope
from assessments.api.assessments import detail_of
from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import Body, ManifestResult
from assessments.interchange import manifest_sync
from assessments.interchange.manifest import check_manifest, resolve_linked_agents
from assessments.models import Agent, review_intervals
from assessments.workflow import decisions

router = Router(tags=["manifests"])
User = get_user_model()


class ManifestIn(Body):
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
    if agent is not None and not scope.may_read(user, agent):
        # Nothing about an agent the person may not read: not its name, not its team.
        raise PermissionDenied(f"You may not push a manifest for the slug “{slug}”.")
    if agent is not None and not (dry_run or scope.may_edit(user, agent)):
        raise PermissionDenied(
            scope.edit_refusal(user, agent) or f"{slug} belongs to another team."
        )
    plan = manifest_sync.plan(checked, agent, team)
    if plan["errors"]:
        raise ApiError(
            422, "The manifest cannot be applied; nothing was changed.", errors=plan["errors"]
        )
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
    try:
        draft = manifest_sync.apply(user, agent, plan, submit=submit, request=request)
    except manifest_sync.AwaitingReview as busy:
        raise ApiError(409, str(busy)) from busy
    saved = detail_of(draft, user)
    outcome.update(
        applied=True,
        assessment=saved,
        decision=saved["result"],
    )
    return outcome
