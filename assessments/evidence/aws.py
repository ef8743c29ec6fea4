"""AWS: what an IAM role or user is granted, evaluated as IAM evaluates it.

Input is ``aws iam get-account-authorization-details`` output, or policy documents
taken as attached to the principal. Explicit Deny wins over Allow (a Deny with a
condition may not apply, so it never removes a grant); ``NotAction`` and
``NotResource`` are honoured; action wildcards are expanded against the IAM action
list (:mod:`.aws_actions`); managed policies are read at their default version;
group policies apply to their members; ``${aws:username}``, ``${aws:userid}`` and
``${aws:PrincipalAccount}`` are resolved for the principal. Permissions boundaries
and SCPs only narrow a grant and are not read, so a proposed ``true`` can overstate
(the assessor accepts or rejects it); a proposed ``false`` needs the complete grant.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .aws_actions import ACCESS_BY_LEVEL, ActionCatalog, catalog
from .common import (
    Evidence,
    EvidenceError,
    EvidenceFile,
    PrincipalNotFound,
    Proposals,
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


@dataclass(slots=True)
class Statement:
    effect: str
    actions: ActionMatcher | None  # Action; None when NotAction is used
    not_actions: ActionMatcher | None
    action_text: tuple[str, ...]
    resources: tuple[re.Pattern[str], ...]
    not_resources: tuple[re.Pattern[str], ...]
    resource_text: tuple[str, ...]
    uses_not_resource: bool
    conditional: bool
    file: str
    where: str
    policy: str

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


@dataclass(slots=True)
class Grant:
    statements: list[Statement] = field(default_factory=list)
    complete: bool = True
    read: list[Evidence] = field(default_factory=list)  # what was read, for a "false"
    missing: list[str] = field(default_factory=list)
    attached_policies: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    _by_action: dict[str, list[Statement]] = field(default_factory=dict)

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
        return allowing


@dataclass(slots=True)
class Account:
    roles: dict[str, Entity] = field(default_factory=dict)
    users: dict[str, Entity] = field(default_factory=dict)
    groups: dict[str, tuple[dict[str, Any], str, str]] = field(default_factory=dict)
    policies: dict[str, tuple[dict[str, Any], str, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


class AwsAnalyser:
    def __init__(self, files: Sequence[EvidenceFile], principal: str | None):
        self.files = files
        if not principal:
            raise PrincipalNotFound(
                "", "aws", [f.name for f in files], "Give --principal: a role or user ARN."
            )
        match = ARN.fullmatch(principal)
        if not match:
            raise PrincipalNotFound(
                principal,
                "aws",
                [f.name for f in files],
                "An AWS principal is a role or user ARN, e.g. arn:aws:iam::123456789012:role/NAME.",
            )
        self.principal = principal
        self.account_id = match["account"]
        self.account = Account()
        self.loose: list[tuple[dict[str, Any], str, str, str]] = []  # doc, file, where, name
        for file in files:
            for position, document in enumerate(file.documents):
                self._read_document(file.name, document, position, len(file.documents))
        self._grants: dict[str, Grant] = {}
        self._trust: dict[str, list[Statement]] = {}

    @property
    def catalog(self) -> ActionCatalog:
        """Loaded on first use, so a refused file or principal costs no database load."""
        return catalog()

    # ------------------------------------------------------------------ reading

    def _read_document(self, file: str, doc: Any, position: int, count: int) -> None:
        prefix = f"[{position}]" if count > 1 else ""
        if isinstance(doc, dict) and any(k in doc for k in ACCOUNT_KEYS):
            self._read_account(file, doc, prefix)
            return
        docs = doc if isinstance(doc, list) else [doc]
        for index, item in enumerate(docs):
            where = f"{prefix}[{index}]" if isinstance(doc, list) else prefix
            policy = _policy_document(item)
            if policy is None:
                raise EvidenceError(
                    file,
                    "not an AWS account authorization-details file (UserDetailList, "
                    "GroupDetailList, RoleDetailList, Policies) or IAM policy document "
                    "(Version, Statement)",
                )
            name = item.get("PolicyName") if isinstance(item, dict) else None
            self.loose.append((policy, file, where, name or f"the policy in {file}"))

    def _read_account(self, file: str, doc: dict[str, Any], prefix: str) -> None:
        self.account.files.append(file)
        for key, kind, store in (
            ("RoleDetailList", "role", self.account.roles),
            ("UserDetailList", "user", self.account.users),
        ):
            for index, record in enumerate(_records(file, doc, key)):
                arn = record.get("Arn")
                if not isinstance(arn, str):
                    raise EvidenceError(file, f"{prefix}{key}[{index}] has no Arn")
                found = ARN.fullmatch(arn)
                store[arn] = Entity(
                    arn=arn,
                    kind=kind,
                    name=str(record.get(f"{kind.title()}Name") or (found and found["name"])),
                    account=found["account"] if found else self.account_id,
                    record=record,
                    file=file,
                    where=f"{prefix}{key}[{index}]",
                    unique_id=str(record.get("RoleId") or record.get("UserId") or ""),
                )
        for index, record in enumerate(_records(file, doc, "GroupDetailList")):
            name = record.get("GroupName")
            if isinstance(name, str):
                self.account.groups[name] = (record, file, f"{prefix}GroupDetailList[{index}]")
        for index, record in enumerate(_records(file, doc, "Policies")):
            arn = record.get("Arn")
            if isinstance(arn, str):
                self.account.policies[arn] = (record, file, f"{prefix}Policies[{index}]")

    def _statements(
        self, doc: Any, file: str, where: str, policy: str, entity: Entity
    ) -> list[Statement]:
        if isinstance(doc, str):
            try:
                doc = json.loads(urllib.parse.unquote(doc))
            except ValueError:
                raise EvidenceError(file, f"{where}: the policy document is not JSON") from None
        if not isinstance(doc, dict):
            raise EvidenceError(file, f"{where}: the policy document is not an object")
        raw = doc.get("Statement")
        single = isinstance(raw, dict)
        result = []
        for index, st in enumerate(as_list(raw)):
            here = _join(where, "Statement" if single else f"Statement[{index}]")
            if not isinstance(st, dict):
                raise EvidenceError(file, f"{here}: a statement must be an object")
            effect = st.get("Effect")
            if effect not in ("Allow", "Deny"):
                raise EvidenceError(file, f"{here}: Effect must be Allow or Deny")
            actions = [str(a) for a in as_list(st.get("Action"))]
            not_actions = [str(a) for a in as_list(st.get("NotAction"))]
            resources = [str(r) for r in as_list(st.get("Resource"))]
            not_resources = [str(r) for r in as_list(st.get("NotResource"))]
            if not actions and not not_actions:
                continue
            result.append(
                Statement(
                    effect=effect,
                    actions=_action_regex(actions) if actions else None,
                    not_actions=_action_regex(not_actions) if not actions else None,
                    action_text=tuple(actions or not_actions),
                    resources=tuple(self._resource_regex(r, entity) for r in resources),
                    not_resources=tuple(self._resource_regex(r, entity) for r in not_resources),
                    resource_text=tuple(resources if resources else not_resources) or ("*",),
                    uses_not_resource=not resources and bool(not_resources),
                    conditional=bool(st.get("Condition")),
                    file=file,
                    where=here,
                    policy=policy,
                )
            )
        return result

    def _resource_regex(self, pattern: str, entity: Entity) -> re.Pattern[str]:
        """A Resource glob with the principal's policy variables resolved."""
        if "${" not in pattern:
            return _plain_resource(pattern)
        parts = []
        for piece in re.split(r"(\$\{[^}]*\})", pattern):
            if not (piece.startswith("${") and piece.endswith("}")):
                parts.append(glob_regex(piece).pattern)
                continue
            name = piece[2:-1].split(",")[0].strip().lower()
            if name in ("*", "?", "$"):
                parts.append(re.escape(name))
            elif name == "aws:username" and entity.kind == "user":
                parts.append(re.escape(entity.name))
            elif name == "aws:userid" and entity.kind == "user" and entity.unique_id:
                parts.append(re.escape(entity.unique_id))
            elif name == "aws:userid" and entity.kind == "role" and entity.unique_id:
                # ROLEID:session-name, and the caller chooses the session name.
                parts.append(re.escape(entity.unique_id) + ":.*")
            elif name == "aws:principalaccount":
                parts.append(re.escape(entity.account))
            elif name == "aws:principaltype":
                parts.append("User" if entity.kind == "user" else "AssumedRole")
            else:
                parts.append("(?!)")  # absent from the request: the element cannot match
        return re.compile("".join(parts), re.DOTALL)

    # ------------------------------------------------------------------ grants

    def find_principal(self) -> Entity:
        entity = self.account.roles.get(self.principal) or self.account.users.get(self.principal)
        if entity is not None:
            return entity
        if self.account.files or not self.loose:
            raise PrincipalNotFound(
                self.principal,
                "aws",
                [f.name for f in self.files],
                "No role or user in the account files has that ARN.",
            )
        match = ARN.fullmatch(self.principal)
        return Entity(
            arn=self.principal,
            kind=match["type"] if match else "role",
            name=match["name"] if match else self.principal,
            account=self.account_id,
            record={},
            file=self.loose[0][1],
            where="",
        )

    def grant(self, entity: Entity, *, with_loose: bool = False) -> Grant:
        key = entity.arn + ("+loose" if with_loose else "")
        if key in self._grants:
            return self._grants[key]
        grant = Grant()
        record = entity.record
        if not record:
            grant.complete = False
        if entity.record:
            inline_key = "RolePolicyList" if entity.kind == "role" else "UserPolicyList"
            self._inline(grant, entity, record, inline_key, entity.where, entity.file)
            self._managed(grant, entity, record, entity.where, entity.file)
            if entity.kind == "user":
                for group_name in as_list(record.get("GroupList")):
                    grant.groups.append(str(group_name))
                    found = self.account.groups.get(str(group_name))
                    if found is None:
                        grant.complete = False
                        grant.missing.append(f"group {group_name}")
                        continue
                    group, file, where = found
                    self._inline(grant, entity, group, "GroupPolicyList", where, file)
                    self._managed(grant, entity, group, where, file)
        if with_loose:
            for doc, file, where, name in self.loose:
                grant.statements.extend(self._statements(doc, file, where, name, entity))
                grant.read.append(Evidence(file, where or "(document)", f"read {name}"))
        self._grants[key] = grant
        return grant

    def _inline(
        self, grant: Grant, entity: Entity, record: dict, key: str, where: str, file: str
    ) -> None:
        for index, item in enumerate(as_list(record.get(key))):
            if not isinstance(item, dict):
                continue
            name = f"inline policy {item.get('PolicyName', index)}"
            here = f"{where}.{key}[{index}]"
            grant.statements.extend(
                self._statements(item.get("PolicyDocument"), file, here, name, entity)
            )
            grant.read.append(Evidence(file, here, f"read {name}"))

    def _managed(self, grant: Grant, entity: Entity, record: dict, where: str, file: str) -> None:
        for item in as_list(record.get("AttachedManagedPolicies")):
            if not isinstance(item, dict) or not isinstance(item.get("PolicyArn"), str):
                continue
            arn = item["PolicyArn"]
            grant.attached_policies.append(arn)
            found = self.account.policies.get(arn)
            if found is None:
                grant.complete = False
                grant.missing.append(f"managed policy {arn}")
                continue
            policy, pfile, pwhere = found
            versions = as_list(policy.get("PolicyVersionList"))
            default_id = policy.get("DefaultVersionId")
            chosen = None
            for index, version in enumerate(versions):
                if isinstance(version, dict) and (
                    version.get("IsDefaultVersion") is True
                    or (default_id and version.get("VersionId") == default_id)
                ):
                    chosen = (index, version)
                    break
            if chosen is None:
                grant.complete = False
                grant.missing.append(f"the default version of {arn}")
                continue
            index, version = chosen
            here = f"{pwhere}.PolicyVersionList[{index}]"
            name = f"managed policy {policy.get('PolicyName', arn)} ({version.get('VersionId')})"
            grant.statements.extend(
                self._statements(version.get("Document"), pfile, here, name, entity)
            )
            grant.read.append(Evidence(pfile, here, f"read {name}, the default version"))

    def trust(self, role: Entity) -> list[Statement]:
        if role.arn not in self._trust:
            doc = role.record.get("AssumeRolePolicyDocument")
            statements: list[Statement] = []
            if doc is not None:
                if isinstance(doc, str):
                    try:
                        doc = json.loads(urllib.parse.unquote(doc))
                    except ValueError:
                        doc = None
                for index, st in enumerate(as_list((doc or {}).get("Statement"))):
                    if isinstance(st, dict):
                        statements.append(_trust_statement(st, role, index))
            self._trust[role.arn] = statements
        return self._trust[role.arn]

    def trusts(self, role: Entity, caller: Entity) -> Statement | None:
        """The trust statement that lets ``caller`` assume ``role``, if any."""
        allowed = None
        names = {caller.arn, f"arn:aws:iam::{caller.account}:root", caller.account, "*"}
        for st in self.trust(role):
            if not st.matches_action("sts:assumerole"):
                continue
            if not names & set(st.resource_text):
                continue
            if st.effect == "Deny" and not st.conditional:
                return None
            if st.effect == "Allow":
                allowed = allowed or st
        return allowed

    # ------------------------------------------------------------------ rules

    def direct_alters(self, entity: Entity, grant: Grant) -> tuple[str, list[Evidence]] | None:
        """The first rule by which ``entity`` can widen its own access, with evidence."""
        writes = ROLE_SELF_WRITES if entity.kind == "role" else USER_SELF_WRITES
        found = self._on(grant, writes, [entity.arn])
        if entity.kind == "user":
            groups = [self._group_arn(entity, name) for name in grant.groups]
            found += self._on(grant, GROUP_WRITES, groups)
            found += self._on(
                grant,
                ("iam:AddUserToGroup",),
                [self._group_arn(entity, g) for g in self.account.groups]
                + [self._group_arn(entity, ANY)],
            )
        if found:
            return "aws.self_policy_write", found
        found = self._on(grant, POLICY_VERSION_WRITES, grant.attached_policies)
        if found:
            return "aws.policy_version_write", found
        users = [u.arn for u in self.account.users.values()]
        users.append(f"arn:aws:iam::{entity.account}:user/{ANY}")
        if entity.kind == "user":
            users.insert(0, entity.arn)
        found = self._on(grant, CREDENTIAL_WRITES, users)
        if found:
            return "aws.credential_creation", found
        passrole = grant.allows_somewhere("iam:passrole")
        if passrole:
            for action in COMPUTE_CREATE:
                compute = grant.allows_somewhere(action.lower())
                if compute:
                    return "aws.passrole_compute", [
                        _says(passrole[0], "iam:PassRole", None),
                        _says(compute[0], action, None),
                    ]
        return None

    def _on(self, grant: Grant, actions: Iterable[str], targets: Sequence[str]) -> list[Evidence]:
        found = []
        for action in actions:
            if not any(st.effect == "Allow" for st in grant.for_action(action.lower())):
                continue
            for target in targets:
                allowing = grant.allows(action.lower(), target)
                if allowing:
                    found.append(_says(allowing[0], action, target))
                    break
        return found

    def _group_arn(self, entity: Entity, name: str) -> str:
        found = self.account.groups.get(name)
        if found and isinstance(found[0].get("Arn"), str):
            return str(found[0]["Arn"])
        return f"arn:aws:iam::{entity.account}:group/{name}"

    def assumable(self, entity: Entity, grant: Grant) -> list[tuple[Entity, Evidence]]:
        """Roles in the files that ``entity`` may assume (identity policy and trust)."""
        if not grant.allows_somewhere("sts:assumerole"):
            return []
        result = []
        for role in self.account.roles.values():
            if role.arn == entity.arn:
                continue
            allowing = grant.allows("sts:assumerole", role.arn)
            if allowing and self.trusts(role, entity) is not None:
                result.append((role, _says(allowing[0], ASSUME, role.arn)))
        return result

    def alters(self, principal: Entity, grant: Grant) -> tuple[str, list[Evidence]] | None:
        direct = self.direct_alters(principal, grant)
        if direct:
            return direct
        # Breadth first through the roles it can become, shortest chain first.
        seen = {principal.arn}
        queue: deque[tuple[Entity, list[Evidence]]] = deque()
        for role, step in self.assumable(principal, grant):
            seen.add(role.arn)
            queue.append((role, [step]))
        while queue:
            role, path = queue.popleft()
            role_grant = self.grant(role)
            found = self.direct_alters(role, role_grant)
            if found:
                return "aws.assume_role_chain", [*path, *found[1]]
            for nxt, step in self.assumable(role, role_grant):
                if nxt.arn not in seen:
                    seen.add(nxt.arn)
                    queue.append((nxt, [*path, step]))
        return None

    def systems(self, grant: Grant) -> tuple[list[dict[str, str]], list[Evidence]]:
        rank = {"read": 1, "write": 2, "admin": 3}
        best: dict[str, tuple[str, str, Statement]] = {}
        denied_everywhere = [
            st
            for st in grant.statements
            if st.effect == "Deny" and not st.conditional and st.covers_all_resources()
        ]
        for st in grant.statements:
            if st.effect != "Allow":
                continue
            for action in self._actions_of(st):
                lowered = action.lower()
                if any(d.matches_action(lowered) for d in denied_everywhere):
                    continue
                level = self.catalog.level(action)
                access = ACCESS_BY_LEVEL.get(level or "")
                if access is None:
                    continue
                service = action.split(":", 1)[0]
                current = best.get(service)
                if current is None or rank[access] > rank[current[0]]:
                    best[service] = (access, action, st)
        systems = [{"name": s, "access": best[s][0]} for s in sorted(best)]
        evidence = [
            _says(best[s][2], best[s][1], None, level=self.catalog.level(best[s][1]))
            for s in sorted(best)
        ]
        return systems, evidence

    def _actions_of(self, st: Statement) -> tuple[str, ...]:
        if st.actions is not None:
            return tuple(a for pattern in st.action_text for a in self.catalog.expand(pattern))
        return tuple(a for a in self.catalog.expand("*") if st.matches_action(a.lower()))


