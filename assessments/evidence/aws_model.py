"""AWS IAM as the analyser models it: statements, entities, grants, limits and the account,
with the helpers that match actions and resources, read conditions and quote evidence."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .common import (
    Evidence,
    EvidenceError,
    as_list,
    glob_regex,
)

ACCOUNT_KEYS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
ARN = re.compile(
    r"arn:aws[-a-z]*:iam::(?P<account>\d{12}):(?P<type>role|user)/(?:.*/)?(?P<name>[^/]+)"
)
ANY = "\u2063any"  # a name no real IAM entity has: matched only by wildcards covering all

ROLE_SELF_WRITES = ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy")
USER_SELF_WRITES = ("iam:PutUserPolicy", "iam:AttachUserPolicy")
GROUP_WRITES = ("iam:PutGroupPolicy", "iam:AttachGroupPolicy")
POLICY_VERSION_WRITES = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
CREDENTIAL_WRITES = ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile")
# New long-lived credentials that only ever belong to the caller's own user.
SELF_CREDENTIAL_WRITES = ("iam:CreateServiceSpecificCredential", "iam:UploadSSHPublicKey")
# What removes a limit: (inline Deny, attached Deny, boundary) removal actions by kind.
REMOVALS = {
    "role": ("iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRolePermissionsBoundary"),
    "user": ("iam:DeleteUserPolicy", "iam:DetachUserPolicy", "iam:DeleteUserPermissionsBoundary"),
}
REPLACE_BOUNDARY = {
    "role": "iam:PutRolePermissionsBoundary",
    "user": "iam:PutUserPermissionsBoundary",
}
# Changing running compute runs code as its role: action -> the service that role trusts.
COMPUTE_TAKEOVER = (
    ("lambda:UpdateFunctionCode", "lambda.amazonaws.com", "the function's code"),
    ("lambda:UpdateFunctionConfiguration", "lambda.amazonaws.com", "the function's configuration"),
    ("glue:UpdateDevEndpoint", "glue.amazonaws.com", "the development endpoint's keys"),
    ("codebuild:StartBuild", "codebuild.amazonaws.com", "a build with its own buildspec"),
    ("codebuild:StartBuildBatch", "codebuild.amazonaws.com", "a build with its own buildspec"),
    ("codebuild:UpdateProject", "codebuild.amazonaws.com", "the build project"),
)
# Running commands on an instance runs them as the instance profile's role.
INSTANCE_COMMANDS = (
    "ssm:SendCommand",
    "ssm:StartSession",
    "ec2-instance-connect:SendSSHPublicKey",
    "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
)
# With iam:PassRole, these put a role on an instance that already runs.
PROFILE_SWAPS = (
    "ec2:AssociateIamInstanceProfile",
    "ec2:ReplaceIamInstanceProfileAssociation",
    "iam:AddRoleToInstanceProfile",
)
DATE_KEYS = frozenset({"aws:tokenissuetime", "aws:currenttime"})
EPOCH_KEYS = frozenset({"aws:epochtime"})
CONDITION_WORDS = {
    "StringEquals": "is",
    "StringEqualsIgnoreCase": "is",
    "StringLike": "matches",
    "StringNotEquals": "is not",
    "StringNotLike": "does not match",
    "ArnEquals": "is",
    "ArnLike": "matches",
    "ArnNotEquals": "is not",
    "ArnNotLike": "does not match",
    "IpAddress": "is in",
    "NotIpAddress": "is not in",
    "Bool": "is",
    "Null": "is absent:",
    "NumericEquals": "is",
    "NumericLessThan": "is below",
    "NumericGreaterThan": "is above",
    "DateLessThan": "is before",
    "DateGreaterThan": "is after",
}
# Actions that start compute which runs with a role passed to it.
COMPUTE_CREATE = (
    "lambda:CreateFunction",
    "lambda:UpdateFunctionConfiguration",
    "ec2:RunInstances",
    "ec2:AssociateIamInstanceProfile",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "glue:CreateDevEndpoint",
    "glue:CreateJob",
    "ecs:RunTask",
    "ecs:RegisterTaskDefinition",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateTrainingJob",
    "codebuild:CreateProject",
    "datapipeline:CreatePipeline",
)
SECRET_READS = (
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
)
ASSUME = "sts:AssumeRole"
# The account of roles read from a template when the principal is not an ARN.
TEMPLATE_ACCOUNT = "000000000000"
STEP = re.compile(r"^Step \d+: ")


@dataclass(slots=True)
class Statement:
    effect: str
    actions: ActionMatcher | None  # Action; None when NotAction is used
    not_actions: ActionMatcher | None
    action_text: tuple[str, ...]
    resources: tuple[re.Pattern[str] | Exact, ...]
    not_resources: tuple[re.Pattern[str] | Exact, ...]
    resource_text: tuple[str, ...]
    uses_not_resource: bool
    conditional: bool
    file: str
    where: str
    policy: str
    condition_text: str = ""

    def matches_action(self, action: str) -> bool:
        if self.actions is not None:
            return self.actions.matches(action)
        return self.not_actions is not None and not self.not_actions.matches(action)

    def matches_resource(self, resource: str) -> bool:
        if self.uses_not_resource:
            return not any(p.fullmatch(resource) for p in self.not_resources)
        return any(p.fullmatch(resource) for p in self.resources)

    def covers_all_resources(self) -> bool:
        return not self.uses_not_resource and "*" in self.resource_text

    def describe(self) -> str:
        word = "Action" if self.actions is not None else "NotAction"
        where = "NotResource" if self.uses_not_resource else "Resource"
        if self.condition_text:
            cond = f" (only when {self.condition_text})"
        else:
            cond = " (with a condition)" if self.conditional else ""
        return (
            f"{self.effect} {word} {', '.join(self.action_text)} {where} "
            f"{', '.join(self.resource_text)} in {self.policy}{cond}"
        )


@dataclass(slots=True)
class Entity:
    """A role or user from an account file, or the principal of bare policy documents."""

    arn: str
    kind: str  # role | user
    name: str
    account: str
    record: dict[str, Any]
    file: str
    where: str
    unique_id: str = ""
    names: tuple[str, ...] = ()  # a template's logical name or address, and the name


@dataclass(slots=True)
class Grant:
    statements: list[Statement] = field(default_factory=list)
    complete: bool = True
    read: list[Evidence] = field(default_factory=list)  # what was read, for a "false"
    missing: list[str] = field(default_factory=list)
    attached_policies: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    # The permissions boundary's statements (None: no boundary, or not in the files).
    boundary: list[Statement] | None = None
    boundary_name: str = ""
    # Policies that carry a Deny: (removal kind, name, where it is attached, statements).
    limits: list[Limit] = field(default_factory=list)

    _by_action: dict[str, list[Statement]] = field(default_factory=dict)

    def _boundary_allows(self, action: str, resource: str | None) -> bool:
        if self.boundary is None:
            return True
        allowed = False
        for st in self.boundary:
            if not st.matches_action(action):
                continue
            if resource is not None and not st.matches_resource(resource):
                continue
            if st.effect == "Deny":
                if not st.conditional and (resource is not None or st.covers_all_resources()):
                    return False
            else:
                allowed = True
        return allowed

    def for_action(self, action: str) -> list[Statement]:
        """The statements (Allow and Deny) that name ``action`` (lower case)."""
        found = self._by_action.get(action)
        if found is None:
            found = [st for st in self.statements if st.matches_action(action)]
            self._by_action[action] = found
        return found

    def allows(self, action: str, resource: str) -> list[Statement]:
        """Allow statements for ``action`` on ``resource``, empty when a Deny wins."""
        allowing = []
        for st in self.for_action(action):
            if not st.matches_resource(resource):
                continue
            if st.effect == "Deny":
                if not st.conditional:
                    return []
            else:
                allowing.append(st)
        if allowing and not self._boundary_allows(action, resource):
            return []
        return allowing

    def allows_somewhere(self, action: str) -> list[Statement]:
        """Allow statements for ``action`` on some resource, unless denied on all of them."""
        allowing = []
        for st in self.for_action(action):
            if st.effect == "Deny":
                if not st.conditional and st.covers_all_resources():
                    return []
            else:
                allowing.append(st)
        if allowing and not self._boundary_allows(action, None):
            return []
        return allowing

    def without(self, limit: Limit) -> Grant:
        """The grant once ``limit`` is removed (its statements, or the boundary)."""
        removed = {id(st) for st in limit.statements}
        return Grant(
            statements=[st for st in self.statements if id(st) not in removed],
            complete=self.complete,
            read=self.read,
            missing=self.missing,
            attached_policies=[a for a in self.attached_policies if a != limit.arn],
            groups=self.groups,
            boundary=None if limit.kind == "boundary" else self.boundary,
            boundary_name="" if limit.kind == "boundary" else self.boundary_name,
            limits=[x for x in self.limits if x is not limit],
        )


@dataclass(slots=True, eq=False)
class Limit:
    """A policy that carries a Deny for the principal, or its permissions boundary."""

    kind: str  # inline | managed | boundary
    name: str
    arn: str  # the managed policy's or boundary's ARN; "" for inline
    statements: list[Statement]
    file: str
    where: str


@dataclass(slots=True)
class Account:
    roles: dict[str, Entity] = field(default_factory=dict)
    users: dict[str, Entity] = field(default_factory=dict)
    groups: dict[str, tuple[dict[str, Any], str, str]] = field(default_factory=dict)
    policies: dict[str, tuple[dict[str, Any], str, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _join(where: str, part: str) -> str:
    return f"{where}.{part}" if where else part


def _trust_statement(st: dict[str, Any], role: Entity, index: int) -> Statement:
    base = str(role.record.get("__trust_where__") or f"{role.where}.AssumeRolePolicyDocument")
    principal = st.get("Principal")
    names: list[str] = []
    if principal == "*":
        names = ["*"]
    elif isinstance(principal, dict):
        for value in principal.values():
            names.extend(str(v) for v in as_list(value))
    actions = [str(a) for a in as_list(st.get("Action"))] or ["*"]
    return Statement(
        effect=str(st.get("Effect")),
        actions=_action_regex(actions),
        not_actions=None,
        action_text=tuple(actions),
        resources=(),
        not_resources=(),
        resource_text=tuple(names),  # the trusted principals
        uses_not_resource=False,
        conditional=bool(st.get("Condition")),
        file=role.file,
        where=f"{base}.Statement[{index}]",
        policy="the trust policy",
    )


def _records(file: str, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise EvidenceError(file, f"{key} must be a list")
    return [v for v in value if isinstance(v, dict)]


def _policy_document(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    if "Statement" in item:
        return item
    if isinstance(item.get("PolicyDocument"), dict | str):  # get-role-policy output
        return item["PolicyDocument"]
    version = item.get("PolicyVersion")  # get-policy-version output
    if isinstance(version, dict) and "Document" in version:
        return version["Document"]
    return None


@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """Action patterns: exact names by set lookup, wildcards by (shared, cached) regex."""

    exact: frozenset[str]
    wildcards: tuple[re.Pattern[str], ...]

    def matches(self, action: str) -> bool:
        """``action`` is lower case."""
        return action in self.exact or any(w.fullmatch(action) for w in self.wildcards)


@functools.lru_cache(maxsize=8192)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return glob_regex(pattern)


def _action_regex(patterns: Sequence[str]) -> ActionMatcher:
    return _matcher(tuple(patterns))


@functools.lru_cache(maxsize=65536)
def _matcher(patterns: tuple[str, ...]) -> ActionMatcher:
    """Shared (the matcher is frozen): an account file repeats the same action lists."""
    lowered = [p.lower() for p in patterns]
    return ActionMatcher(
        exact=frozenset(p for p in lowered if "*" not in p and "?" not in p),
        wildcards=tuple(_wildcard(p) for p in lowered if "*" in p or "?" in p),
    )


class Exact:
    """A Resource without wildcards, compared as a string: an account file names
    thousands of distinct ARNs, and compiling a regex for each took most of its reading
    (``bench/discovery.py``)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def fullmatch(self, value: str) -> bool:
        return value == self.text


