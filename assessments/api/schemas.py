"""Typed shapes of what the API reads and returns (pydantic, through django-ninja)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import ValidationInfo, model_validator
from pydantic.functional_validators import ModelWrapValidatorHandler
from pydantic_core import PydanticCustomError

from assessments.models import Agent, ApiToken, Assessment, AuditEvent


class Body(Schema):
    """What a request sends: a JSON object, and every nested object an object too. A
    list, string, number or null where an object is expected is a 422, never read as
    an object of defaults (django-ninja's ``Schema`` reads any value by its attributes:
    ``[null, null]`` was a board pack of everything)."""

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(
        cls, values: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo
    ) -> Any:
        if values is None or isinstance(values, list | tuple | str | bytes | int | float):
            raise PydanticCustomError("model_type", "Input should be a JSON object")
        if isinstance(values, dict):
            return handler(values)
        return handler(DjangoGetter(values, cls, info.context))


AccessLevel = Literal["read", "write", "admin"]
LinkKind = Literal["orchestrates", "orchestrated_by", "peer"]
EnvironmentName = Literal["development", "test", "staging", "production"]
CredentialName = Literal[
    "", "static_secret", "vaulted_rotated", "workload_identity", "per_task_tokens", "user_delegated"
]


class Page(Schema):
    count: int
    page: int
    pages: int


# --------------------------------------------------------------------------- agents


class SystemIO(Body):
    name: str = Field(min_length=1, max_length=120)
    access: AccessLevel = "read"


class LinkIO(Body):
    kind: LinkKind
    other: str = Field(min_length=1, max_length=100, description="The other agent's slug.")


class AgentOut(Schema):
    slug: str
    name: str
    purpose: str
    owner: str = Field(description="The owner's username: runs the agent day to day.")
    sponsor: str = Field(
        description="The sponsor's username: the accountable person who vouches for the "
        "agent (never a service account)."
    )
    successors: list[str] = Field(
        description="Further owners' usernames, in the order they take over when the owner "
        "or sponsor leaves."
    )
    single_owner: bool = Field(description="True when the agent has no successor.")
    orphaned_at: dt.datetime | None = Field(
        description="Set when its owner or sponsor left with no successor to take over."
    )
    last_activity_on: dt.date | None
    last_activity_source: str
    team: str = Field(description="The team's slug.")
    environments: list[str]
    platform: str
    credential_model: str
    status: str
    classification: str | None
    tier: int | None
    next_review_on: dt.date | None
    lock_version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    retired_at: dt.datetime | None
    systems: list[SystemIO]

    @staticmethod
    def of(agent: Agent) -> dict[str, Any]:
        return {
            "slug": agent.slug,
            "name": agent.name,
            "purpose": agent.purpose,
            "owner": agent.owner.get_username(),
            "sponsor": agent.sponsor_or_owner.get_username(),
            "successors": [o.person.get_username() for o in agent.co_owners.all()],
            "single_owner": not agent.co_owners.all(),
            "orphaned_at": agent.orphaned_at,
            "last_activity_on": agent.last_activity_on,
            "last_activity_source": agent.last_activity_source,
            "team": agent.team.slug,
            "environments": list(agent.environments or []),
            "platform": agent.platform,
            "credential_model": agent.credential_model,
            "status": agent.status,
            "classification": agent.current_classification or None,
            "tier": agent.current_tier,
            "next_review_on": agent.next_review_on,
            "lock_version": agent.lock_version,
            "created_at": agent.created_at,
            "updated_at": agent.updated_at,
            "retired_at": agent.retired_at,
            "systems": [{"name": s.name, "access": s.access} for s in agent.systems.all()],
        }


class AgentDetail(AgentOut):
    links: list[LinkIO]


class AgentPage(Page):
    results: list[AgentOut]


class AgentIn(Body):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field("", max_length=100, description="Made from the name when empty.")
    purpose: str = Field(min_length=1, max_length=5000)
    owner: str = Field(min_length=1, max_length=150, description="A person's username.")
    sponsor: str = Field(
        "",
        max_length=254,
        description="The accountable person's username or e-mail: an active person with an "
        "e-mail address, not a service account. Empty: the owner.",
    )
    successors: list[str] = Field(
        default=[],
        max_length=3,
        description="Further owners (usernames or e-mails), in the order they take over.",
    )
    team: str = Field(min_length=1, max_length=120, description="A team's slug.")
    environments: list[EnvironmentName] = []
    platform: str = Field("", max_length=120)
    credential_model: CredentialName = ""
    systems: list[SystemIO] = Field(default=[], max_length=200)
    links: list[LinkIO] = Field(default=[], max_length=200)


class AgentUpdate(Body):
    """Fields left out keep their value; ``systems`` or ``links`` given replace the lists."""

    lock_version: int = Field(
        ge=0, le=2**31, description="The lock_version you read; a stale one is refused (409)."
    )
    name: str | None = Field(None, min_length=1, max_length=200)
    slug: str | None = Field(None, min_length=1, max_length=100)
    purpose: str | None = Field(None, min_length=1, max_length=5000)
    owner: str | None = Field(None, min_length=1, max_length=150)
    sponsor: str | None = Field(None, min_length=1, max_length=254)
    successors: list[str] | None = Field(
        None, max_length=3, description="Replaces the successors, in order; [] removes them."
    )
    team: str | None = Field(None, min_length=1, max_length=120)
    environments: list[EnvironmentName] | None = None
    platform: str | None = Field(None, max_length=120)
    credential_model: CredentialName | None = None
    systems: list[SystemIO] | None = Field(None, max_length=200)
    links: list[LinkIO] | None = Field(None, max_length=200)


# --------------------------------------------------------------------------- assessments


class AssessmentOut(Schema):
    agent: str
    number: int
    status: str
    questionnaire_version: str
    catalogue: str
    classification: str | None
    tier: int | None
    lock_version: int
    assessor: str
    submitted_by: str | None
    reviewer: str | None
    review_comment: str
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    next_review_on: dt.date | None

    @staticmethod
    def of(a: Assessment) -> dict[str, Any]:
        return {
            "agent": a.agent.slug,
            "number": a.number,
            "status": a.status,
            "questionnaire_version": a.questionnaire_version,
            "catalogue": a.catalogue.version,
            "classification": a.classification or None,
            "tier": a.tier,
            "lock_version": a.lock_version,
            "assessor": a.assessor.get_username(),
            "submitted_by": a.submitted_by.get_username() if a.submitted_by else None,
            "reviewer": a.reviewer.get_username() if a.reviewer else None,
            "review_comment": a.review_comment,
            "created_at": a.created_at,
            "updated_at": a.updated_at,
            "submitted_at": a.submitted_at,
            "decided_at": a.decided_at,
            "next_review_on": a.next_review_on,
        }


class AssessmentDetail(AssessmentOut):
    answers: dict[str, Any]
    result: dict[str, Any] = Field(
        description="The engine's result: frozen at submission; for a draft, evaluated now "
        "(provisional while answers are missing)."
    )


class AssessmentPage(Page):
    results: list[AssessmentOut]


class AnswersIn(Body):
    answers: dict[str, Any] = Field(
        description="Question id -> answer; null clears an answer.", max_length=100
    )
    lock_version: int = Field(ge=0, le=2**31, description="The draft's lock_version you read.")


class SubmitIn(Body):
    lock_version: int | None = Field(None, ge=0, le=2**31)


class ApproveIn(Body):
    lock_version: int = Field(
        ge=0,
        le=2**31,
        description="The assessment's lock_version you read: if it changed since (returned, "
        "edited and submitted again), nothing is decided and the answer is 409.",
    )
    exception_subjects: list[str] = Field(default=[], max_length=100)
    exception_reason: str = Field("", max_length=5000)
    exception_expires_on: dt.date | None = None


class ReturnIn(Body):
    lock_version: int = Field(
        ge=0,
        le=2**31,
        description="The assessment's lock_version you read: if it changed since (returned, "
        "edited and submitted again), nothing is decided and the answer is 409.",
    )
    comment: str = Field(min_length=1, max_length=5000)


# --------------------------------------------------------------------------- manifests


class ManifestResult(Schema):
    agent: str
    exists: bool = Field(description="Whether the inventory already had this agent.")
    changes: dict[str, Any] = Field(description="What the manifest changes in the inventory.")
    answers: dict[str, Any] = Field(description="Answers the draft gains, changes or loses.")
    decision: dict[str, Any] = Field(description="The engine's result for the manifest.")
    notes: list[str]
    applied: bool
    assessment: AssessmentOut | None = None


# --------------------------------------------------------------------------- queue


class QueueItem(Schema):
    id: int
    agent: str
    name: str
    classification: str | None
    tier: int | None
    team: str
    owner: str
    due_on: dt.date
    days_overdue: int
    state: str
    reasons: list[dict[str, Any]]
    assignee: str | None
    lock_version: int = Field(description="Send it back to assign (a stale one is a 409).")


class QueuePage(Page):
    counts: dict[str, int]
    results: list[QueueItem]


class AssignIn(Body):
    assignee: str | None = Field(
        None, max_length=150, description="A reviewer's username; null unassigns."
    )
    lock_version: int = Field(
        ge=0,
        le=2**31,
        description="The review's lock_version you read (from the queue); if it was "
        "assigned since, nothing changes and the answer is 409.",
    )


# --------------------------------------------------------------------------- reports


class BoardPackIn(Body):
    team: str = Field("", max_length=120)
    tier: Literal[1, 2, 3, 4] | None = None
    classification: Literal["", "agent_identity", "machine_identity", "unassessed"] = ""
    since: dt.date | None = None
    until: dt.date | None = None


class BoardSignoffIn(Body):
    """The board's sign-off of a finished pack, as the minutes state it."""

    chair: str = Field(min_length=1, max_length=200)
    attendees: str = Field("", max_length=4000, description="Names, separated by commas.")
    resolution: str = Field(min_length=1, max_length=2000)
    meeting_date: dt.date = Field(description="The day of the meeting; not in the future.")