def _join(where: str, part: str) -> str:
    return f"{where}.{part}" if where else part


def _trust_statement(st: dict[str, Any], role: Entity, index: int) -> Statement:
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
        where=f"{role.where}.AssumeRolePolicyDocument.Statement[{index}]",
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
    lowered = [p.lower() for p in patterns]
    return ActionMatcher(
        exact=frozenset(p for p in lowered if "*" not in p and "?" not in p),
        wildcards=tuple(_wildcard(p) for p in lowered if "*" in p or "?" in p),
    )


@functools.lru_cache(maxsize=65536)
def _plain_resource(pattern: str) -> re.Pattern[str]:
    return glob_regex(pattern)


def _says(st: Statement, action: str, target: str | None, level: str | None = None) -> Evidence:
    on = f" on {target.replace(ANY, '*')}" if target else ""
    level_text = f" ({level})" if level else ""
    return Evidence(st.file, st.where, f"{action}{level_text}{on}: {st.describe()}")


def analyse(files: Sequence[EvidenceFile], principal: str | None) -> tuple[Any, ...]:
    analyser = AwsAnalyser(files, principal)
    entity = analyser.find_principal()
    grant = analyser.grant(entity, with_loose=True)
    out = Proposals()

    altered = analyser.alters(entity, grant)
    if altered:
        out.add("alters_own_access", True, altered[0], altered[1])
    elif grant.complete:
        out.add("alters_own_access", False, "aws.no_self_modification", _read_all(grant))

    several = _assume_several(grant)
    if several:
        out.add("decides_own_scopes", True, "aws.assume_several_roles", several)
    session = grant.allows_somewhere("sts:getfederationtoken")
    if session:
        out.add(
            "decides_own_scopes",
            True,
            "aws.session_policies",
            [_says(session[0], "sts:GetFederationToken", None)],
        )
    secrets = _broad_secret_reads(grant)
    if secrets:
        out.add("decides_own_scopes", True, "aws.secret_read_broad", secrets)
    if grant.complete:
        out.add("decides_own_scopes", False, "aws.fixed_scopes", _read_all(grant))

    if entity.record:
        here = Evidence(entity.file, entity.where, f"{entity.kind} {entity.arn}")
        if entity.kind == "user":
            out.add("credential_model", "static_secret", "aws.iam_user_keys", [here])
        else:
            out.add("credential_model", "workload_identity", "aws.assumed_role", [here])
            _shared_role(out, analyser, entity)

    systems, evidence = analyser.systems(grant)
    if systems:
        out.add("systems", systems, "aws.access_levels", evidence)
    return out.result()