@functools.lru_cache(maxsize=65536)
def _plain_resource(pattern: str) -> re.Pattern[str] | Exact:
    if "*" not in pattern and "?" not in pattern:
        return Exact(pattern)
    return glob_regex(pattern)


def _named(grant: Grant, action: str, entities: dict[str, Entity]) -> Iterable[Entity]:
    """The entities (by ARN, in their order) that an Allow of ``action`` may name: every
    one when a statement has a wildcard or NotResource, else only those its Resources
    name, looked up rather than each tested (200 agents x 10,000 roles). The caller
    still asks ``grant.allows`` of each, for Deny and boundaries."""
    names: set[str] = set()
    for st in grant.for_action(action):
        if st.effect != "Allow":
            continue
        if st.uses_not_resource or any(p.__class__ is not Exact for p in st.resources):
            return entities.values()
        names.update(p.text for p in st.resources)  # type: ignore[union-attr]
    if len(names) * 4 > len(entities):
        return [e for arn, e in entities.items() if arn in names]
    order = {arn: i for i, arn in enumerate(entities)} if names else {}
    return sorted((entities[n] for n in names if n in entities), key=lambda e: order[e.arn])


def _says(
    st: Statement,
    action: str,
    target: str | None,
    level: str | None = None,
    *,
    who: Entity | None = None,
) -> Evidence:
    on = f" on {target.replace(ANY, '*')}" if target else ""
    level_text = f" ({level})" if level else ""
    subject = f"{who.name} may call " if who is not None else ""
    return Evidence(st.file, st.where, f"{subject}{action}{level_text}{on}: {st.describe()}")