class BoardSignoffOut(Schema):
    chair: str
    attendees: list[str]
    resolution: str
    meeting_date: dt.date
    recorded_by: str = Field(description="The username of who recorded it.")
    recorded_at: dt.datetime | None = None


class BoardPackOut(Schema):
    id: int
    state: str
    progress: int
    message: str
    params: dict[str, Any]
    created_at: dt.datetime
    finished_at: dt.datetime | None
    document_id: str | None
    download: str | None
    signed_off: BoardSignoffOut | None = Field(
        None, description="The board's sign-off, once recorded (the next pack's baseline)."
    )


# --------------------------------------------------------------------------- audit


class AuditEventOut(Schema):
    id: int
    created_at: dt.datetime
    actor_id: int | None
    actor_label: str
    verb: str
    object_type: str
    object_id: str
    object_repr: str
    agent_id: int | None
    changes: Any
    ip_address: str | None
    prev_hash: str
    key_id: str = Field(
        description="Which audit key made ``hash`` (HMAC-SHA256); empty for events from "
        "before audit keys (plain SHA-256)."
    )
    hash: str

    @staticmethod
    def of(e: AuditEvent) -> dict[str, Any]:
        from assessments.records.audit import export_record

        return export_record(e)


class AuditEventPage(Schema):
    events: list[AuditEventOut]
    next_since: int = Field(description="Pass as ?since= to read the events after these.")
    more: bool


# --------------------------------------------------------------------------- catalogue


class CatalogueOut(Schema):
    version: str
    is_current: bool
    frameworks: list[dict[str, Any]]
    controls: list[dict[str, Any]]
    reference_notes: list[dict[str, Any]]


class TokenInfo(Schema):
    name: str
    prefix: str
    scopes: list[str]
    expires_at: dt.datetime
    user: str

    @staticmethod
    def of(token: ApiToken) -> dict[str, Any]:
        return {
            "name": token.name,
            "prefix": token.prefix,
            "scopes": token.scopes,
            "expires_at": token.expires_at,
            "user": token.user.get_username(),
        }


class WithdrawIn(Body):
    lock_version: int = Field(
        ..., ge=0, le=2**31, description="The version you read: 409 if stale."
    )
    reason: str = Field("", max_length=2000)