def _read_all(grant: Grant) -> list[Evidence]:
    return grant.read


def _assume_several(grant: Grant) -> list[Evidence]:
    targets: dict[str, Statement] = {}
    for st in grant.allows_somewhere("sts:assumerole"):
        if st.uses_not_resource:
            return [_says(st, ASSUME, "every role but the ones listed")]
        for resource in st.resource_text:
            if "*" in resource or "?" in resource or "${" in resource:
                return [_says(st, ASSUME, resource)]
            targets.setdefault(resource, st)
    reachable = {r: st for r, st in targets.items() if grant.allows("sts:assumerole", r)}
    if len(reachable) >= 2:
        return [_says(st, ASSUME, r) for r, st in reachable.items()]
    return []


def _broad_secret_reads(grant: Grant) -> list[Evidence]:
    for action in SECRET_READS:
        for st in grant.allows_somewhere(action.lower()):
            for resource in st.resource_text:
                if st.uses_not_resource or "*" in resource:
                    return [_says(st, action, resource)]
    return []


def _shared_role(out: Proposals, analyser: AwsAnalyser, role: Entity) -> None:
    profiles = [p for p in as_list(role.record.get("InstanceProfileList")) if isinstance(p, dict)]
    trusted = sorted(
        {name for st in analyser.trust(role) if st.effect == "Allow" for name in st.resource_text}
    )
    here = Evidence(
        role.file,
        role.where,
        f"{len(profiles)} instance profile{'s' if len(profiles) != 1 else ''} "
        f"({', '.join(str(p.get('InstanceProfileName')) for p in profiles) or 'none'}); "
        f"trusted by {', '.join(trusted) or 'nobody'}",
    )
    if len(profiles) >= 2 or len(trusted) >= 2:
        out.add("shared_platform_role", True, "aws.role_shared", [here])
    else:
        out.add("shared_platform_role", False, "aws.role_single_use", [here])