def _step(number: int, evidence: Evidence) -> Evidence:
    """One step of a path, numbered so that a reviewer can follow it in order."""
    return Evidence(evidence.file, evidence.where, f"Step {number}: {STEP.sub('', evidence.says)}")


def _plain(evidence: Evidence, prefix: str) -> Evidence:
    return Evidence(evidence.file, evidence.where, prefix + STEP.sub("", evidence.says))


def _trust_says(st: Statement, caller: Entity, role: Entity) -> Evidence:
    how = "names it by ARN" if caller.arn in st.resource_text else "trusts it"
    return Evidence(
        st.file,
        st.where,
        f"{caller.name} may assume role {role.name}: its trust policy {how}"
        + (f" (only when {st.condition_text})" if st.condition_text else ""),
    )


def _short_actions(st: Statement) -> str:
    shown = ", ".join(st.action_text[:4])
    more = f" and {len(st.action_text) - 4} more" if len(st.action_text) > 4 else ""
    word = "" if st.actions is not None else "everything but "
    return f"{word}{shown}{more}"


def _profiles(role: Entity) -> str:
    return ", ".join(
        str(p.get("InstanceProfileName"))
        for p in as_list(role.record.get("InstanceProfileList"))
        if isinstance(p, dict)
    )


def _condition_text(condition: Any) -> str:
    """A Condition as a reviewer reads it: "aws:SourceIp is in 10.0.0.0/8"."""
    if not isinstance(condition, dict):
        return str(condition)
    parts = []
    for operator, tests in condition.items():
        base = str(operator).removesuffix("IfExists")
        for prefix in ("ForAnyValue:", "ForAllValues:"):
            base = base.removeprefix(prefix)
        word = CONDITION_WORDS.get(base, base)
        if not isinstance(tests, dict):
            parts.append(f"{operator} {tests}")
            continue
        for key, values in tests.items():
            shown = ", ".join(str(v) for v in as_list(values))
            parts.append(f"{key} {word} {shown}")
    return " and ".join(parts)


def _never_holds(condition: Any, now: dt.datetime) -> bool:
    """An Allow's condition that no request can meet any more: an upper time bound
    (aws:CurrentTime, aws:TokenIssueTime, aws:EpochTime) in the past."""
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        if not isinstance(tests, dict) or str(operator).endswith("IfExists"):
            continue
        for key, values in tests.items():
            key = str(key).lower()
            if (
                key in DATE_KEYS
                and operator in ("DateLessThan", "DateLessThanEquals", "DateEquals")
                or key in EPOCH_KEYS
                and operator
                in (
                    "NumericLessThan",
                    "NumericLessThanEquals",
                    "NumericEquals",
                    "DateLessThan",
                    "DateLessThanEquals",
                )
            ):
                limits = [_instant(v) for v in as_list(values)]
            else:
                continue
            if limits and all(limit is not None and limit < now for limit in limits):
                return True
    return False


def _instant(value: Any) -> dt.datetime | None:
    text = str(value).strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text), dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
