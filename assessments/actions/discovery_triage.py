"""Discovery triage: what a person decides about an identity discovery found.

Register it as an agent (created from the identity, its run's files attached as
evidence, the first draft open with the proposals pending), keep it as a machine
identity (with a reason; a later run re-opens it when its signals change), decommission
it (a task open until a run no longer finds it, or a person dismisses it with a
reason), or reopen a decision. Each is one audited action for assessors and above;
:func:`bulk_triage` applies one to a filtered selection. Re-exported by
:mod:`assessments.actions.discovery`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from assessments import discovery
from assessments.access import scope
from assessments.actions.assessments import start_assessment
from assessments.actions.errors import ActionError
from assessments.actions.evidence import upload_evidence
from assessments.actions.inventory import create_agent
from assessments.actions.ownership import activity_from_discovery
from assessments.models import Agent, Assessment, DiscoveredIdentity, DiscoveryRun, Team
from assessments.records import audit

MAX_REASON = 2000
PLATFORMS = {
    "aws": "AWS",
    "kubernetes": "Kubernetes",
    "gcp": "Google Cloud",
    "entra": "Microsoft Entra ID",
}
TRIAGE_ACTIONS = ("register", "machine", "decommission", "dismiss", "reopen")
S = DiscoveredIdentity.Status
T = DiscoveredIdentity.Triage
D = DiscoveredIdentity.Decommission
DECIDED = ("triage", "triage_reason", "triaged_by", "triaged_at")


def unused_days() -> int:
    return int(getattr(settings, "DISCOVERY_UNUSED_DAYS", 90))


def _check_assessor(actor: Any) -> None:
    if not actor.has_perm("assessments.change_discoveredidentity"):
        raise ActionError("Triage is for assessors, reviewers and administrators.")


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ActionError(f"Say why {what}; it needs a reason.")
    if len(reason) > MAX_REASON:
        raise ActionError(f"Keep the reason under {MAX_REASON} characters.")
    return reason


def _decided(actor: Any, triage: str, reason: str) -> dict[str, Any]:
    """The fields a triage decision sets: what, why, who and when."""
    when = timezone.now() if actor else None
    return dict(zip(DECIDED, (triage, reason, actor, when), strict=True))


@transaction.atomic
def _triage(
    actor: Any,
    identity: DiscoveredIdentity,
    verb: str,
    change: Callable[[DiscoveredIdentity], dict[str, Any] | str],
    *,
    request: HttpRequest | None = None,
    said: Callable[[DiscoveredIdentity, str], dict[str, Any]] = lambda i, was: {},
) -> DiscoveredIdentity:
    """One triage: checks the actor, locks the identity, asks ``change`` for the fields
    to set (or the sentence that refuses it), saves them and writes the audit event
    ``verb`` with the identity's external id and what ``said`` adds (from the saved
    identity and its triage before)."""
    _check_assessor(actor)
    identity = DiscoveredIdentity.objects.select_for_update().get(pk=identity.pk)
    was = identity.triage
    fields = change(identity)
    if isinstance(fields, str):
        raise ActionError(fields)
    for name, value in fields.items():
        setattr(identity, name, value)
    identity.save(update_fields=list(fields))
    audit.record(
        verb,
        actor=actor,
        obj=identity,
        request=request,
        changes={"external_id": identity.external_id, **said(identity, was)},
    )
    return identity


def _unlinked(identity: DiscoveredIdentity, instead: str) -> str | None:
    if identity.agent_id is not None:
        return f"This identity is linked to an agent; {instead}."
    return None


def keep_as_machine(
    actor: Any, identity: DiscoveredIdentity, reason: str, *, request: HttpRequest | None = None
) -> DiscoveredIdentity:
    """Record that the identity remains a machine identity, with a reason."""
    _check_assessor(actor)
    reason = _reason(reason, "it remains a machine identity")
    return _triage(
        actor,
        identity,
        "discovery.machine",
        lambda i: (
            _unlinked(i, "triage is for unlinked identities")
            or {**_decided(actor, T.MACHINE, reason), "decommission_state": D.NONE}
        ),
        request=request,
        said=lambda i, was: {"reason": reason},
    )


def decommission_allowed(identity: DiscoveredIdentity, today: dt.date) -> tuple[bool, str]:
    """Decommission is for an identity unused for DISCOVERY_UNUSED_DAYS or with no owner."""
    days = unused_days()
    if not identity.owner_hint:
        return True, "it has no owner"
    if identity.last_used is None:
        return True, "no use is recorded"
    idle = (today - identity.last_used).days
    if idle >= days:
        return True, f"unused for {idle} days"
    return False, (
        f"It was used {idle} days ago and names an owner ({identity.owner_hint}); "
        f"decommission is for identities unused for {days} days or with no owner."
    )


def decommission_identity(
    actor: Any,
    identity: DiscoveredIdentity,
    reason: str = "",
    *,
    request: HttpRequest | None = None,
) -> DiscoveredIdentity:
    """Open a decommission task; it stays open until a later run no longer finds the
    identity or a person dismisses it."""

    def change(i: DiscoveredIdentity) -> dict[str, Any] | str:
        refused = _unlinked(i, "retire the agent instead")
        if refused or i.status == S.VANISHED:
            return refused or "The latest run no longer finds this identity: it is already gone."
        ok, why = decommission_allowed(i, timezone.localdate())
        if not ok:
            return why
        return {
            **_decided(actor, T.DECOMMISSION, (reason or "").strip()[:MAX_REASON] or why),
            "decommission_state": D.OPEN,
            "decommission_closed_at": None,
            "dismiss_reason": "",
        }

    return _triage(
        actor,
        identity,
        "discovery.decommission",
        change,
        request=request,
        said=lambda i, was: {"why": i.triage_reason},
    )


def dismiss_decommission(
    actor: Any, identity: DiscoveredIdentity, reason: str, *, request: HttpRequest | None = None
) -> DiscoveredIdentity:
    """Close an open decommission task without the identity being gone, with a reason."""
    _check_assessor(actor)
    reason = _reason(reason, "the decommission is dismissed")
    return _triage(
        actor,
        identity,
        "discovery.dismiss",
        lambda i: (
            "This identity has no open decommission task."
            if i.decommission_state != D.OPEN
            else {
                "decommission_state": D.DISMISSED,
                "decommission_closed_at": timezone.now(),
                "dismiss_reason": reason,
            }
        ),
        request=request,
        said=lambda i, was: {"reason": reason},
    )


def reopen_triage(
    actor: Any, identity: DiscoveredIdentity, *, request: HttpRequest | None = None
) -> DiscoveredIdentity:
    """Undo a machine-identity or decommission decision: the identity waits for triage."""
    return _triage(
        actor,
        identity,
        "discovery.reopen",
        lambda i: (
            "Only a machine-identity or decommission decision can be reopened."
            if i.triage not in (T.MACHINE, T.DECOMMISSION)
            else {**_decided(None, T.NONE, ""), "decommission_state": D.NONE}
        ),
        request=request,
        said=lambda i, was: {"was": was},
    )


# --------------------------------------------------------------------------- register


def _owner_for(hint: str) -> Any:
    hint = (hint or "").strip()
    if not hint:
        return None
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(username__iexact=hint) | Q(email__iexact=hint))
        .first()
    )


def _unique_slug(name: str) -> str:
    base = (slugify(name) or "discovered-agent")[:90].strip("-") or "discovered-agent"
    slug, n = base, 1
    taken = set(Agent.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


@dataclass
class Registered:
    agent: Agent
    assessment: Assessment | None
    evidence_attached: bool
    note: str = ""


@transaction.atomic
def register_identity(
    actor: Any,
    identity: DiscoveredIdentity,
    *,
    team: Team,
    name: str = "",
    purpose: str = "",
    request: HttpRequest | None = None,
) -> Registered:
    """Create an agent from the identity, link it, attach the run's files as evidence for
    it (proposals pending) and open its first draft."""
    _check_assessor(actor)
    identity = DiscoveredIdentity.objects.select_for_update().get(pk=identity.pk)
    if identity.agent_id is not None:
        raise ActionError("This identity is already linked to an agent.")
    if identity.status == S.VANISHED:
        raise ActionError("The latest run no longer finds this identity; it cannot be registered.")
    scope.check_actor_edit(actor, team)
    owner = _owner_for(identity.owner_hint) or actor
    run = identity.last_run
    stored = [(f.name, bytes(f.content)) for f in run.files.all()]
    evidence_files, principal = _evidence_for(identity, run, stored)
    agent_name = (name or identity.name).strip()[:200] or identity.external_id[:200]
    agent = create_agent(
        actor,
        fields={
            "name": agent_name,
            "slug": _unique_slug(agent_name),
            "purpose": (purpose or "").strip()
            or f"Registered from discovery: {identity.identity_type} {identity.external_id} "
            f"in {identity.source}.",
            "owner": owner,
            "team": team,
            "platform": PLATFORMS.get(identity.kind, identity.kind),
        },
        request=request,
    )
    draft = start_assessment(actor, agent, request=request)
    attached, note = False, ""
    if evidence_files:
        try:
            upload_evidence(
                actor,
                agent,
                evidence_files,
                kind=identity.kind,
                principal=principal,
                assessment=draft,
                request=request,
            )
            attached = True
        except ActionError as error:
            note = f"The export could not be attached as evidence: {error}"
    identity.agent = agent
    for key, value in _decided(actor, T.REGISTERED, "").items():
        setattr(identity, key, value)
    identity.save(update_fields=["agent", *DECIDED])
    audit.record(
        "discovery.register",
        actor=actor,
        obj=identity,
        agent=agent,
        request=request,
        changes={
            "external_id": identity.external_id,
            "source": identity.source,
            "agent": agent.slug,
            "evidence_attached": attached,
            "owner_from_hint": owner != actor,
        },
    )
    activity_from_discovery([agent.pk], actor=actor, request=request)
    return Registered(agent=agent, assessment=draft, evidence_attached=attached, note=note)


def _evidence_for(
    identity: DiscoveredIdentity, run: DiscoveryRun, stored: list[tuple[str, bytes]]
) -> tuple[list[tuple[str, bytes]], str]:
    if identity.kind == "entra":
        return discovery.evidence_input(
            "entra",
            stored,
            {
                "external_id": identity.external_id,
                "name": identity.name,
                "details": identity.details,
            },
            (),
        )
    if identity.kind == "aws":
        names = [
            n
            for n, d in stored
            if not discovery.aws.is_report(n, d) and not n.lower().endswith(".csv")
        ]
    elif identity.kind == "gcp":
        names = []
        for n, d in stored:
            parsed = discovery.load(n, d)
            items = [i for doc in parsed.documents for i in discovery.gcp._items(doc)]
            if not all(discovery.gcp._is_account(i) for i in items):
                names.append(n)  # the policy and custom roles, not the account list
    else:
        names = [n for n, _d in stored]
    return discovery.evidence_input(
        identity.kind, stored, {"external_id": identity.external_id}, names
    )


# --------------------------------------------------------------------------- in bulk


@dataclass
class BulkOutcome:
    done: list[DiscoveredIdentity] = field(default_factory=list)
    refused: list[tuple[DiscoveredIdentity, str]] = field(default_factory=list)


def bulk_triage(
    actor: Any,
    identities: Iterable[DiscoveredIdentity],
    action: str,
    *,
    reason: str = "",
    team: Team | None = None,
    request: HttpRequest | None = None,
) -> BulkOutcome:
    """Apply one triage to each identity (each its own audited action); an identity the
    action does not fit is reported, not changed."""
    _check_assessor(actor)
    if action not in TRIAGE_ACTIONS:
        raise ActionError(f"Unknown triage {action!r}.")
    if action in ("machine", "dismiss"):
        _reason(reason, "these identities are triaged so")
    if action == "register" and team is None:
        raise ActionError("Choose the team the new agents belong to.")
    one: dict[str, Callable[[DiscoveredIdentity], Any]] = {
        "register": lambda i: register_identity(actor, i, team=team, request=request),  # type: ignore[arg-type]
        "machine": lambda i: keep_as_machine(actor, i, reason, request=request),
        "decommission": lambda i: decommission_identity(actor, i, reason, request=request),
        "dismiss": lambda i: dismiss_decommission(actor, i, reason, request=request),
        "reopen": lambda i: reopen_triage(actor, i, request=request),
    }
    outcome = BulkOutcome()
    for identity in identities:
        try:
            with transaction.atomic():
                one[action](identity)
            outcome.done.append(identity)
        except ActionError as error:
            outcome.refused.append((identity, str(error)))
    return outcome
