"""Discovery: push account-wide exports from CI, read runs and identities, triage.

``POST /discovery/runs`` stores the files and reads them in the background, as the
Discovery page does (202 with the queued run; poll ``GET /discovery/runs/{id}``). A
file that is not an export of the kind is refused at once (422, naming the file) and
nothing is stored. Identities filter as on the page; triage (one identity or the
filtered selection) is the same audited action. Reading needs ``read`` and a role
that reads the whole estate (with team-scoped reading, administrators only); pushing
and triage need ``write`` and an assessor or above.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.responses import Status

from assessments import portfolio
from assessments.access import scope
from assessments.actions import discovery as discovery_actions
from assessments.actions.errors import ActionError
from assessments.api.agents import page_of
from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import Body
from assessments.forms.discovery import IdentityFilterForm
from assessments.models import DiscoveredIdentity, DiscoveryRun, Team

router = Router(tags=["discovery"])
READ = "assessments.view_discoveredidentity"
TRIAGE = "assessments.change_discoveredidentity"


def _reader(request: HttpRequest, scope_name: str, perm: str) -> Any:
    user = require(request, scope_name, perm)
    if not scope.reads_all(user):
        raise PermissionDenied(
            "Discovery covers whole accounts and clusters; with team-scoped reading only "
            "administrators reach it."
        )
    return user


class ExportFile(Body):
    """One export file: its name and its text (``content``), or its bytes in base64
    (``content_base64``) for a file that is not UTF-8 text."""

    name: str
    content: str | None = None
    content_base64: str | None = None


class RunIn(Body):
    kind: str
    source: str = ""
    files: list[ExportFile]


class RunOut(Schema):
    id: int
    kind: str
    source: str
    status: str
    progress: int
    error: str
    counts: dict[str, int]
    files: list[dict[str, str]]
    created_at: str
    finished_at: str | None
    url: str

    @staticmethod
    def of(run: DiscoveryRun) -> dict[str, Any]:
        return {
            "id": run.pk,
            "kind": run.kind,
            "source": run.source or run.requested_source,
            "status": run.status,
            "progress": run.progress,
            "error": run.error,
            "counts": run.summary,
            "files": run.files_summary,
            "created_at": run.created_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "url": run.get_absolute_url(),
        }


class RunPage(Schema):
    count: int
    page: int
    pages: int
    results: list[RunOut]


class IdentityOut(Schema):
    id: int
    kind: str
    source: str
    external_id: str
    name: str
    type: str
    created: str | None
    last_used: str | None
    last_used_from: str
    owner_hint: str
    agent_like: str
    signals: list[dict[str, Any]]
    status: str
    linked_agent: str | None
    triage: str
    triage_reason: str
    decommission: str

    @staticmethod
    def of(i: DiscoveredIdentity) -> dict[str, Any]:
        return {
            "id": i.pk,
            "kind": i.kind,
            "source": i.source,
            "external_id": i.external_id,
            "name": i.name,
            "type": i.identity_type,
            "created": i.created_on.isoformat() if i.created_on else None,
            "last_used": i.last_used.isoformat() if i.last_used else None,
            "last_used_from": i.last_used_from,
            "owner_hint": i.owner_hint,
            "agent_like": i.agent_like,
            "signals": i.signals,
            "status": i.status,
            "linked_agent": i.agent.slug if i.agent else None,
            "triage": i.triage,
            "triage_reason": i.triage_reason,
            "decommission": i.decommission_state,
        }


class IdentityPage(Schema):
    count: int
    page: int
    pages: int
    results: list[IdentityOut]


class IdentityFilters(Schema):
    agent_like: str = ""
    status: str = ""
    triage: str = ""
    source: str = ""
    q: str = ""
    page: int = 1


class TriageIn(Body):
    action: str
    reason: str = ""
    team: str = ""  # a team's slug, to register


class BulkTriageIn(TriageIn):
    agent_like: str = ""
    status: str = ""
    triage: str = ""
    source: str = ""
    q: str = ""


class TriageOut(Schema):
    done: list[int]
    refused: list[dict[str, Any]]
    agents: list[str]


class FiguresOut(Schema):
    identities: int
    agent_like: int
    linked: int
    shadow: int
    machine: int
    decommission_pending: int
    coverage: int | None
    per_source: list[dict[str, Any]]


def _files(body: RunIn) -> list[tuple[str, bytes]]:
    files = []
    for index, item in enumerate(body.files):
        if item.content is not None:
            files.append((item.name, item.content.encode()))
        elif item.content_base64 is not None:
            try:
                files.append((item.name, base64.b64decode(item.content_base64, validate=True)))
            except (binascii.Error, ValueError):
                raise ApiError(
                    422, f"files[{index}] ({item.name}): content_base64 is not base64."
                ) from None
        else:
            raise ApiError(422, f"files[{index}] ({item.name}): give content or content_base64.")
    return files


@router.post("/discovery/runs", response={202: RunOut, **ERRORS}, url_name="discovery_run_push")
def push_run(request: HttpRequest, body: RunIn) -> Any:
    """Store export files and read them in the background; 422 naming a bad file."""
    user = _reader(request, "write", "assessments.add_discoveryrun")
    try:
        run = discovery_actions.start_discovery(
            user, body.kind, _files(body), source=body.source, request=request
        )
    except ActionError as error:
        raise ApiError(422, str(error)) from None
    return Status(202, RunOut.of(run))


@router.get("/discovery/runs", response={200: RunPage, **ERRORS}, url_name="discovery_run_list")
def list_runs(request: HttpRequest, page: int = 1) -> Any:
    """Runs, newest first."""
    _reader(request, "read", READ)
    current, meta = page_of(DiscoveryRun.objects.all(), page)
    return {**meta, "results": [RunOut.of(r) for r in current.object_list]}


@router.get(
    "/discovery/runs/{run_id}", response={200: RunOut, **ERRORS}, url_name="discovery_run_detail"
)
def get_run(request: HttpRequest, run_id: int) -> Any:
    """One run: its status and progress while it is read, then its counts."""
    _reader(request, "read", READ)
    return RunOut.of(get_object_or_404(DiscoveryRun, pk=run_id))


@router.get(
    "/discovery/identities",
    response={200: IdentityPage, **ERRORS},
    url_name="discovery_identity_list",
)
def list_identities(request: HttpRequest, filters: Query[IdentityFilters]) -> Any:
    """Identities, filtered as on the Discovery page (found by the latest run unless
    ``status`` says otherwise)."""
    _reader(request, "read", READ)
    form = IdentityFilterForm(filters.dict())
    if not form.is_valid():
        raise ApiError(
            422,
            "A filter is not understood.",
            errors=[{"loc": ["query", k], "msg": " ".join(v)} for k, v in form.errors.items()],
        )
    qs = form.apply(DiscoveredIdentity.objects.select_related("agent")).order_by(
        "kind", "source", "external_id"
    )
    current, meta = page_of(qs, filters.page)
    return {**meta, "results": [IdentityOut.of(i) for i in current.object_list]}


@router.get(
    "/discovery/identities/{identity_id}",
    response={200: IdentityOut, **ERRORS},
    url_name="discovery_identity_detail",
)
def get_identity(request: HttpRequest, identity_id: int) -> Any:
    _reader(request, "read", READ)
    return IdentityOut.of(
        get_object_or_404(DiscoveredIdentity.objects.select_related("agent"), pk=identity_id)
    )


def _team(slug: str) -> Team | None:
    if not slug:
        return None
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise ApiError(422, f"No team has the slug {slug!r}.")
    return team


def _triage(request: HttpRequest, user: Any, identities: list[Any], body: TriageIn) -> dict:
    try:
        if body.action == "register":
            team = _team(body.team)
            if team is None:
                raise ActionError("Give team, the slug of the team the new agents belong to.")
            outcome = discovery_actions.bulk_triage(
                user, identities, "register", team=team, request=request
            )
        else:
            outcome = discovery_actions.bulk_triage(
                user, identities, body.action, reason=body.reason, request=request
            )
    except ActionError as error:
        raise ApiError(422, str(error)) from None
    done = list(
        DiscoveredIdentity.objects.filter(pk__in=[i.pk for i in outcome.done]).select_related(
            "agent"
        )
    )
    return {
        "done": [i.pk for i in done],
        "refused": [
            {"id": i.pk, "external_id": i.external_id, "why": why} for i, why in outcome.refused
        ],
        "agents": [i.agent.slug for i in done if i.agent],
    }


@router.post(
    "/discovery/identities/{identity_id}/triage",
    response={200: TriageOut, **ERRORS},
    url_name="discovery_identity_triage",
)
def triage_identity(request: HttpRequest, identity_id: int, body: TriageIn) -> Any:
    """Triage one identity: ``register`` (with ``team``), ``machine`` (with ``reason``),
    ``decommission``, ``dismiss`` (with ``reason``) or ``reopen``. 422 when the
    triage does not fit the identity, saying why."""
    user = _reader(request, "write", TRIAGE)
    identity = get_object_or_404(DiscoveredIdentity, pk=identity_id)
    result = _triage(request, user, [identity], body)
    if result["refused"]:
        raise ApiError(422, result["refused"][0]["why"])
    return result


@router.post(
    "/discovery/triage", response={200: TriageOut, **ERRORS}, url_name="discovery_bulk_triage"
)
def bulk_triage(request: HttpRequest, body: BulkTriageIn) -> Any:
    """Triage every identity the filters select (at most 500 at a time); each identity
    the triage does not fit is listed in ``refused`` and left as it was."""
    user = _reader(request, "write", TRIAGE)
    form = IdentityFilterForm(body.dict())
    if not form.is_valid():
        raise ApiError(422, "A filter is not understood.")
    identities = list(form.apply(DiscoveredIdentity.objects.all()).order_by("pk")[:500])
    return _triage(request, user, identities, body)


@router.get(
    "/discovery/figures", response={200: FiguresOut, **ERRORS}, url_name="discovery_figures"
)
def figures(request: HttpRequest) -> Any:
    """The discovery figures, as on the dashboard, /figures/ and the board pack."""
    _reader(request, "read", READ)
    f = portfolio.discovery_figures()
    return {
        "identities": f.identities,
        "agent_like": f.agent_like,
        "linked": f.linked,
        "shadow": f.shadow,
        "machine": f.machine,
        "decommission_pending": f.decommission_pending,
        "coverage": f.coverage,
        "per_source": f.per_source,
    }
