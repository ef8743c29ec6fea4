"""Who answers for an agent, as the API, the CSV import and manifests give it: a sponsor
and successors named by username or e-mail, checked before anything is written.

``plan`` reads the values sent and says what they would change (or why they cannot be
used); ``apply`` makes the change through ``actions.set_ownership`` (audited), only when
something changes. A value left out (``None``) keeps what the agent has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest

from assessments import actions
from assessments.actions.ownership import MAX_SUCCESSORS, is_person, sponsor_problem, successors
from assessments.models import Agent
from assessments.workflow import reviews

User = get_user_model()


def find_person(value: str) -> Any:
    """The active account with this username, else the first with this e-mail."""
    value = (value or "").strip()
    if not value:
        return None
    people = User.objects.filter(is_active=True)
    return (
        people.filter(username=value).first()
        or people.filter(email__iexact=value).order_by("pk").first()
    )


def handle(user: Any) -> str:
    """How a person is written in an export: their e-mail, else their username."""
    return user.email or user.get_username()


@dataclass
class Plan:
    sponsor: Any = None  # the person named, or None: as the agent has it
    successors: list[Any] | None = None  # in order; None: as the agent has them
    errors: list[tuple[str, str]] = field(default_factory=list)  # (key, message)
    changes: list[str] = field(default_factory=list)

    @property
    def changing(self) -> bool:
        return bool(self.changes)


def plan(
    agent: Agent | None,
    *,
    sponsor: str | None,
    successors_: list[str] | None,
    owner: Any = None,
) -> Plan:
    """What naming ``sponsor`` and ``successors_`` (usernames or e-mails) would change
    on ``agent`` (None: an agent about to be created, whose owner is ``owner``)."""
    out = Plan()
    if sponsor is not None and sponsor.strip():
        person = find_person(sponsor)
        current = agent.sponsor_or_owner if agent is not None else None
        if person is None:
            out.errors.append(
                ("sponsor", f"No active person has the username or e-mail “{sponsor}”.")
            )
        elif current is None or person.pk != current.pk:
            if problem := sponsor_problem(person):
                out.errors.append(("sponsor", problem))
            else:
                out.sponsor = person
                out.changes.append(
                    f"sponsor: {reviews.person(current) if current else '—'} → "
                    f"{reviews.person(person)}"
                )
    if successors_ is not None:
        chain: list[Any] = []
        for value in successors_:
            person = find_person(value)
            if person is None:
                out.errors.append(
                    ("successors", f"No active person has the username or e-mail “{value}”.")
                )
            elif not is_person(person):
                out.errors.append(("successors", f"“{value}” is a service account, not a person."))
            elif person.pk not in {p.pk for p in chain}:
                chain.append(person)
        if owner is not None:
            chain = [p for p in chain if p.pk != owner.pk]
        if len(chain) > MAX_SUCCESSORS:
            out.errors.append(("successors", f"An agent has at most {MAX_SUCCESSORS} successors."))
        before = successors(agent) if agent is not None else []
        if [p.pk for p in chain] != [p.pk for p in before]:
            out.successors = chain
            out.changes.append(
                "successors: "
                f"{', '.join(reviews.person(p) for p in before) or '—'} → "
                f"{', '.join(reviews.person(p) for p in chain) or '—'}"
            )
    if out.errors:
        out.changes = []
    return out


def apply(actor: Any, agent: Agent, planned: Plan, *, request: HttpRequest | None = None) -> Agent:
    """Name the planned sponsor and successors on ``agent`` (saved already)."""
    if not planned.changing:
        return agent
    agent = Agent.objects.select_related("owner", "sponsor").get(pk=agent.pk)
    chain = planned.successors if planned.successors is not None else successors(agent)
    return actions.set_ownership(
        actor,
        agent,
        owner=agent.owner,
        sponsor=planned.sponsor or agent.sponsor_or_owner,
        co_owners=chain,
        lock_version=agent.lock_version,
        request=request,
    )


def successor_handles(agent_ids: Any) -> dict[int, list[str]]:
    """Each agent's successors (by ``handle``), in order, in one query."""
    from assessments.models import AgentOwner

    out: dict[int, list[str]] = {}
    for agent_id, email, username in (
        AgentOwner.objects.filter(agent__in=agent_ids)
        .order_by("agent_id", "position")
        .values_list("agent_id", "person__email", "person__username")
    ):
        out.setdefault(agent_id, []).append(email or username)
    return out
