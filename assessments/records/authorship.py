"""Who shaped a version of an assessment (four eyes).

A decision is about the answers, systems, links and catalogue frozen into a version at
submission. Anyone who shaped any of them while the version was open is one of its
authors and may not approve or return it: whoever started, answered or submitted it,
changed the agent (its fields, systems or links: on its page, through the API, a CSV
import or a manifest push), changed the links or systems of an agent linked to it,
accepted or rejected an evidence proposal for it, or edited the catalogue rows it is
assessed under. Everything is read from the audit log, which is append-only and
hash-chained, so nobody can remove themselves from it.

Service accounts act for people: an account's author is its creator, and whoever
minted one of its tokens (they hold the secret) — what a person may not decide, they
may not decide through a service account either.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from assessments.models import (
    Agent,
    ApiToken,
    Assessment,
    AuditEvent,
    Control,
    ControlMapping,
    Framework,
    FrameworkItem,
    ReferenceNote,
    ServiceAccount,
)

# Phrases completing "You …, so another reviewer must decide it." (first one found wins).
STARTED = "started this assessment"
SUBMITTED = "submitted this assessment"
ANSWERED = "answered questions of this version"
CHANGED_AGENT = "changed the agent's fields, systems or links while this version was open"
CHANGED_LINKED = "changed the links or systems of an agent linked to it while this version was open"
ACCEPTED = "accepted an evidence proposal for this agent while this version was open"
REJECTED = "rejected an evidence proposal for this agent while this version was open"
CHANGED_CATALOGUE = "edited the catalogue this version is assessed under while it was open"

_CATALOGUE_MODELS = {
    model._meta.label_lower: model
    for model in (Framework, FrameworkItem, Control, ControlMapping, ReferenceNote)
}


def _window(assessment: Assessment) -> Q:
    """Events while this version was open: from its start to its (last) submission."""
    own = AuditEvent.objects.for_object(assessment)
    start = own.filter(verb="assessment.start").order_by("id").values_list("id", flat=True)
    first = start.first()
    window = Q(id__gte=first) if first is not None else Q(created_at__gte=assessment.created_at)
    if assessment.status not in Assessment.EDITABLE_STATUSES:
        last = (
            own.filter(verb="assessment.submit").order_by("-id").values_list("id", flat=True)
        ).first()
        if last is not None:
            window &= Q(id__lte=last)
    return window


def _linked_ids(assessment: Assessment) -> set[int]:
    """The agents this version links to (live for a draft, as frozen once submitted)."""
    if assessment.status in Assessment.EDITABLE_STATUSES:
        from assessments.workflow import decisions

        linked = decisions.inventory_answers(assessment.agent)["linked_agents"]
    else:
        linked = (assessment.answers or {}).get("linked_agents") or []
    slugs = {row.get("slug") for row in linked if isinstance(row, dict)}
    return set(Agent.objects.filter(slug__in=slugs).values_list("pk", flat=True))


def _mentions(changes: Any, slug: str) -> bool:
    """An ``agent.update``/``agent.create`` event added or removed a link to ``slug``."""
    if not isinstance(changes, dict):
        return False
    rows: list[Any] = []
    for key in ("links_added", "links_removed", "links"):
        value = changes.get(key)
        if isinstance(value, list):
            rows.extend(value)
    return any(isinstance(row, dict) and row.get("agent") == slug for row in rows)


def _touches_systems(changes: Any) -> bool:
    return isinstance(changes, dict) and any(
        changes.get(key) for key in ("systems_added", "systems_removed", "systems_changed")
    )


def _catalogue_event(event: AuditEvent, catalogue_id: int | None) -> bool:
    model = _CATALOGUE_MODELS.get(event.object_type)
    if model is None:
        return False
    obj = model.objects.filter(pk=event.object_id).first() if event.object_id.isdigit() else None
    if obj is None:
        return True  # deleted since: it may have been part of it
    from assessments.catalogue.admin import _catalogue_of

    return _catalogue_of(obj) == catalogue_id


def authors(assessment: Assessment) -> dict[int, str]:
    """Everyone who shaped this version, as user id -> what they did (first found)."""
    found: dict[int, str] = {}

    def add(pk: int | None, phrase: str) -> None:
        if pk is not None and pk not in found:
            found[pk] = phrase

    add(assessment.assessor_id, STARTED)
    add(assessment.submitted_by_id, SUBMITTED)
    agent = assessment.agent
    events = (
        AuditEvent.objects.filter(_window(assessment), actor__isnull=False)
        .filter(
            Q(object_type=assessment._meta.label_lower, object_id=str(assessment.pk))
            | Q(agent_id=assessment.agent_id)
            | Q(verb__in=("agent.update", "agent.create"))
            | Q(object_type__in=list(_CATALOGUE_MODELS))
        )
        .order_by("id")
        .only("id", "actor_id", "verb", "agent_id", "object_type", "object_id", "changes")
    )
    linked: set[int] | None = None
    for event in events:
        verb, on_agent = event.verb, event.agent_id == assessment.agent_id
        if verb == "assessment.answer" and event.object_id == str(assessment.pk):
            add(event.actor_id, ANSWERED)
        elif verb == "agent.update" and on_agent:
            add(event.actor_id, CHANGED_AGENT)
        elif verb in ("agent.update", "agent.create") and not on_agent:
            if _mentions(event.changes, agent.slug):
                add(event.actor_id, CHANGED_LINKED)
            elif _touches_systems(event.changes):
                if linked is None:
                    linked = _linked_ids(assessment)
                if event.agent_id in linked:
                    add(event.actor_id, CHANGED_LINKED)
        elif verb == "evidence.accept" and on_agent:
            add(event.actor_id, ACCEPTED)
        elif verb == "evidence.reject" and on_agent:
            add(event.actor_id, REJECTED)
        elif event.object_type in _CATALOGUE_MODELS and _catalogue_event(
            event, assessment.catalogue_id
        ):
            add(event.actor_id, CHANGED_CATALOGUE)
    return _with_principals(found)


def principals(user_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """The people a service account acts for: its creator and whoever minted its tokens,
    as person id -> (service account id, its username)."""
    out: dict[int, tuple[int, str]] = {}
    accounts = ServiceAccount.objects.filter(user_id__in=list(user_ids)).select_related("user")
    for account in accounts:
        people = {account.created_by_id}
        people |= set(
            ApiToken.objects.filter(user_id=account.user_id).values_list("created_by_id", flat=True)
        )
        for pk in people:
            if pk is not None and pk != account.user_id:
                out.setdefault(pk, (account.user_id, account.user.get_username()))
    return out


def _with_principals(found: dict[int, str]) -> dict[int, str]:
    """A service account's authorship is also its people's."""
    for person, (account, name) in principals(found).items():
        found.setdefault(person, f"{found[account]} (through the service account {name})")
    return found
